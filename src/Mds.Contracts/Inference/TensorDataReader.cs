using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Mds.Contracts.Inference;

/// <summary>
/// Decodes a tensor's <c>data</c> (flat row-major, or nested exactly as the shape) straight into its typed array.
/// Hot path (see <see cref="V2JsonCodec"/>): one generic loop per datatype, specialised by the JIT through the
/// struct element readers, so there is no boxing or per-element allocation apart from BYTES' strings.
/// </summary>
internal static class TensorDataReader
{
    /// <summary>Reads <c>data</c>; <paramref name="reader"/> is on its first token and ends on its last.</summary>
    /// <param name="reader">The reader, on the value of the <c>data</c> property.</param>
    /// <param name="scope">The tensor, for error messages.</param>
    /// <param name="datatype">The tensor's datatype (known, valid).</param>
    /// <param name="shape">The tensor's shape.</param>
    /// <param name="count">The product of <paramref name="shape"/>.</param>
    /// <param name="bodyLength">The whole body's length in bytes, which bounds how many elements it can hold.</param>
    public static Array Read(
        ref Utf8JsonReader reader, ref DecodeScope scope, TensorDatatype datatype, long[] shape, int count, long bodyLength) => datatype switch
    {
        TensorDatatype.Bool => Read<bool, BoolElement>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.UInt8 => Read<byte, UInt8Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.UInt16 => Read<ushort, UInt16Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.UInt32 => Read<uint, UInt32Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.UInt64 => Read<ulong, UInt64Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Int8 => Read<sbyte, Int8Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Int16 => Read<short, Int16Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Int32 => Read<int, Int32Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Int64 => Read<long, Int64Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Fp16 => Read<Half, Fp16Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Bf16 => Read<BFloat16, Bf16Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Fp32 => Read<float, Fp32Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Fp64 => Read<double, Fp64Element>(ref reader, ref scope, datatype, shape, count, bodyLength),
        TensorDatatype.Bytes => Read<string, BytesElement>(ref reader, ref scope, datatype, shape, count, bodyLength),
        _ => throw new UnreachableException($"Datatype {datatype} has no element reader."),
    };

