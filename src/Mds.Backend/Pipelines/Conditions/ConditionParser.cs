using System.Globalization;

namespace Mds.Backend.Pipelines.Conditions;

/// <summary>
/// Parses the <c>when</c> condition of a pipeline step (docs/pipelines.md, "Conditions"). A hand-written tokenizer and
/// recursive-descent parser over this grammar:
/// <code>
/// expr       := or
/// or         := and ( ('or' | '||') and )*
/// and        := unary ( ('and' | '&amp;&amp;') unary )*
/// unary      := ('not' | '!') unary | comparison
/// comparison := operand ( compOp operand | ['not'] 'in' list )?
/// compOp     := '==' | '!=' | '&lt;' | '&lt;=' | '&gt;' | '&gt;='
/// operand    := reference slice? | literal | '(' expr ')'
/// literal    := ['-'] number | string | 'true' | 'false'
/// list       := '[' literal (',' literal)* ']'
/// slice      := '[' index (',' index)* ']'
/// index      := ':' | ['-'] integer
/// reference  := name '.' 'outputs' ( '.' tensor | '[' string ']' )
///             | 'pipeline' '.' 'inputs' ( '.' tensor | '[' string ']' )
/// name       := (letter | '_') (letter | digit | '_' | '-')*
/// tensor     := (letter | digit | '_' | '-' | '.')+        (dots allowed: a.outputs.x.y names tensor "x.y")
/// number     := digit+ ('.' digit+)? (('e' | 'E') ('+' | '-')? digit+)?
/// string     := '"' … '"' | "'" … "'"                     (escapes \\ \' \" \n \t \r)
/// </code>
/// Besides the grammar: an operand alone is a condition only when it is a reference (truthy) or true/false; a
/// comparison needs a reference on at least one side; a parenthesized condition is not compared; an <c>in</c> list
/// holds one kind of literal (numbers, strings or booleans). Input is bounded: at most <see cref="MaxLength"/>
/// characters and <see cref="MaxDepth"/> levels of nesting.
/// </summary>
public static class ConditionParser
{
    /// <summary>The longest condition text accepted.</summary>
    public const int MaxLength = 4096;

