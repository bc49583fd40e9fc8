using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace Mds.Contracts.Inference;

/// <summary>
/// The binary part of a body in the binary tensor data extension: what follows the JSON header. Tensors take their
/// bytes from it in the order they appear in the JSON.
/// </summary>
internal struct BinarySection
{
    private readonly ReadOnlySequence<byte> _data;
    private long _used;

    public BinarySection(ReadOnlySequence<byte> data)
    {
        _data = data;
        _used = 0;
        IsPresent = true;
    }

    /// <summary>False for a plain JSON body (no <c>Inference-Header-Content-Length</c>).</summary>
    public readonly bool IsPresent { get; }

    /// <summary>Bytes not yet taken by a tensor.</summary>
    public readonly long Remaining => _data.Length - _used;

    /// <summary>Bytes taken so far.</summary>
    public readonly long Used => _used;

    /// <summary>All of the binary part.</summary>
    public readonly long Length => _data.Length;

    /// <summary>The next <paramref name="size"/> bytes (the caller checked <see cref="Remaining"/>).</summary>
    public ReadOnlySequence<byte> Take(long size)
    {
        ReadOnlySequence<byte> taken = _data.Slice(_used, size);
        _used += size;
        return taken;
    }
}

/// <summary>
/// Decodes a tensor's binary data (raw little-endian elements, row-major; BYTES as 4-byte little-endian length +
/// bytes per element) into the same typed array the JSON reader makes. Hot path: one copy from the body's buffers
/// into the array for fixed-size datatypes.
/// </summary>
internal static class BinaryTensorReader
{
    /// <summary>The tensor parameter that gives the size of the tensor's binary data.</summary>
    public const string SizeParameter = "binary_data_size";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Takes <c>binary_data_size</c> out of a tensor's parameters: -1 when absent or null (left as it is), else the
    /// size, with the entry removed so the decoded tensor looks as if it came as JSON (parameters null if it was alone).
    /// </summary>
    public static long TakeSize(ref Dictionary<string, object?>? parameters, ref DecodeScope scope)
    {
        if (parameters is null || !parameters.TryGetValue(SizeParameter, out object? value) || value is null)
        {
            return -1;
        }

        if (value is not long size || size < 0)
        {
            throw scope.Error($"parameter '{SizeParameter}' must be a non-negative integer, not {Describe(value)}");
        }

        parameters.Remove(SizeParameter);
        if (parameters.Count == 0)
        {
            parameters = null;
        }

        return size;
    }

    /// <summary>Reads the tensor's <paramref name="size"/> bytes from <paramref name="binary"/> into its typed array.</summary>
    public static Array Read(ref BinarySection binary, ref DecodeScope scope, TensorDatatype datatype, long[] shape, int count, long size)
    {
        if (!binary.IsPresent)
        {
            throw scope.Error($"'{SizeParameter}' is {size} but no binary data follows the JSON (no Inference-Header-Content-Length header)");
        }

        int elementSize = datatype.ElementSize();
        if (elementSize > 0 && size != (long)count * elementSize)
        {
            throw scope.Error(
                $"'{SizeParameter}' is {size} bytes but shape {TensorDataReader.FormatShape(shape)} of {datatype.ToWireName()} needs {(long)count * elementSize} ({elementSize} per element)");
        }

        if (size > binary.Remaining)
        {
            throw scope.Error(
                $"'{SizeParameter}' {size} goes past the end of the binary data ({binary.Remaining} of {binary.Length} bytes left)");
        }

        ReadOnlySequence<byte> bytes = binary.Take(size);
        return elementSize > 0 ? ReadFixed(bytes, ref scope, datatype, count) : ReadBytes(bytes, ref scope, count);
    }

