// Hot path: conditions are evaluated per request (and per row). No LINQ, no boxing and no allocation per element; the
// datatype is switched on per element over the typed array (InferenceTensor has checked the array's type).
using System.Runtime.CompilerServices;
using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines.Conditions;

internal enum ElementKind
{
    Bool,
    Integer,
    Real,
    Text,
}

/// <summary>Reads one element of a tensor's typed array as an exact integer, a double or a string.</summary>
internal readonly struct ElementReader(TensorDatatype datatype, Array data)
{
    public TensorDatatype Datatype { get; } = datatype;

    public ElementKind Kind { get; } = datatype switch
    {
        TensorDatatype.Bool => ElementKind.Bool,
        TensorDatatype.Fp16 or TensorDatatype.Bf16 or TensorDatatype.Fp32 or TensorDatatype.Fp64 => ElementKind.Real,
        TensorDatatype.Bytes => ElementKind.Text,
        _ => ElementKind.Integer,
    };

    /// <summary>BOOL (as 0/1) and integer datatypes, exactly (UINT64 included).</summary>
    public Int128 Integer(int i) => Datatype switch
    {
        TensorDatatype.Bool => Unsafe.As<bool[]>(data)[i] ? 1 : 0,
        TensorDatatype.UInt8 => Unsafe.As<byte[]>(data)[i],
        TensorDatatype.UInt16 => Unsafe.As<ushort[]>(data)[i],
        TensorDatatype.UInt32 => Unsafe.As<uint[]>(data)[i],
        TensorDatatype.UInt64 => Unsafe.As<ulong[]>(data)[i],
        TensorDatatype.Int8 => Unsafe.As<sbyte[]>(data)[i],
        TensorDatatype.Int16 => Unsafe.As<short[]>(data)[i],
        TensorDatatype.Int32 => Unsafe.As<int[]>(data)[i],
        TensorDatatype.Int64 => Unsafe.As<long[]>(data)[i],
        _ => throw new InvalidOperationException($"{Datatype.ToWireName()} is not an integer datatype."),
    };

    /// <summary>Any numeric datatype (BOOL as 0/1) as a double.</summary>
    public double Real(int i) => Datatype switch
    {
        TensorDatatype.Fp32 => Unsafe.As<float[]>(data)[i],
        TensorDatatype.Fp64 => Unsafe.As<double[]>(data)[i],
        TensorDatatype.Fp16 => (double)Unsafe.As<Half[]>(data)[i],
        TensorDatatype.Bf16 => Unsafe.As<BFloat16[]>(data)[i],
        _ => (double)Integer(i),
    };

    public string Text(int i) => Unsafe.As<string[]>(data)[i] ?? "";
}

