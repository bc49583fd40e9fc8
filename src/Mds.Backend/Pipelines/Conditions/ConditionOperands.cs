using System.Globalization;
using System.Numerics;
using System.Text;

namespace Mds.Backend.Pipelines.Conditions;

internal enum CompareOp
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

internal static class CompareOps
{
    public static string Symbol(this CompareOp op) => op switch
    {
        CompareOp.Equal => "==",
        CompareOp.NotEqual => "!=",
        CompareOp.Less => "<",
        CompareOp.LessOrEqual => "<=",
        CompareOp.Greater => ">",
        _ => ">=",
    };

    /// <summary>The operator with its sides swapped: <c>1 &lt; x</c> is <c>x &gt; 1</c>.</summary>
    public static CompareOp Mirror(this CompareOp op) => op switch
    {
        CompareOp.Less => CompareOp.Greater,
        CompareOp.LessOrEqual => CompareOp.GreaterOrEqual,
        CompareOp.Greater => CompareOp.Less,
        CompareOp.GreaterOrEqual => CompareOp.LessOrEqual,
        _ => op,
    };

    /// <summary>IEEE semantics for double: NaN makes every operator false except <c>!=</c>.</summary>
    public static bool Apply<T>(this CompareOp op, T x, T y) where T : IComparisonOperators<T, T, bool> => op switch
    {
        CompareOp.Equal => x == y,
        CompareOp.NotEqual => x != y,
        CompareOp.Less => x < y,
        CompareOp.LessOrEqual => x <= y,
        CompareOp.Greater => x > y,
        _ => x >= y,
    };
}

internal enum LiteralKind
{
    Integer,
    Real,
    Text,
    Bool,
}

/// <summary>A literal: an integer (exact, as long), a real, a string or a boolean.</summary>
internal sealed record Literal(LiteralKind Kind, long Integer, double Real, string Text, bool Bool)
{
    public static Literal OfInteger(long value) => new(LiteralKind.Integer, value, value, "", false);

    public static Literal OfReal(double value) => new(LiteralKind.Real, 0, value, "", false);

    public static Literal OfText(string value) => new(LiteralKind.Text, 0, 0, value, false);

    public static Literal OfBool(bool value) => new(LiteralKind.Bool, value ? 1 : 0, value ? 1 : 0, "", value);

    public bool IsNumber => Kind is LiteralKind.Integer or LiteralKind.Real;

    public void Write(StringBuilder text)
    {
        switch (Kind)
        {
            case LiteralKind.Integer:
                text.Append(Integer.ToString(CultureInfo.InvariantCulture));
                break;
            case LiteralKind.Real:
                text.Append(Real.ToString("R", CultureInfo.InvariantCulture));
                break;
            case LiteralKind.Bool:
                text.Append(Bool ? "true" : "false");
                break;
            default:
                WriteString(text, Text);
                break;
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        Write(text);
        return text.ToString();
    }

    public static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (char c in value)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                '\n' => text.Append("\\n"),
                '\t' => text.Append("\\t"),
                '\r' => text.Append("\\r"),
                _ => text.Append(c),
            };
        }

        text.Append('"');
    }
}

/// <summary>The literals of an <c>in [...]</c> list, laid out for a fast membership test (one kind: numbers, strings or booleans).</summary>
internal sealed class LiteralSet
{
    public LiteralSet(IReadOnlyList<Literal> values)
    {
        Kind = values[0].IsNumber ? LiteralKind.Real : values[0].Kind;
        var integers = new List<Int128>();
        var fractions = new List<double>();
        Reals = new double[values.Count];
        Texts = new string[values.Count];
        for (int i = 0; i < values.Count; i++)
        {
            Literal value = values[i];
            Reals[i] = value.Real;
            Texts[i] = value.Text;
            if (value.Kind == LiteralKind.Real)
            {
                fractions.Add(value.Real);
            }
            else
            {
                integers.Add(value.Integer);
            }
        }

        Integers = [.. integers];
        NonIntegers = [.. fractions];
    }

    /// <summary><see cref="LiteralKind.Real"/> for numbers, else Text or Bool.</summary>
    public LiteralKind Kind { get; }

    /// <summary>Integer and boolean (0/1) entries, exact.</summary>
    public Int128[] Integers { get; }

    /// <summary>Entries written as reals (with '.' or an exponent).</summary>
    public double[] NonIntegers { get; }

    /// <summary>Every entry as a double.</summary>
    public double[] Reals { get; }

    public string[] Texts { get; }
}