    /// <summary>The deepest nesting of parentheses and <c>not</c> accepted.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="ConditionSyntaxException">The text is not a valid condition; the message names column and cause.</exception>
    public static Condition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxLength)
        {
            throw new ConditionSyntaxException($"the condition is {text.Length} characters long; at most {MaxLength} are allowed", MaxLength);
        }

        var parser = new Parser(ConditionTokenizer.Tokenize(text));
        ConditionNode root = parser.ParseExpression();
        parser.ExpectEnd();
        return new ParsedCondition(text, root, parser.References);
    }

    private sealed class Parser(List<Token> tokens)
    {
        private int _next;
        private int _depth;
        private readonly List<TensorReference> _references = [];

        public IReadOnlyList<TensorReference> References => _references;

        private Token Current => tokens[_next];

        public ConditionNode ParseExpression()
        {
            ConditionNode left = ParseAnd();
            while (Current.Kind == TokenKind.Or)
            {
                _next++;
                left = new LogicalNode(false, left, ParseAnd());
            }

            return left;
        }

        public void ExpectEnd()
        {
            if (Current.Kind != TokenKind.End)
            {
                throw Unexpected("'and', 'or' or the end");
            }
        }

        private ConditionNode ParseAnd()
        {
            ConditionNode left = ParseUnary();
            while (Current.Kind == TokenKind.And)
            {
                _next++;
                left = new LogicalNode(true, left, ParseUnary());
            }

            return left;
        }

        private ConditionNode ParseUnary()
        {
            if (Current.Kind != TokenKind.Not)
            {
                return ParseComparison();
            }

            Enter();
            _next++;
            var node = new NotNode(ParseUnary());
            _depth--;
            return node;
        }

        private ConditionNode ParseComparison()
        {
            Token start = Current;
            if (start.Kind == TokenKind.LeftParen)
            {
                Enter();
                _next++;
                ConditionNode inner = ParseExpression();
                Expect(TokenKind.RightParen, "')'");
                _depth--;
                if (IsCompareOp(Current.Kind) || Current.Kind == TokenKind.In)
                {
                    throw Unexpected("'and', 'or' or ')'; a parenthesized condition cannot be compared");
                }

                return inner;
            }

            (TensorOperand? reference, Literal? literal) = ParseOperand();
            if (IsCompareOp(Current.Kind))
            {
                Token opToken = Current;
                _next++;
                CompareOp op = ToCompareOp(opToken.Kind);
                Token rightStart = Current;
                if (rightStart.Kind == TokenKind.LeftParen)
                {
                    throw Unexpected("a value");
                }

                (TensorOperand? rightReference, Literal? rightLiteral) = ParseOperand();
                if (reference is null && rightReference is null)
                {
                    throw new ConditionSyntaxException(
                        $"comparison of two literals at column {start.Position + 1}; one side must be a tensor reference", start.Position);
                }

                if (reference is null)
                {
                    return new ComparisonNode(rightReference!, op.Mirror(), literal!);
                }

                return rightReference is null
                    ? new ComparisonNode(reference, op, rightLiteral!)
                    : new ComparisonNode(reference, op, rightReference);
            }

            bool negated = false;
            if (Current.Kind == TokenKind.Not)
            {
                _next++;
                if (Current.Kind != TokenKind.In)
                {
                    throw Unexpected("'in' after 'not'");
                }

                negated = true;
            }

            if (Current.Kind == TokenKind.In)
            {
                if (reference is null)
                {
                    throw new ConditionSyntaxException(
                        $"the left side of 'in' at column {start.Position + 1} must be a tensor reference", start.Position);
                }

                _next++;
                return new MembershipNode(reference, negated, ParseList());
            }

            if (reference is not null)
            {
                return new TruthNode(reference);
            }

            if (literal!.Kind == LiteralKind.Bool)
            {
                return new ConstantNode(literal.Bool);
            }

            string what = literal.IsNumber ? "a number" : "a string";
            throw new ConditionSyntaxException(
                $"{what} alone at column {start.Position + 1} is not a condition; compare it with a tensor reference", start.Position);
        }

        private (TensorOperand? Reference, Literal? Literal) ParseOperand()
        {
            if (Current.Kind == TokenKind.Path)
            {
                return (ParseReference(), null);
            }

            return (null, ParseLiteral("a value"));
        }

        private Literal ParseLiteral(string expected)
        {
            Token token = Current;
            switch (token.Kind)
            {
                case TokenKind.True:
                case TokenKind.False:
                    _next++;
                    return Literal.OfBool(token.Kind == TokenKind.True);
                case TokenKind.String:
                    _next++;
                    return Literal.OfText(token.Text);
                case TokenKind.Number:
                    _next++;
                    return Number(token.Text, token);
                case TokenKind.Minus:
                    _next++;
                    if (Current.Kind != TokenKind.Number)
                    {
                        throw Unexpected("a number after '-'");
                    }

                    Token number = Current;
                    _next++;
                    return Number("-" + number.Text, token);
                default:
                    throw Unexpected(expected);
            }
        }

        private static Literal Number(string text, Token token)
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
            {
                return Literal.OfInteger(integer);
            }

            double real = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (!double.IsFinite(real))
            {
                throw new ConditionSyntaxException($"number '{text}' at column {token.Position + 1} is out of range", token.Position);
            }

            return Literal.OfReal(real);
        }

        private TensorOperand ParseReference()
        {
            Token token = Current;
            _next++;
            string path = token.Text;
            int firstDot = path.IndexOf('.', StringComparison.Ordinal);
            if (firstDot < 0)
            {
                throw new ConditionSyntaxException(
                    $"'{path}' at column {token.Position + 1} is not a reference; expected step.outputs.tensor or pipeline.inputs.tensor", token.Position);
            }

            string step = path[..firstDot];
            int secondDot = path.IndexOf('.', firstDot + 1);
            string kind = secondDot < 0 ? path[(firstDot + 1)..] : path[(firstDot + 1)..secondDot];
            string? tensor = secondDot < 0 ? null : path[(secondDot + 1)..];
            bool pipeline = step == TensorReference.Pipeline;
            if (pipeline && kind != "inputs")
            {
                throw new ConditionSyntaxException(
                    $"'{path}' at column {token.Position + 1}: the pipeline has only inputs (pipeline.inputs.tensor)", token.Position);
            }

            if (!pipeline && kind != "outputs")
            {
                throw new ConditionSyntaxException(
                    $"'{path}' at column {token.Position + 1}: a step is referred to by its outputs (step.outputs.tensor), not '{kind}'", token.Position);
            }

            if (tensor is null && Current.Kind == TokenKind.LeftBracket && tokens[_next + 1].Kind == TokenKind.String)
            {
                _next++;
                tensor = Current.Text;
                _next++;
                Expect(TokenKind.RightBracket, "']'");
            }

            if (string.IsNullOrEmpty(tensor) || tensor.StartsWith('.') || tensor.EndsWith('.') || tensor.Contains("..", StringComparison.Ordinal))
            {
                throw new ConditionSyntaxException(
                    $"'{path}' at column {token.Position + 1} names no tensor; write {step}.{kind}.tensor or {step}.{kind}[\"tensor\"]", token.Position);
            }

            var reference = new TensorReference(pipeline ? ReferenceSource.PipelineInputs : ReferenceSource.StepOutputs, step, tensor);
            if (!_references.Contains(reference))
            {
                _references.Add(reference);
            }

            return new TensorOperand(reference, Current.Kind == TokenKind.LeftBracket ? ParseSlice() : []);
        }

        private List<SliceIndex> ParseSlice()
        {
            _next++;
            var indices = new List<SliceIndex>();
            while (true)
            {
                Token token = Current;
                if (token.Kind == TokenKind.Colon)
                {
                    _next++;
                    indices.Add(SliceIndex.Whole);
                }
                else
                {
                    bool negative = token.Kind == TokenKind.Minus;
                    if (negative)
                    {
                        _next++;
                    }

                    Token number = Current;
                    if (number.Kind != TokenKind.Number)
                    {
                        throw Unexpected("an integer index or ':'");
                    }

                    if (!int.TryParse(number.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int position))
                    {
                        throw new ConditionSyntaxException(
                            $"index '{number.Text}' at column {number.Position + 1} is not a whole number in range; expected an integer index or ':'", number.Position);
                    }

                    _next++;
                    indices.Add(new SliceIndex(false, negative ? -position : position));
                }

                if (Current.Kind == TokenKind.RightBracket)
                {
                    _next++;
                    return indices;
                }

                Expect(TokenKind.Comma, "',' or ']'");
            }
        }

        private List<Literal> ParseList()
        {
            Expect(TokenKind.LeftBracket, "'[' to start the list");
            var values = new List<Literal>();
            while (true)
            {
                Token token = Current;
                Literal value = ParseLiteral("a literal (number, string, true or false)");
                if (values.Count > 0 && (value.IsNumber ? !values[0].IsNumber : value.Kind != values[0].Kind))
                {
                    throw new ConditionSyntaxException(
                        $"the list mixes kinds of literal at column {token.Position + 1}; use only numbers, only strings or only booleans", token.Position);
                }

                values.Add(value);
                if (Current.Kind == TokenKind.RightBracket)
                {
                    _next++;
                    return values;
                }

                Expect(TokenKind.Comma, "',' or ']'");
            }
        }

        /// <summary>One level deeper (a parenthesis or a 'not'); bounds the recursion.</summary>
        private void Enter()
        {
            if (++_depth > MaxDepth)
            {
                throw new ConditionSyntaxException($"nesting deeper than {MaxDepth} levels at column {Current.Position + 1}", Current.Position);
            }
        }

        private void Expect(TokenKind kind, string expected)
        {
            if (Current.Kind != kind)
            {
                throw Unexpected(expected);
            }

            _next++;
        }

        private ConditionSyntaxException Unexpected(string expected) =>
            new($"unexpected {Current.Describe()} at column {Current.Position + 1}; expected {expected}", Current.Position);

        private static bool IsCompareOp(TokenKind kind) => kind is >= TokenKind.Equal and <= TokenKind.GreaterOrEqual;

        private static CompareOp ToCompareOp(TokenKind kind) => kind switch
        {
            TokenKind.Equal => CompareOp.Equal,
            TokenKind.NotEqual => CompareOp.NotEqual,
            TokenKind.Less => CompareOp.Less,
            TokenKind.LessOrEqual => CompareOp.LessOrEqual,
            TokenKind.Greater => CompareOp.Greater,
            _ => CompareOp.GreaterOrEqual,
        };
    }
}

/// <summary>A condition parsed by <see cref="ConditionParser"/>; <see cref="ToString"/> is its canonical, fully parenthesized form.</summary>
internal sealed class ParsedCondition(string text, ConditionNode root, IReadOnlyList<TensorReference> references) : Condition
{
    public override string Text { get; } = text;

    public override IReadOnlyList<TensorReference> References { get; } = references;

    internal ConditionNode Root { get; } = root;

    public override bool Evaluate(ITensorSource tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return Root.Evaluate(tensors);
    }

    public override bool[] EvaluateRows(ITensorSource tensors, int rows)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        return Root.EvaluateRows(tensors, rows);
    }

    public override string ToString() => Root.ToString();
}
