using Mds.Backend.Pipelines;
using Mds.Backend.Pipelines.Conditions;

namespace Mds.UnitTests.Pipelines;

public class ConditionParserTests
{
    [Theory]
    [InlineData("a.outputs.x > 0.5", "a.outputs.x > 0.5")]
    [InlineData("a.outputs.x==1", "a.outputs.x == 1")]
    [InlineData("a.outputs.x != -2", "a.outputs.x != -2")]
    [InlineData("a.outputs.x < 1e3", "a.outputs.x < 1000")]
    [InlineData("a.outputs.x <= 2.5E-1", "a.outputs.x <= 0.25")]
    [InlineData("a.outputs.x >= -0.5", "a.outputs.x >= -0.5")]
    [InlineData("0.5 < a.outputs.x", "a.outputs.x > 0.5")]
    [InlineData("1 >= a.outputs.x", "a.outputs.x <= 1")]
    [InlineData("a.outputs.x == b.outputs.y", "a.outputs.x == b.outputs.y")]
    [InlineData("a.outputs.label == 'cat'", "a.outputs.label == \"cat\"")]
    [InlineData("a.outputs.label == \"it's \\\"x\\\"\\\\\\n\"", "a.outputs.label == \"it's \\\"x\\\"\\\\\\n\"")]
    [InlineData("a.outputs.label == 'it\\'s'", "a.outputs.label == \"it's\"")]
    [InlineData("a.outputs.flag", "a.outputs.flag")]
    [InlineData("a.outputs.flag == true", "a.outputs.flag == true")]
    [InlineData("true", "true")]
    [InlineData("false", "false")]
    [InlineData("a.outputs.x and b.outputs.y or c.outputs.z", "((a.outputs.x and b.outputs.y) or c.outputs.z)")]
    [InlineData("a.outputs.x or b.outputs.y and c.outputs.z", "(a.outputs.x or (b.outputs.y and c.outputs.z))")]
    [InlineData("a.outputs.x && b.outputs.y || !c.outputs.z", "((a.outputs.x and b.outputs.y) or not c.outputs.z)")]
    [InlineData("not a.outputs.x == 1 and b.outputs.y", "(not a.outputs.x == 1 and b.outputs.y)")]
    [InlineData("not not a.outputs.x", "not not a.outputs.x")]
    [InlineData("(a.outputs.x or b.outputs.y) and c.outputs.z", "((a.outputs.x or b.outputs.y) and c.outputs.z)")]
    [InlineData("a.outputs.x in [1, 2.5, -3]", "a.outputs.x in [1, 2.5, -3]")]
    [InlineData("a.outputs.x not in ['a', \"b\"]", "a.outputs.x not in [\"a\", \"b\"]")]
    [InlineData("a.outputs.x in [true]", "a.outputs.x in [true]")]
    [InlineData("a.outputs.p[:, 1] > 0.8", "a.outputs.p[:,1] > 0.8")]
    [InlineData("a.outputs.p[-1,:,2] > 0", "a.outputs.p[-1,:,2] > 0")]
    [InlineData("pipeline.inputs.age >= 18", "pipeline.inputs.age >= 18")]
    [InlineData("step-1.outputs.out_0 > 0", "step-1.outputs.out_0 > 0")]
    [InlineData("a.outputs.x.y > 0", "a.outputs.x.y > 0")]
    [InlineData("a.outputs.0 > 0", "a.outputs.0 > 0")]
    [InlineData("a.outputs[\"odd name\"][:,0] > 0", "a.outputs[\"odd name\"][:,0] > 0")]
    [InlineData("a.outputs['x'] > 0", "a.outputs.x > 0")]
    [InlineData("and.outputs.in > 0", "and.outputs.in > 0")]
    [InlineData("a.outputs.x > 9223372036854775807", "a.outputs.x > 9223372036854775807")]
    [InlineData("a.outputs.x > -9223372036854775808", "a.outputs.x > -9223372036854775808")]
    [InlineData("a.outputs.x > 9223372036854775808", "a.outputs.x > 9.223372036854776E+18")]
    public void Parse_ValidText_GivesTheCanonicalForm(string text, string canonical)
    {
        Condition condition = ConditionParser.Parse(text);

        Assert.Equal(canonical, condition.ToString());
        Assert.Equal(text, condition.Text);
        Assert.Equal(canonical, ConditionParser.Parse(canonical).ToString());
    }

    [Theory]
    [InlineData("fraud.outputs.score > 0.9")]
    [InlineData("classifier.outputs.probs[:,1] >= 0.8")]
    [InlineData("classifier.outputs.label in ['cat', 'dog']")]
    [InlineData("router.outputs.route not in [0, 3]")]
    [InlineData("pipeline.inputs.age >= 18 and pipeline.inputs.country == \"DE\"")]
    [InlineData("detector.outputs.is_anomaly")]
    [InlineData("!detector.outputs.is_anomaly || detector.outputs.confidence < 0.5")]
    [InlineData("not fallback.outputs.score == 0")]
    [InlineData("a.outputs.embedding[-1, 0] > b.outputs.embedding[-1, 0]")]
    [InlineData("ocr.outputs[\"text lines\"][0] != \"\"")]
    public void Parse_TheExamplesOfTheDocs_ParseAndRoundTrip(string text)
    {
        string canonical = ConditionParser.Parse(text).ToString()!;

        Assert.Equal(canonical, ConditionParser.Parse(canonical).ToString());
    }

