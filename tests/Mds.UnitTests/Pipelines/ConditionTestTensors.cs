using Mds.Backend.Pipelines;
using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Pipelines;

/// <summary>A dictionary of tensors keyed by reference text (<c>a.outputs.x</c>), for condition tests.</summary>
internal sealed class TestTensors : ITensorSource
{
    private readonly Dictionary<TensorReference, InferenceTensor> _tensors = [];

    public TestTensors Add(string reference, TensorDatatype datatype, long[] shape, Array data)
    {
        Assert.True(TensorReference.TryParse(reference, out var parsed, out _));
        _tensors[parsed] = new InferenceTensor(parsed.Tensor!, datatype, shape, data);
        return this;
    }

    public TestTensors Fp32(string reference, long[] shape, params float[] data) => Add(reference, TensorDatatype.Fp32, shape, data);

    public bool TryGet(TensorReference reference, out InferenceTensor tensor) => _tensors.TryGetValue(reference, out tensor!);

    /// <summary>The values converted to <paramref name="datatype"/>'s element type (numeric datatypes and BOOL).</summary>
    public static Array Numeric(TensorDatatype datatype, params double[] values) => datatype switch
    {
        TensorDatatype.Bool => Array.ConvertAll(values, v => v != 0),
        TensorDatatype.UInt8 => Array.ConvertAll(values, v => (byte)v),
        TensorDatatype.UInt16 => Array.ConvertAll(values, v => (ushort)v),
        TensorDatatype.UInt32 => Array.ConvertAll(values, v => (uint)v),
        TensorDatatype.UInt64 => Array.ConvertAll(values, v => (ulong)v),
        TensorDatatype.Int8 => Array.ConvertAll(values, v => (sbyte)v),
        TensorDatatype.Int16 => Array.ConvertAll(values, v => (short)v),
        TensorDatatype.Int32 => Array.ConvertAll(values, v => (int)v),
        TensorDatatype.Int64 => Array.ConvertAll(values, v => (long)v),
        TensorDatatype.Fp16 => Array.ConvertAll(values, v => (Half)v),
        TensorDatatype.Bf16 => Array.ConvertAll(values, v => (BFloat16)v),
        TensorDatatype.Fp32 => Array.ConvertAll(values, v => (float)v),
        TensorDatatype.Fp64 => values,
        _ => throw new ArgumentOutOfRangeException(nameof(datatype)),
    };
}