    // The wire is little-endian, as is every platform .NET runs MDS on; the guard keeps a big-endian port honest.
    private static Array ReadFixed(ReadOnlySequence<byte> bytes, ref DecodeScope scope, TensorDatatype datatype, int count)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The binary tensor data extension needs a little-endian platform.");
        }

        Array data = Allocate(datatype, count);
        bytes.CopyTo(AsBytes(data, bytes.Length));
        if (datatype == TensorDatatype.Bool)
        {
            // A .NET bool must be 0 or 1; anything else is not a BOOL element.
            int bad = ((ReadOnlySpan<byte>)AsBytes(data, count)).IndexOfAnyExcept((byte)0, (byte)1);
            if (bad >= 0)
            {
                throw scope.Error($"BOOL element {bad} is {AsBytes(data, count)[bad]}, not 0 or 1");
            }
        }

        return data;
    }

    private static string[] ReadBytes(ReadOnlySequence<byte> bytes, ref DecodeScope scope, int count)
    {
        // Each element takes at least its 4-byte length: never allocate for more than the bytes can hold.
        if (count > bytes.Length / 4)
        {
            throw scope.Error($"'{SizeParameter}' {bytes.Length} cannot hold {count} BYTES elements (each has a 4-byte length)");
        }

        var data = new string[count];
        var reader = new SequenceReader<byte>(bytes);
        for (int i = 0; i < count; i++)
        {
            if (!reader.TryReadLittleEndian(out int length))
            {
                throw scope.Error($"BYTES element {i}: the binary data ends inside its 4-byte length");
            }

            if (length < 0 || length > reader.Remaining)
            {
                throw scope.Error($"BYTES element {i} has length {(uint)length} but only {reader.Remaining} bytes of the tensor's binary data are left");
            }

            try
            {
                data[i] = reader.UnreadSpan.Length >= length
                    ? StrictUtf8.GetString(reader.UnreadSpan[..length])
                    : StrictUtf8.GetString(reader.UnreadSequence.Slice(0, length).ToArray());
            }
            catch (DecoderFallbackException)
            {
                throw scope.Error($"BYTES element {i} is not valid UTF-8");
            }

            reader.Advance(length);
        }

        if (reader.Remaining != 0)
        {
            throw scope.Error($"BYTES binary data has {reader.Remaining} bytes left after its {count} elements");
        }

        return data;
    }

    private static Array Allocate(TensorDatatype datatype, int count) => datatype switch
    {
        TensorDatatype.Bool => GC.AllocateUninitializedArray<bool>(count),
        TensorDatatype.UInt8 => GC.AllocateUninitializedArray<byte>(count),
        TensorDatatype.UInt16 => GC.AllocateUninitializedArray<ushort>(count),
        TensorDatatype.UInt32 => GC.AllocateUninitializedArray<uint>(count),
        TensorDatatype.UInt64 => GC.AllocateUninitializedArray<ulong>(count),
        TensorDatatype.Int8 => GC.AllocateUninitializedArray<sbyte>(count),
        TensorDatatype.Int16 => GC.AllocateUninitializedArray<short>(count),
        TensorDatatype.Int32 => GC.AllocateUninitializedArray<int>(count),
        TensorDatatype.Int64 => GC.AllocateUninitializedArray<long>(count),
        TensorDatatype.Fp16 => GC.AllocateUninitializedArray<Half>(count),
        TensorDatatype.Bf16 => GC.AllocateUninitializedArray<BFloat16>(count),
        TensorDatatype.Fp32 => GC.AllocateUninitializedArray<float>(count),
        TensorDatatype.Fp64 => GC.AllocateUninitializedArray<double>(count),
        _ => throw new ArgumentOutOfRangeException(nameof(datatype), datatype, "Not a fixed-size datatype."),
    };

    /// <summary>The first <paramref name="length"/> bytes of a primitive array (length fits in an int: it came from a body).</summary>
    internal static Span<byte> AsBytes(Array data, long length) =>
        MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(data), checked((int)length));

    private static string Describe(object value) => value switch
    {
        string text => $"\"{DecodeScope.Truncate(text)}\"",
        bool flag => flag ? "true" : "false",
        double real => real.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };
}