    [Fact]
    public void Parse_References_ListsEachDistinctTensorOnceInOrder()
    {
        Condition condition = ConditionParser.Parse(
            "a.outputs.x > 1 and pipeline.inputs.y == 'q' or a.outputs.x < b.outputs[\"z w\"] and not a.outputs.x");

        Assert.Equal(
            [
                new TensorReference(ReferenceSource.StepOutputs, "a", "x"),
                new TensorReference(ReferenceSource.PipelineInputs, TensorReference.Pipeline, "y"),
                new TensorReference(ReferenceSource.StepOutputs, "b", "z w"),
            ],
            condition.References);
    }

    [Fact]
    public void Parse_NestingAtTheLimit_IsAccepted()
    {
        string text = new string('(', 64) + "true" + new string(')', 64);
        string nots = string.Concat(Enumerable.Repeat("not ", 64)) + "true";

        Assert.Equal("true", ConditionParser.Parse(text).ToString());
        Assert.True(ConditionParser.Parse(nots).Evaluate(new TestTensors()));
    }

    [Theory]
    [InlineData("", "unexpected end of condition at column 1; expected a value", 0)]
    [InlineData("   ", "unexpected end of condition at column 4; expected a value", 3)]
    [InlineData("a.outputs.x > ", "unexpected end of condition at column 15; expected a value", 14)]
    [InlineData("not", "unexpected end of condition at column 4; expected a value", 3)]
    [InlineData("a.outputs.x and", "unexpected end of condition at column 16; expected a value", 15)]
    [InlineData("a.outputs.x > )", "unexpected ')' at column 15; expected a value", 14)]
    [InlineData("(a.outputs.x > 1", "unexpected end of condition at column 17; expected ')'", 16)]
    [InlineData("a.outputs.x > 1)", "unexpected ')' at column 16; expected 'and', 'or' or the end", 15)]
    [InlineData("a.outputs.x > 1 < 2", "unexpected '<' at column 17; expected 'and', 'or' or the end", 16)]
    [InlineData("a.outputs.x b.outputs.y", "unexpected 'b.outputs.y' at column 13; expected 'and', 'or' or the end", 12)]
    [InlineData("a.outputs.x == 'abc", "unterminated string starting at column 16", 15)]
    [InlineData("a.outputs.x == 'abc\\", "unterminated string starting at column 16", 15)]
    [InlineData("a.outputs.x == 'a\\qb'", "unknown escape '\\q' at column 18", 17)]
    [InlineData("a.outputs.x # 1", "unexpected character '#' at column 13", 12)]
    [InlineData("a.outputs.x = 1", "unexpected '=' at column 13; did you mean '=='?", 12)]
    [InlineData("a.outputs.x > 1 & b.outputs.y", "unexpected '&' at column 17; did you mean '&&'?", 16)]
    [InlineData("a.outputs.x > 1 | b.outputs.y", "unexpected '|' at column 17; did you mean '||'?", 16)]
    [InlineData("a.outputs.x > 1e", "malformed number '1e' at column 15", 14)]
    [InlineData("a.outputs.x > 1e+", "malformed number '1e+' at column 15", 14)]
    [InlineData("a.outputs.x > 1.", "malformed number '1.' at column 15", 14)]
    [InlineData("a.outputs.x > 1abc", "malformed number '1a' at column 15", 14)]
    [InlineData("a.outputs.x > 1.5.2", "malformed number '1.5.' at column 15", 14)]
    [InlineData("a.outputs.x > 1e999", "number '1e999' at column 15 is out of range", 14)]
    [InlineData("a.outputs.x > -b.outputs.y", "unexpected 'b.outputs.y' at column 16; expected a number after '-'", 15)]
    [InlineData("a.outputs.x > - 'a'", "expected a number after '-'", 16)]
    [InlineData("foo > 1", "'foo' at column 1 is not a reference; expected step.outputs.tensor or pipeline.inputs.tensor", 0)]
    [InlineData("AND", "'AND' at column 1 is not a reference", 0)]
    [InlineData("True", "'True' at column 1 is not a reference", 0)]
    [InlineData("a.inputs.x > 1", "a step is referred to by its outputs (step.outputs.tensor), not 'inputs'", 0)]
    [InlineData("x > 1 or a.output.x > 1", "'x' at column 1 is not a reference", 0)]
    [InlineData("true or a.output.x > 1", "not 'output'", 8)]
    [InlineData("pipeline.outputs.x > 1", "the pipeline has only inputs", 0)]
    [InlineData("a.outputs > 1", "'a.outputs' at column 1 names no tensor", 0)]
    [InlineData("pipeline.inputs", "'pipeline.inputs' at column 1 names no tensor", 0)]
    [InlineData("a.outputs. > 1", "names no tensor", 0)]
    [InlineData("a.outputs.x..y > 1", "names no tensor", 0)]
    [InlineData("a.outputs[''] > 1", "names no tensor", 0)]
    [InlineData("a.outputs[1] > 1", "names no tensor", 0)]
    [InlineData("a.outputs['x' > 1", "unexpected '>' at column 15; expected ']'", 14)]
    [InlineData("1", "a number alone at column 1 is not a condition", 0)]
    [InlineData("'x'", "a string alone at column 1 is not a condition", 0)]
    [InlineData("1 < 2", "comparison of two literals at column 1; one side must be a tensor reference", 0)]
    [InlineData("(a.outputs.x) == 1", "unexpected '==' at column 15; expected 'and', 'or' or ')'; a parenthesized condition cannot be compared", 14)]
    [InlineData("(a.outputs.x) in [1]", "a parenthesized condition cannot be compared", 14)]
    [InlineData("a.outputs.x == (1)", "unexpected '(' at column 16; expected a value", 15)]
    [InlineData("a.outputs.x == not", "unexpected 'not' at column 16; expected a value", 15)]
    [InlineData("a.outputs.x not 3", "unexpected '3' at column 17; expected 'in' after 'not'", 16)]
    [InlineData("1 in [1]", "the left side of 'in' at column 1 must be a tensor reference", 0)]
    [InlineData("a.outputs.x in 1", "unexpected '1' at column 16; expected '[' to start the list", 15)]
    [InlineData("a.outputs.x in []", "unexpected ']' at column 17; expected a literal (number, string, true or false)", 16)]
    [InlineData("a.outputs.x in [b.outputs.y]", "unexpected 'b.outputs.y' at column 17; expected a literal", 16)]
    [InlineData("a.outputs.x in [1, 'a']", "the list mixes kinds of literal at column 20", 19)]
    [InlineData("a.outputs.x in ['a', true]", "the list mixes kinds of literal at column 22", 21)]
    [InlineData("a.outputs.x in [true, 1]", "the list mixes kinds of literal at column 23", 22)]
    [InlineData("a.outputs.x in [1 2]", "unexpected '2' at column 19; expected ',' or ']'", 18)]
    [InlineData("a.outputs.x in [1,", "unexpected end of condition at column 19; expected a literal", 18)]
    [InlineData("a.outputs.x[] > 1", "unexpected ']' at column 13; expected an integer index or ':'", 12)]
    [InlineData("a.outputs.x['a'] > 1", "unexpected string \"a\" at column 13; expected an integer index or ':'", 12)]
    [InlineData("a.outputs.x[1.5] > 1", "index '1.5' at column 13 is not a whole number in range", 12)]
    [InlineData("a.outputs.x[-:] > 1", "unexpected ':' at column 14; expected an integer index or ':'", 13)]
    [InlineData("a.outputs.x[99999999999] > 1", "index '99999999999' at column 13 is not a whole number in range", 12)]
    [InlineData("a.outputs.x[1 > 1", "unexpected '>' at column 15; expected ',' or ']'", 14)]
    public void Parse_InvalidText_ThrowsWithColumnAndCause(string text, string message, int position)
    {
        var error = Assert.Throws<ConditionSyntaxException>(() => ConditionParser.Parse(text));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(position, error.Position);
    }

