namespace Mds.Contracts.Inference;

/// <summary>Rows of numbers (from a form or a CSV) as a V2 input tensor of the model's datatype.</summary>
public static class TabularTensor
{
    /// <summary>
    /// A <c>[rows, values.Length / rows]</c> tensor named <paramref name="name"/> holding <paramref name="values"/>
    /// (row-major) converted to <paramref name="datatype"/>; integers are rounded to the nearest.
    /// </summary>
    /// <exception cref="InferenceProtocolException">The datatype is not numeric, or a value does not fit it.</exception>
    public static InferenceTensor Create(string name, TensorDatatype datatype, double[] values, int rows)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        if (values.Length % rows != 0)
        {
            throw new ArgumentException($"{values.Length} values do not make {rows} equal rows", nameof(values));
        }

        return new InferenceTensor(name, datatype, [rows, values.Length / rows], Convert(values, datatype));
    }

    /// <summary><paramref name="values"/> as an array of <paramref name="datatype"/>'s element type.</summary>
    /// <exception cref="InferenceProtocolException">The datatype is not numeric, or a value does not fit it.</exception>
    public static Array Convert(double[] values, TensorDatatype datatype)
    {
        ArgumentNullException.ThrowIfNull(values);
        try
        {
            return datatype switch
            {
                TensorDatatype.Fp32 => values.Select(v => (float)v).ToArray(),
                TensorDatatype.Fp64 => values,
                TensorDatatype.Fp16 => values.Select(v => (Half)v).ToArray(),
                TensorDatatype.Bf16 => values.Select(BFloat16.FromDouble).ToArray(),
                TensorDatatype.Int8 => values.Select(v => checked((sbyte)Math.Round(v))).ToArray(),
                TensorDatatype.Int16 => values.Select(v => checked((short)Math.Round(v))).ToArray(),
                TensorDatatype.Int32 => values.Select(v => checked((int)Math.Round(v))).ToArray(),
                TensorDatatype.Int64 => values.Select(v => checked((long)Math.Round(v))).ToArray(),
                TensorDatatype.UInt8 => values.Select(v => checked((byte)Math.Round(v))).ToArray(),
                TensorDatatype.UInt16 => values.Select(v => checked((ushort)Math.Round(v))).ToArray(),
                TensorDatatype.UInt32 => values.Select(v => checked((uint)Math.Round(v))).ToArray(),
                TensorDatatype.UInt64 => values.Select(v => checked((ulong)Math.Round(v))).ToArray(),
                _ => throw new InferenceProtocolException($"a {datatype.ToWireName()} tensor cannot be filled from numbers"),
            };
        }
        catch (OverflowException)
        {
            throw new InferenceProtocolException($"a value does not fit the input's datatype {datatype.ToWireName()}");
        }
    }

    /// <summary>A numeric tensor's data as doubles; null for BYTES and BOOL data.</summary>
    public static double[]? ToDoubles(Array data) => data switch
    {
        float[] a => [.. a.Select(v => (double)v)],
        double[] a => a,
        Half[] a => [.. a.Select(v => (double)v)],
        BFloat16[] a => [.. a.Select(v => (double)v)],
        sbyte[] a => [.. a.Select(v => (double)v)],
        short[] a => [.. a.Select(v => (double)v)],
        int[] a => [.. a.Select(v => (double)v)],
        long[] a => [.. a.Select(v => (double)v)],
        byte[] a => [.. a.Select(v => (double)v)],
        ushort[] a => [.. a.Select(v => (double)v)],
        uint[] a => [.. a.Select(v => (double)v)],
        ulong[] a => [.. a.Select(v => (double)v)],
        _ => null,
    };
}
