using Mds.Backend.Pipelines;

namespace Mds.UnitTests.Pipelines;

public sealed class PipelineSpecParserTests
{
    /// <summary>Seldon Core V2's docs example (tfsimples), as written there.</summary>
    public const string SeldonTfsimples = """
        apiVersion: mlops.seldon.io/v1alpha1
        kind: Pipeline
        metadata:
          name: tfsimples
        spec:
          steps:
            - name: tfsimple1
            - name: tfsimple2
              inputs:
              - tfsimple1
              tensorMap:
                tfsimple1.outputs.OUTPUT0: INPUT0
                tfsimple1.outputs.OUTPUT1: INPUT1
          output:
            steps:
            - tfsimple2
        """;

    private const string Yaml = """
        name: fraud
        timeoutMs: 3000
        steps:
          - name: features
            model: iris:2
          - name: score
            model: scorer
            inputs: [features.outputs.Score]
            tensorMap:
              features.outputs.Score: Score
              pipeline.inputs.x: y
            when: features.outputs.Score[:, 0] > 0.5
            perRow: true
            retries: 1
        output:
          steps: [score]
          stepsJoin: any
        """;

    private const string Json = """
        {
          "output": { "stepsJoin": "any", "steps": ["score"] },
          "steps": [
            { "model": "iris:2", "name": "features" },
            { "name": "score", "model": "scorer", "inputs": ["features.outputs.Score"],
              "tensorMap": { "pipeline.inputs.x": "y", "features.outputs.Score": "Score" },
              "when": "features.outputs.Score[:, 0] > 0.5", "perRow": true, "retries": 1 }
          ],
          "timeoutMs": 3000,
          "name": "fraud"
        }
        """;

    private static PipelineSpecException Fails(string text, string? contentType = null) =>
        Assert.Throws<PipelineSpecException>(() => PipelineSpecParser.Parse(text, contentType));

    [Fact]
    public void Yaml_and_json_of_the_same_spec_parse_equal()
    {
        var yaml = PipelineSpecParser.Parse(Yaml, "application/yaml");
        var json = PipelineSpecParser.Parse(Json, "application/json");
        Assert.Equal(PipelineSpecParser.Canonicalize(yaml), PipelineSpecParser.Canonicalize(json));
        Assert.Equal("iris:2", yaml.Steps[0].Model);
        Assert.True(yaml.Steps[1].PerRow);
        Assert.Equal("features.outputs.Score[:, 0] > 0.5", yaml.Steps[1].When);
    }

    [Fact]
    public void Canonical_json_is_compact_sorted_and_omits_nulls()
    {
        string canonical = PipelineSpecParser.Canonicalize(PipelineSpecParser.Parse(Json, null));
        Assert.Equal(
            """{"name":"fraud","steps":[{"name":"features","model":"iris:2","perRow":false},{"name":"score","model":"scorer","inputs":["features.outputs.Score"],"tensorMap":{"features.outputs.Score":"Score","pipeline.inputs.x":"y"},"when":"features.outputs.Score[:, 0] \u003E 0.5","perRow":true,"retries":1}],"output":{"steps":["score"],"stepsJoin":"any"},"timeoutMs":3000,"streaming":false}""",
            canonical);
    }

    [Theory]
    [InlineData("application/yaml")]
    [InlineData("application/x-yaml")]
    [InlineData("text/yaml; charset=utf-8")]
    [InlineData(null)]
    [InlineData("text/plain")]
    public void Yaml_is_read_for_yaml_types_and_sniffed_otherwise(string? contentType)
    {
        Assert.Equal("fraud", PipelineSpecParser.Parse(Yaml, contentType).Name);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData(null)]
    [InlineData("application/octet-stream")]
    public void Json_is_read_for_the_json_type_and_sniffed_from_a_brace(string? contentType)
    {
        Assert.Equal("fraud", PipelineSpecParser.Parse(Json, contentType).Name);
    }

    [Fact]
    public void Json_field_names_match_ignoring_case()
    {
        var spec = PipelineSpecParser.Parse("""{"Name": "p", "STEPS": [{"name": "a", "TensorMap": {"x.outputs.y": "z"}}]}""", "application/json");
        Assert.Equal("p", spec.Name);
        Assert.Equal("z", spec.Steps[0].TensorMap!["x.outputs.y"]);
    }

    [Fact]
    public void Reads_seldons_docs_example_in_the_resource_form()
    {
        var spec = PipelineSpecParser.Parse(SeldonTfsimples, "application/yaml");
        Assert.Equal("tfsimples", spec.Name);
        Assert.Equal(["tfsimple1", "tfsimple2"], spec.Steps.Select(s => s.Name));
        Assert.Null(spec.Steps[0].Model);
        Assert.Equal(["tfsimple1"], spec.Steps[1].Inputs);
        Assert.Equal("INPUT0", spec.Steps[1].TensorMap!["tfsimple1.outputs.OUTPUT0"]);
        Assert.Equal(["tfsimple2"], spec.Output!.Steps);
    }