/// <summary>One index of a slice: a position (negative counts from the end) or <c>:</c> for the whole dimension.</summary>
internal readonly record struct SliceIndex(bool All, int Position)
{
    public static readonly SliceIndex Whole = new(true, 0);

    public override string ToString() => All ? ":" : Position.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A tensor reference with an optional slice, as written in a condition.</summary>
internal sealed class TensorOperand(TensorReference reference, IReadOnlyList<SliceIndex> slice)
{
    public TensorReference Reference { get; } = reference;

    public IReadOnlyList<SliceIndex> Slice { get; } = slice;

    /// <summary>
    /// The selected elements of the referenced tensor; false when it is absent. With <paramref name="rows"/> the first
    /// dimension must be that many rows and the slice may not fix it.
    /// </summary>
    /// <exception cref="ConditionEvaluationException">The tensor does not fit the slice or the row count.</exception>
    public bool TryResolve(ITensorSource tensors, int? rows, out SlicedTensor sliced)
    {
        sliced = default;
        if (!tensors.TryGet(Reference, out var tensor))
        {
            return false;
        }

        long[] shape = tensor.Shape;
        if (Slice.Count > shape.Length)
        {
            throw new ConditionEvaluationException(
                $"'{this}' has {Slice.Count} indices but tensor '{Reference}' has {shape.Length} dimensions (shape {Shape(shape)}).");
        }

        int first = 0;
        if (rows is { } rowCount)
        {
            if (shape.Length == 0 || shape[0] != rowCount)
            {
                throw new ConditionEvaluationException(
                    $"Tensor '{Reference}' has shape {Shape(shape)}; a per-row condition over {rowCount} rows needs its first dimension to be {rowCount}.");
            }

            if (Slice.Count > 0 && !Slice[0].All)
            {
                throw new ConditionEvaluationException(
                    $"'{this}' fixes the row index; a per-row condition needs ':' as the first index.");
            }

            first = 1;
        }

        var strides = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride = (int)Math.Min(int.MaxValue, stride * shape[d]);
        }

        int baseOffset = 0;
        int count = 1;
        var sizes = new List<int>(shape.Length);
        var selectedStrides = new List<int>(shape.Length);
        for (int d = first; d < shape.Length; d++)
        {
            SliceIndex index = d < Slice.Count ? Slice[d] : SliceIndex.Whole;
            if (index.All)
            {
                sizes.Add((int)shape[d]);
                selectedStrides.Add(strides[d]);
                count *= (int)shape[d];
                continue;
            }

            long position = index.Position < 0 ? shape[d] + index.Position : index.Position;
            if (position < 0 || position >= shape[d])
            {
                throw new ConditionEvaluationException(
                    $"'{this}': index {index.Position} is out of range for dimension {d} (size {shape[d]}) of tensor '{Reference}' (shape {Shape(shape)}).");
            }

            baseOffset += (int)position * strides[d];
        }

        sliced = new SlicedTensor(new ElementReader(tensor.Datatype, tensor.Data), baseOffset, shape.Length > 0 ? strides[0] : 0,
            [.. sizes], [.. selectedStrides], count);
        return true;
    }

    public void Write(StringBuilder text)
    {
        if (Reference.Tensor is { } name && IsPlainName(name))
        {
            text.Append(Reference);
        }
        else
        {
            text.Append(Reference.Source == ReferenceSource.PipelineInputs ? "pipeline.inputs" : Reference.Step + ".outputs").Append('[');
            Literal.WriteString(text, Reference.Tensor ?? "");
            text.Append(']');
        }

        if (Slice.Count > 0)
        {
            text.Append('[').AppendJoin(',', Slice).Append(']');
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        Write(text);
        return text.ToString();
    }

    public static string Shape(long[] shape) => "[" + string.Join(',', shape) + "]";

    /// <summary>Whether the tensor name can be written after a dot (else it is written quoted).</summary>
    private static bool IsPlainName(string name)
    {
        if (name.Length == 0 || name[0] == '.' || name[^1] == '.' || name.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!ConditionTokenizer.IsNameChar(c) && c != '.')
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// The elements a sliced tensor selects: start at <see cref="BaseOffset"/> (plus row × <see cref="RowStride"/> per
/// row), then every combination of the selected dimensions' <see cref="Sizes"/> with their <see cref="Strides"/>.
/// </summary>
internal readonly record struct SlicedTensor(ElementReader Reader, int BaseOffset, int RowStride, int[] Sizes, int[] Strides, int Count);
