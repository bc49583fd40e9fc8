using System.Text;

namespace Mds.Backend.Pipelines.Conditions;

/// <summary>
/// A node of a parsed condition. <see cref="Evaluate"/> is the whole-request answer; <see cref="EvaluateRows"/> the
/// per-row one (a new array of <c>rows</c> elements). <see cref="Write"/> prints the canonical, fully parenthesized form.
/// </summary>
internal abstract class ConditionNode
{
    public abstract bool Evaluate(ITensorSource tensors);

    public abstract bool[] EvaluateRows(ITensorSource tensors, int rows);

    public abstract void Write(StringBuilder text);

    public override string ToString()
    {
        var text = new StringBuilder();
        Write(text);
        return text.ToString();
    }
}

/// <summary><c>true</c> or <c>false</c> standing alone.</summary>
internal sealed class ConstantNode(bool value) : ConditionNode
{
    public bool Value { get; } = value;

    public override bool Evaluate(ITensorSource tensors) => Value;

    public override bool[] EvaluateRows(ITensorSource tensors, int rows)
    {
        var result = new bool[rows];
        if (Value)
        {
            Array.Fill(result, true);
        }

        return result;
    }

    public override void Write(StringBuilder text) => text.Append(Value ? "true" : "false");
}

/// <summary><c>not A</c>.</summary>
internal sealed class NotNode(ConditionNode operand) : ConditionNode
{
    public ConditionNode Operand { get; } = operand;

    public override bool Evaluate(ITensorSource tensors) => !Operand.Evaluate(tensors);

    public override bool[] EvaluateRows(ITensorSource tensors, int rows)
    {
        bool[] result = Operand.EvaluateRows(tensors, rows);
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = !result[i];
        }

        return result;
    }

    public override void Write(StringBuilder text)
    {
        text.Append("not ");
        Operand.Write(text);
    }
}

/// <summary>
/// <c>A and B</c> (<see cref="IsAnd"/>) or <c>A or B</c>. Short-circuits: the right side is not evaluated when the
/// left decides (per row: when it decides every row), so an error on the right then goes unnoticed.
/// </summary>
internal sealed class LogicalNode(bool isAnd, ConditionNode left, ConditionNode right) : ConditionNode
{
    public bool IsAnd { get; } = isAnd;

    public ConditionNode Left { get; } = left;

    public ConditionNode Right { get; } = right;

    public override bool Evaluate(ITensorSource tensors) =>
        IsAnd ? Left.Evaluate(tensors) && Right.Evaluate(tensors) : Left.Evaluate(tensors) || Right.Evaluate(tensors);

    public override bool[] EvaluateRows(ITensorSource tensors, int rows)
    {
        bool[] left = Left.EvaluateRows(tensors, rows);
        // The left decides a row when it is false under 'and' or true under 'or'.
        if (Array.IndexOf(left, IsAnd) < 0)
        {
            return left;
        }

        bool[] right = Right.EvaluateRows(tensors, rows);
        for (int i = 0; i < left.Length; i++)
        {
            left[i] = IsAnd ? left[i] && right[i] : left[i] || right[i];
        }

        return left;
    }

    public override void Write(StringBuilder text)
    {
        text.Append('(');
        Left.Write(text);
        text.Append(IsAnd ? " and " : " or ");
        Right.Write(text);
        text.Append(')');
    }
}

/// <summary>
/// A leaf that reads tensors: each selected element either satisfies it or not (<see cref="ElementTest"/>); the leaf
/// holds when every selected element does (per row: every selected element of the row), and there is at least one.
/// </summary>
internal abstract class TensorTestNode : ConditionNode
{
    public override bool Evaluate(ITensorSource tensors)
    {
        if (!TryBind(tensors, rows: null, out ElementTest test))
        {
            return false;
        }

        return test.AllHold(row: -1);
    }

    public override bool[] EvaluateRows(ITensorSource tensors, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var result = new bool[rows];
        if (!TryBind(tensors, rows, out ElementTest test))
        {
            return result;
        }

        for (int row = 0; row < rows; row++)
        {
            result[row] = test.AllHold(row);
        }

        return result;
    }

    /// <summary>The test on these tensors; false when a tensor it reads is absent.</summary>
    protected abstract bool TryBind(ITensorSource tensors, int? rows, out ElementTest test);
}

/// <summary>A reference alone: holds where the elements are true (BOOL) or not zero (numbers).</summary>
internal sealed class TruthNode(TensorOperand operand) : TensorTestNode
{
    public TensorOperand Operand { get; } = operand;

    protected override bool TryBind(ITensorSource tensors, int? rows, out ElementTest test)
    {
        test = default;
        if (!Operand.TryResolve(tensors, rows, out SlicedTensor tensor))
        {
            return false;
        }

        if (tensor.Reader.Kind == ElementKind.Text)
        {
            throw new ConditionEvaluationException(
                $"'{Operand}' is a BYTES tensor, which has no truth value; compare it (e.g. {Operand} == \"yes\").");
        }

        test = ElementTest.Truth(tensor);
        return true;
    }

    public override void Write(StringBuilder text) => Operand.Write(text);
}

/// <summary>A tensor compared with a literal or with another tensor (elementwise).</summary>
internal sealed class ComparisonNode : TensorTestNode
{
    public ComparisonNode(TensorOperand left, CompareOp op, Literal right)
    {
        Left = left;
        Op = op;
        RightLiteral = right;
    }

    public ComparisonNode(TensorOperand left, CompareOp op, TensorOperand right)
    {
        Left = left;
        Op = op;
        RightTensor = right;
    }

    public TensorOperand Left { get; }

    public CompareOp Op { get; }

    public Literal? RightLiteral { get; }

    public TensorOperand? RightTensor { get; }

    protected override bool TryBind(ITensorSource tensors, int? rows, out ElementTest test)
    {
        test = default;
        if (!Left.TryResolve(tensors, rows, out SlicedTensor left))
        {
            return false;
        }

        if (RightLiteral is { } literal)
        {
            test = ElementTest.VersusLiteral(left, Op, literal, Left);
            return true;
        }

        if (!RightTensor!.TryResolve(tensors, rows, out SlicedTensor right))
        {
            return false;
        }

        test = ElementTest.VersusTensor(left, Op, right, Left, RightTensor);
        return true;
    }

    public override void Write(StringBuilder text)
    {
        Left.Write(text);
        text.Append(' ').Append(Op.Symbol()).Append(' ');
        if (RightLiteral is { } literal)
        {
            literal.Write(text);
        }
        else
        {
            RightTensor!.Write(text);
        }
    }
}

/// <summary><c>x in [a, b, …]</c> or <c>x not in […]</c>: every selected element is (not) one of the literals.</summary>
internal sealed class MembershipNode(TensorOperand operand, bool negated, IReadOnlyList<Literal> values) : TensorTestNode
{
    public TensorOperand Operand { get; } = operand;

    public bool Negated { get; } = negated;

    public IReadOnlyList<Literal> Values { get; } = values;

    private readonly LiteralSet _set = new(values);

    protected override bool TryBind(ITensorSource tensors, int? rows, out ElementTest test)
    {
        test = default;
        if (!Operand.TryResolve(tensors, rows, out SlicedTensor tensor))
        {
            return false;
        }

        test = ElementTest.Membership(tensor, _set, Negated, Operand);
        return true;
    }

    public override void Write(StringBuilder text)
    {
        Operand.Write(text);
        text.Append(Negated ? " not in [" : " in [");
        for (int i = 0; i < Values.Count; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            Values[i].Write(text);
        }

        text.Append(']');
    }
}