    [Fact]
    public void The_resource_form_and_the_flat_form_of_one_spec_are_equal()
    {
        const string flat = """
            name: tfsimples
            steps:
            - name: tfsimple1
            - {name: tfsimple2, inputs: [tfsimple1], tensorMap: {tfsimple1.outputs.OUTPUT1: INPUT1, tfsimple1.outputs.OUTPUT0: INPUT0}}
            output: {steps: [tfsimple2]}
            """;
        Assert.Equal(
            PipelineSpecParser.Canonicalize(PipelineSpecParser.Parse(SeldonTfsimples, null)),
            PipelineSpecParser.Canonicalize(PipelineSpecParser.Parse(flat, null)));
    }

    [Fact]
    public void A_resource_of_another_kind_is_a_problem()
    {
        var e = Fails("apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata: {name: x}\nspec: {steps: []}");
        Assert.Equal("kind", e.Problems[0].Path);
        Assert.Contains("must be Pipeline", e.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_field_is_a_problem_naming_it_with_its_path_and_line()
    {
        var e = Fails("name: p\nsteps:\n  - name: a\n    modle: iris\n");
        var problem = Assert.Single(e.Problems);
        Assert.Equal("steps[0].modle", problem.Path);
        Assert.Equal("unknown field 'modle'; did you mean 'model'?", problem.Message);
        Assert.Equal(4, problem.Line);
        Assert.Equal("steps[0].modle: unknown field 'modle'; did you mean 'model'?", e.Message);
    }

    [Fact]
    public void Every_unknown_field_is_reported_in_both_forms()
    {
        var flat = Fails("name: p\nsteps: [{name: a, batch: {size: 2}}]\noutput: {steps: [a], join: any}\nkafka: {}");
        Assert.Equal(["steps[0].batch", "output.join", "kafka"], flat.Problems.Select(p => p.Path));

        var resource = Fails("kind: Pipeline\nmetadata: {name: p, labelz: {}}\nspec: {steps: [{name: a, Model: iris}]}");
        Assert.Equal(["metadata.labelz", "spec.steps[0].Model"], resource.Problems.Select(p => p.Path));
        Assert.Contains("did you mean 'model'", resource.Problems[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_json_field_is_a_problem_with_its_line()
    {
        var e = Fails("{\n  \"name\": \"p\",\n  \"steps\": [],\n  \"outputs\": {}\n}");
        var problem = Assert.Single(e.Problems);
        Assert.Equal("outputs", problem.Path);
        Assert.Equal(4, problem.Line);
    }

    [Theory]
    [InlineData("name: p\nsteps:\n  - name: a\n   model: [x\n", "YAML syntax error", 4)]
    [InlineData("name: p\nsteps: [a, b\noutput: {}\n", "YAML syntax error", 2)]
    [InlineData("{\n  \"name\": \"p\",\n  \"steps\": [,]\n}", "JSON syntax error", 3)]
    [InlineData("{\n  \"name\": \"p\"\n  \"steps\": []\n}", "JSON syntax error", 3)]
    public void A_syntax_error_is_a_problem_with_its_line(string text, string fragment, int line)
    {
        var problem = Assert.Single(Fails(text).Problems);
        Assert.Contains(fragment, problem.Message, StringComparison.Ordinal);
        Assert.Equal(line, problem.Line);
    }

    [Theory]
    [InlineData("name: p\ntimeoutMs: soon\nsteps: []", "timeoutMs", "expected a whole number")]
    [InlineData("name: p\nstreaming: maybe\nsteps: []", "streaming", "expected true or false")]
    [InlineData("name: p\nsteps: {a: 1}", "steps", "expected a list of steps")]
    [InlineData("name: p\nsteps: [{name: a, inputs: x}]", "steps[0].inputs", "expected a list")]
    [InlineData("name: p\nsteps: [{name: a, inputs: [[x]]}]", "steps[0].inputs[0]", "expected text")]
    [InlineData("name: p\nsteps: [{name: a, tensorMap: [x]}]", "steps[0].tensorMap", "expected a mapping")]
    [InlineData("name: [p]\nsteps: []", "name", "expected text")]
    [InlineData("name: p\nname: q\nsteps: []", "name", "appears twice")]
    [InlineData("{\"name\": \"p\", \"steps\": [{\"name\": \"a\", \"retries\": \"2\"}]}", "steps[0].retries", "expected a whole number")]
    [InlineData("- a\n- b", "", "expected a mapping")]
    public void A_mistyped_value_is_a_problem_at_its_path(string text, string path, string fragment)
    {
        Assert.Contains(Fails(text).Problems, p => p.Path == path && p.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n# only a comment\n")]
    [InlineData("null")]
    public void An_empty_spec_is_a_problem(string text)
    {
        Assert.Contains("empty", Assert.Single(Fails(text).Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_over_256_KiB_is_a_problem()
    {
        string text = "name: p\n# " + new string('x', 256 * 1024) + "\nsteps: []";
        Assert.Contains("256 KiB", Assert.Single(Fails(text).Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_yaml_documents_and_aliases_are_problems()
    {
        Assert.Contains("more than one YAML document", Fails("name: p\n---\nname: q").Message, StringComparison.Ordinal);
        Assert.Contains("aliases", Fails("name: &n p\nsteps: [{name: *n}]").Message, StringComparison.Ordinal);
    }
}