/// <summary>
/// What each selected element of a comparison is tested with, bound to the tensors of one evaluation.
/// <see cref="AllHold"/> walks the selection (of one row, or all of it) and answers whether every element passes.
/// </summary>
internal readonly struct ElementTest
{
    private enum Mode
    {
        Truth,
        IntegerLiteral,
        RealLiteral,
        TextLiteral,
        IntegerTensors,
        RealTensors,
        TextTensors,
        Membership,
    }

    private readonly Mode _mode;
    private readonly CompareOp _op;
    private readonly SlicedTensor _left;
    private readonly SlicedTensor _right;
    private readonly Int128 _integer;
    private readonly double _real;
    private readonly string _text;
    private readonly LiteralSet? _set;
    private readonly bool _negated;

    private ElementTest(Mode mode, CompareOp op, SlicedTensor left, SlicedTensor right = default,
        Int128 integer = default, double real = 0, string text = "", LiteralSet? set = null, bool negated = false)
    {
        _mode = mode;
        _op = op;
        _left = left;
        _right = right;
        _integer = integer;
        _real = real;
        _text = text;
        _set = set;
        _negated = negated;
    }

    public static ElementTest Truth(SlicedTensor tensor) => new(Mode.Truth, CompareOp.NotEqual, tensor);

    public static ElementTest VersusLiteral(SlicedTensor tensor, CompareOp op, Literal literal, TensorOperand operand)
    {
        ElementKind kind = tensor.Reader.Kind;
        string wire = tensor.Reader.Datatype.ToWireName();
        return (kind, literal.Kind) switch
        {
            (ElementKind.Text, LiteralKind.Text) => new(Mode.TextLiteral, op, tensor, text: literal.Text),
            (ElementKind.Text, _) => throw new ConditionEvaluationException(
                $"'{operand}' is a BYTES tensor and cannot be compared with {literal}; compare it with a string."),
            (_, LiteralKind.Text) => throw new ConditionEvaluationException(
                $"'{operand}' is a {wire} tensor and cannot be compared with the string {literal}; compare it with a number."),
            (not ElementKind.Bool, LiteralKind.Bool) => throw new ConditionEvaluationException(
                $"'{operand}' is a {wire} tensor and cannot be compared with {literal}; true and false compare with BOOL tensors."),
            (ElementKind.Bool or ElementKind.Integer, LiteralKind.Integer or LiteralKind.Bool) =>
                new(Mode.IntegerLiteral, op, tensor, integer: literal.Integer),
            _ => new(Mode.RealLiteral, op, tensor, real: literal.Real),
        };
    }

    public static ElementTest VersusTensor(SlicedTensor left, CompareOp op, SlicedTensor right, TensorOperand leftOperand, TensorOperand rightOperand)
    {
        if (!left.Sizes.AsSpan().SequenceEqual(right.Sizes))
        {
            throw new ConditionEvaluationException(
                $"'{leftOperand}' selects shape [{string.Join(',', left.Sizes)}] but '{rightOperand}' selects [{string.Join(',', right.Sizes)}]; tensors compare elementwise and need the same shape.");
        }

        bool leftText = left.Reader.Kind == ElementKind.Text;
        if (leftText != (right.Reader.Kind == ElementKind.Text))
        {
            throw new ConditionEvaluationException(
                $"'{leftOperand}' ({left.Reader.Datatype.ToWireName()}) and '{rightOperand}' ({right.Reader.Datatype.ToWireName()}) cannot be compared: BYTES compare only with BYTES.");
        }

        Mode mode = leftText ? Mode.TextTensors
            : left.Reader.Kind != ElementKind.Real && right.Reader.Kind != ElementKind.Real ? Mode.IntegerTensors
            : Mode.RealTensors;
        return new(mode, op, left, right);
    }

    public static ElementTest Membership(SlicedTensor tensor, LiteralSet set, bool negated, TensorOperand operand)
    {
        ElementKind kind = tensor.Reader.Kind;
        bool fits = set.Kind switch
        {
            LiteralKind.Text => kind == ElementKind.Text,
            LiteralKind.Bool => kind == ElementKind.Bool,
            _ => kind != ElementKind.Text,
        };
        if (!fits)
        {
            string what = set.Kind switch { LiteralKind.Text => "strings", LiteralKind.Bool => "booleans", _ => "numbers" };
            throw new ConditionEvaluationException(
                $"'{operand}' is a {tensor.Reader.Datatype.ToWireName()} tensor and cannot be looked up in a list of {what}.");
        }

        return new(Mode.Membership, CompareOp.Equal, tensor, set: set, negated: negated);
    }

    /// <summary>Whether every selected element (of <paramref name="row"/>, or of the whole tensor when -1) passes; false when none is selected.</summary>
    public bool AllHold(int row)
    {
        int[] sizes = _left.Sizes;
        if (_left.Count == 0)
        {
            return false;
        }

        int a = _left.BaseOffset;
        int b = _right.BaseOffset;
        if (row >= 0)
        {
            a += row * _left.RowStride;
            b += row * _right.RowStride;
        }

        int dims = sizes.Length;
        if (dims == 0)
        {
            return Holds(a, b);
        }

        int[] leftStrides = _left.Strides;
        int[] rightStrides = _right.Strides ?? leftStrides;
        Span<int> counters = dims <= 16 ? stackalloc int[dims] : new int[dims];
        counters.Clear();
        while (true)
        {
            if (!Holds(a, b))
            {
                return false;
            }

            // Odometer over the selected dimensions, last fastest (row-major).
            int d = dims - 1;
            for (; d >= 0; d--)
            {
                a += leftStrides[d];
                b += rightStrides[d];
                if (++counters[d] < sizes[d])
                {
                    break;
                }

                a -= leftStrides[d] * sizes[d];
                b -= rightStrides[d] * sizes[d];
                counters[d] = 0;
            }

            if (d < 0)
            {
                return true;
            }
        }
    }

    private bool Holds(int a, int b)
    {
        ElementReader left = _left.Reader;
        switch (_mode)
        {
            case Mode.Truth:
                return left.Kind == ElementKind.Real ? left.Real(a) != 0 : left.Integer(a) != 0;
            case Mode.IntegerLiteral:
                return _op.Apply(left.Integer(a), _integer);
            case Mode.RealLiteral:
                return _op.Apply(left.Real(a), _real);
            case Mode.TextLiteral:
                return _op.Apply(string.CompareOrdinal(left.Text(a), _text), 0);
            case Mode.IntegerTensors:
                return _op.Apply(left.Integer(a), _right.Reader.Integer(b));
            case Mode.RealTensors:
                return _op.Apply(left.Real(a), _right.Reader.Real(b));
            case Mode.TextTensors:
                return _op.Apply(string.CompareOrdinal(left.Text(a), _right.Reader.Text(b)), 0);
            default:
                return Contains(left, a) != _negated;
        }
    }

    private bool Contains(ElementReader reader, int a)
    {
        LiteralSet set = _set!;
        if (reader.Kind == ElementKind.Text)
        {
            string value = reader.Text(a);
            foreach (string text in set.Texts)
            {
                if (string.Equals(value, text, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        if (reader.Kind == ElementKind.Real)
        {
            double value = reader.Real(a);
            foreach (double real in set.Reals)
            {
                if (value == real)
                {
                    return true;
                }
            }

            return false;
        }

        Int128 exact = reader.Integer(a);
        foreach (Int128 integer in set.Integers)
        {
            if (exact == integer)
            {
                return true;
            }
        }

        if (set.NonIntegers.Length > 0)
        {
            double approximate = (double)exact;
            foreach (double real in set.NonIntegers)
            {
                if (approximate == real)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