    /// <summary>Describes the current token for a message: <c>300</c>, <c>"abc"</c>, <c>true</c>, <c>an object</c>.</summary>
    public static string Describe(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                string number = reader.HasValueSequence
                    ? Encoding.UTF8.GetString(reader.ValueSequence.ToArray())
                    : Encoding.UTF8.GetString(reader.ValueSpan);
                return DecodeScope.Truncate(number);
            case JsonTokenType.String:
                return $"\"{DecodeScope.Truncate(reader.GetString()!)}\"";
            case JsonTokenType.True:
                return "true";
            case JsonTokenType.False:
                return "false";
            case JsonTokenType.Null:
                return "null";
            case JsonTokenType.StartArray:
                return "an array";
            case JsonTokenType.StartObject:
                return "an object";
            default:
                return reader.TokenType.ToString();
        }
    }

    /// <summary><c>[2,3]</c>.</summary>
    public static string FormatShape(long[] shape) => $"[{string.Join(',', shape)}]";

    /// <summary><c>expected 6 elements for shape [2,3] but got 5</c>.</summary>
    public static InferenceProtocolException CountMismatch(ref DecodeScope scope, long[] shape, long expected, long actual) =>
        scope.Error($"expected {Elements(expected)} for shape {FormatShape(shape)} but got {actual}");

    private static string Elements(long count) => count == 1 ? "1 element" : $"{count} elements";

    private static T[] Read<T, TElement>(
        ref Utf8JsonReader reader, ref DecodeScope scope, TensorDatatype datatype, long[] shape, int count, long bodyLength)
        where TElement : struct, IElementReader<T>
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw scope.Error($"'data' must be an array, not {Describe(ref reader)}");
        }

        // Each element takes at least one byte and a separator: never allocate for a shape the body cannot fill.
        if (count > (bodyLength + 1) / 2)
        {
            throw CountMismatch(ref scope, shape, count, CountLeaves(ref reader));
        }

        T[] data = count == 0 ? [] : GC.AllocateUninitializedArray<T>(count);
        reader.Read();
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            ReadNested<T, TElement>(ref reader, ref scope, datatype, shape, data);
        }
        else
        {
            ReadFlat<T, TElement>(ref reader, ref scope, datatype, shape, data);
        }

        return data;
    }

    // [e0, e1, ...]: the reader starts on the first element (or the closing bracket) and ends on the closing bracket.
    private static void ReadFlat<T, TElement>(
        ref Utf8JsonReader reader, ref DecodeScope scope, TensorDatatype datatype, long[] shape, T[] data)
        where TElement : struct, IElementReader<T>
    {
        int index = 0;
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                throw MixedNesting(ref scope, shape);
            }

            if (index == data.Length)
            {
                throw CountMismatch(ref scope, shape, data.Length, index + CountRemaining(ref reader, ref scope, shape));
            }

            if (!TElement.TryRead(ref reader, out data[index]))
            {
                throw InvalidElement(ref reader, ref scope, datatype, index);
            }

            index++;
            reader.Read();
        }

        if (index != data.Length)
        {
            throw CountMismatch(ref scope, shape, data.Length, index);
        }
    }

    // [[e0, e1], [e2, e3]]: every array at dimension d must hold exactly shape[d] items, arrays above the last
    // dimension and elements in it. The reader starts on the first inner '[' and ends on the outer ']'.
    private static void ReadNested<T, TElement>(
        ref Utf8JsonReader reader, ref DecodeScope scope, TensorDatatype datatype, long[] shape, T[] data)
        where TElement : struct, IElementReader<T>
    {
        int rank = shape.Length;
        if (rank < 2)
        {
            throw NestedTooDeep(ref scope, shape);
        }

        Span<long> seen = rank <= 16 ? stackalloc long[16] : new long[rank];
        int depth = 0;
        int index = 0;
        seen[0] = 0;
        while (true)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    if (depth == rank - 1)
                    {
                        throw NestedTooDeep(ref scope, shape);
                    }

                    if (++seen[depth] > shape[depth])
                    {
                        throw NestingMismatch(ref scope, shape, depth, null);
                    }

                    seen[++depth] = 0;
                    break;

                case JsonTokenType.EndArray:
                    if (seen[depth] != shape[depth])
                    {
                        throw NestingMismatch(ref scope, shape, depth, seen[depth]);
                    }

                    if (depth == 0)
                    {
                        return;
                    }

                    depth--;
                    break;

                default:
                    if (depth != rank - 1)
                    {
                        throw MixedNesting(ref scope, shape);
                    }

                    if (++seen[depth] > shape[depth])
                    {
                        throw NestingMismatch(ref scope, shape, depth, null);
                    }

                    // The per-dimension counts bound index by the product of the shape, i.e. data.Length.
                    if (!TElement.TryRead(ref reader, out data[index]))
                    {
                        throw InvalidElement(ref reader, ref scope, datatype, index);
                    }

                    index++;
                    break;
            }

            reader.Read();
        }
    }

    // Error path of ReadFlat: counts the rest of a flat array, from the current token to its closing bracket.
    private static long CountRemaining(ref Utf8JsonReader reader, ref DecodeScope scope, long[] shape)
    {
        long count = 0;
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                throw MixedNesting(ref scope, shape);
            }

            reader.Skip();
            count++;
            reader.Read();
        }

        return count;
    }

    // Error path: counts the elements (leaves) under the array the reader is on, at any depth.
    private static long CountLeaves(ref Utf8JsonReader reader)
    {
        long count = 0;
        int depth = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    if (depth-- == 0)
                    {
                        return count;
                    }

                    break;
                case JsonTokenType.StartObject:
                    reader.Skip();
                    count++;
                    break;
                default:
                    count++;
                    break;
            }
        }

        return count;
    }

    private static InferenceProtocolException InvalidElement(
        ref Utf8JsonReader reader, ref DecodeScope scope, TensorDatatype datatype, int index) =>
        scope.Error($"element {index} is not a valid {datatype.ToWireName()} ({Describe(ref reader)})");

    private static InferenceProtocolException MixedNesting(ref DecodeScope scope, long[] shape) =>
        scope.Error($"'data' mixes nested arrays and flat elements (shape {FormatShape(shape)})");

    private static InferenceProtocolException NestedTooDeep(ref DecodeScope scope, long[] shape) =>
        scope.Error($"'data' is nested deeper than shape {FormatShape(shape)}");

    private static InferenceProtocolException NestingMismatch(ref DecodeScope scope, long[] shape, int dimension, long? actual) =>
        scope.Error(
            $"nested 'data' does not match shape {FormatShape(shape)}: an array at dimension {dimension} has " +
            (actual is { } n ? $"{Elements(n)}, expected {shape[dimension]}" : $"more than {Elements(shape[dimension])}"));

    private static bool TryReadNonFinite(ref Utf8JsonReader reader, out double value)
    {
        value = 0;
        if (reader.TokenType != JsonTokenType.String)
        {
            return false;
        }

        if (reader.ValueTextEquals("NaN"u8))
        {
            value = double.NaN;
        }
        else if (reader.ValueTextEquals("Infinity"u8))
        {
            value = double.PositiveInfinity;
        }
        else if (reader.ValueTextEquals("-Infinity"u8))
        {
            value = double.NegativeInfinity;
        }
        else
        {
            return false;
        }

        return true;
    }

    private static bool TryParseHalf(ReadOnlySpan<byte> utf8, out Half value) =>
        Half.TryParse(utf8, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && Half.IsFinite(value);

    /// <summary>Reads one element of type <typeparamref name="T"/> from the current token, if its JSON kind and range fit.</summary>
    private interface IElementReader<T>
    {
        static abstract bool TryRead(ref Utf8JsonReader reader, out T value);
    }

    private readonly struct BoolElement : IElementReader<bool>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out bool value)
        {
            value = reader.TokenType == JsonTokenType.True;
            return value || reader.TokenType == JsonTokenType.False;
        }
    }

    private readonly struct UInt8Element : IElementReader<byte>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out byte value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetByte(out value);
        }
    }

    private readonly struct UInt16Element : IElementReader<ushort>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out ushort value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt16(out value);
        }
    }

    private readonly struct UInt32Element : IElementReader<uint>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out uint value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt32(out value);
        }
    }

    private readonly struct UInt64Element : IElementReader<ulong>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out ulong value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out value);
        }
    }

    private readonly struct Int8Element : IElementReader<sbyte>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out sbyte value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetSByte(out value);
        }
    }

    private readonly struct Int16Element : IElementReader<short>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out short value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetInt16(out value);
        }
    }

    private readonly struct Int32Element : IElementReader<int>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out int value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out value);
        }
    }

    private readonly struct Int64Element : IElementReader<long>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out long value)
        {
            value = 0;
            return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value);
        }
    }

    private readonly struct Fp16Element : IElementReader<Half>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out Half value)
        {
            if (reader.TokenType == JsonTokenType.Number)
            {
                // A number split across two segments of a multi-segment body is rare: copying it is fine.
                return reader.HasValueSequence
                    ? TryParseHalf(reader.ValueSequence.ToArray(), out value)
                    : TryParseHalf(reader.ValueSpan, out value);
            }

            bool ok = TryReadNonFinite(ref reader, out double special);
            value = (Half)special;
            return ok;
        }
    }

    private readonly struct Bf16Element : IElementReader<BFloat16>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out BFloat16 value)
        {
            // Read as double and rounded once to BF16; beyond BF16's range is a mistake, as FP16's reader holds.
            if (reader.TokenType == JsonTokenType.Number)
            {
                bool parsed = reader.TryGetDouble(out double number);
                value = BFloat16.FromDouble(number);
                return parsed && BFloat16.IsFinite(value);
            }

            bool ok = TryReadNonFinite(ref reader, out double special);
            value = BFloat16.FromDouble(special);
            return ok;
        }
    }

    private readonly struct Fp32Element : IElementReader<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out float value)
        {
            // TryGetSingle rounds numbers beyond float's range to infinity: a client sending 1e39 made a mistake.
            if (reader.TokenType == JsonTokenType.Number)
            {
                return reader.TryGetSingle(out value) && float.IsFinite(value);
            }

            bool ok = TryReadNonFinite(ref reader, out double special);
            value = (float)special;
            return ok;
        }
    }

    private readonly struct Fp64Element : IElementReader<double>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out double value) =>
            reader.TokenType == JsonTokenType.Number
                ? reader.TryGetDouble(out value) && double.IsFinite(value)
                : TryReadNonFinite(ref reader, out value);
    }

    private readonly struct BytesElement : IElementReader<string>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryRead(ref Utf8JsonReader reader, out string value)
        {
            value = reader.TokenType == JsonTokenType.String ? reader.GetString()! : null!;
            return value is not null;
        }
    }
}