    [Fact]
    public void Parse_TextLongerThanTheLimit_Throws()
    {
        string text = "a.outputs.x > 1" + new string(' ', ConditionParser.MaxLength);

        var error = Assert.Throws<ConditionSyntaxException>(() => ConditionParser.Parse(text));

        Assert.Contains("at most 4096", error.Message, StringComparison.Ordinal);
        Assert.Equal(4096, error.Position);
    }

    [Fact]
    public void Parse_ParenthesesDeeperThanTheLimit_Throws()
    {
        string text = new string('(', 65) + "true" + new string(')', 65);

        var error = Assert.Throws<ConditionSyntaxException>(() => ConditionParser.Parse(text));

        Assert.Equal("nesting deeper than 64 levels at column 65", error.Message);
        Assert.Equal(64, error.Position);
    }

    [Fact]
    public void Parse_NotsDeeperThanTheLimit_Throws()
    {
        string text = string.Concat(Enumerable.Repeat("not ", 65)) + "true";

        var error = Assert.Throws<ConditionSyntaxException>(() => ConditionParser.Parse(text));

        Assert.StartsWith("nesting deeper than 64 levels", error.Message, StringComparison.Ordinal);
        Assert.Equal(256, error.Position);
    }

    [Fact]
    public void Parse_Null_Throws() => Assert.Throws<ArgumentNullException>(() => ConditionParser.Parse(null!));
}
