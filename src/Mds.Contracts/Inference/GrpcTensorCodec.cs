using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;

namespace Mds.Contracts.Inference.Grpc;

// Hot path: one decode and one encode per gRPC inference request. Typed contents are copied once into the typed array
// an InferenceTensor holds; raw contents are reinterpreted as little-endian elements (MDS runs on little-endian hosts
// only: x64 and arm64) and copied once. No LINQ or boxing per element, no logging.

/// <summary>
/// Turns a gRPC <see cref="ModelInferRequest"/> into the <see cref="InferenceRequest"/> the REST path decodes to, and an
/// <see cref="InferenceResponse"/> back into a <see cref="ModelInferResponse"/>: typed contents (<c>contents</c>) or raw
/// contents (<c>raw_input_contents</c>, <c>raw_output_contents</c>: little-endian elements, a BYTES element as a
/// 4-byte little-endian length and its bytes, as Triton lays them out). Pure: no I/O, no DI.
/// </summary>
public static class GrpcTensorCodec
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Decodes <paramref name="request"/>.</summary>
    /// <exception cref="InferenceProtocolException">The request breaks the protocol; the message names the tensor.</exception>
    public static InferenceRequest Decode(ModelInferRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var inputs = request.Inputs;
        if (inputs.Count == 0)
        {
            throw new InferenceProtocolException("request: 'inputs' is empty");
        }

        var raw = request.RawInputContents;
        if (raw.Count > 0 && raw.Count != inputs.Count)
        {
            throw new InferenceProtocolException($"request: raw_input_contents has {raw.Count} entries but the request has {inputs.Count} inputs (one each, in order)");
        }

        var tensors = new InferenceTensor[inputs.Count];
        for (int i = 0; i < tensors.Length; i++)
        {
            var input = inputs[i];
            string label = string.IsNullOrEmpty(input.Name) ? $"input #{i}" : $"input '{Truncate(input.Name)}'";
            if (input.Name.Length == 0)
            {
                throw new InferenceProtocolException($"{label} has no 'name'");
            }

            for (int j = 0; j < i; j++)
            {
                if (tensors[j].Name == input.Name)
                {
                    throw new InferenceProtocolException($"{label} appears more than once");
                }
            }

            var datatype = TensorDatatypes.Parse(input.Datatype);
            if (datatype == TensorDatatype.Invalid)
            {
                throw new InferenceProtocolException(input.Datatype.Length == 0
                    ? $"{label} has no 'datatype'"
                    : $"{label}: unsupported datatype '{Truncate(input.Datatype)}'");
            }

            long[] shape = ReadShape(label, input.Shape);
            int count = ElementCount(label, shape);
            Array data;
            if (raw.Count > 0)
            {
                if (input.Contents is not null && HasAnyContents(input.Contents))
                {
                    throw new InferenceProtocolException($"{label} has both 'contents' and raw_input_contents; send one or the other");
                }

                data = ReadRaw(label, datatype, shape, count, raw[i].Span);
            }
            else
            {
                data = ReadTyped(label, datatype, shape, count, input.Contents ?? EmptyContents);
            }

            tensors[i] = new InferenceTensor(input.Name, datatype, shape, data, ToParameters(input.Parameters));
        }

        RequestedOutput[]? outputs = null;
        if (request.Outputs.Count > 0)
        {
            outputs = new RequestedOutput[request.Outputs.Count];
            for (int i = 0; i < outputs.Length; i++)
            {
                var output = request.Outputs[i];
                if (output.Name.Length == 0)
                {
                    throw new InferenceProtocolException($"requested output #{i} has no 'name'");
                }

                outputs[i] = new RequestedOutput(output.Name, ToParameters(output.Parameters));
            }
        }

        return new InferenceRequest
        {
            Id = request.Id.Length > 0 ? request.Id : null,
            Parameters = ToParameters(request.Parameters),
            Inputs = tensors,
            Outputs = outputs,
        };
    }

    /// <summary>
    /// Encodes <paramref name="response"/>: in <c>raw_output_contents</c> when <paramref name="raw"/> (the request sent
    /// raw inputs) or when an output is FP16 or BF16, which have no typed field; otherwise in each output's <c>contents</c>.
    /// </summary>
    public static ModelInferResponse Encode(InferenceResponse response, bool raw)
    {
        ArgumentNullException.ThrowIfNull(response);
        var outputs = response.Outputs;
        for (int i = 0; i < outputs.Count && !raw; i++)
        {
            raw = outputs[i].Datatype is TensorDatatype.Fp16 or TensorDatatype.Bf16;
        }

        var message = new ModelInferResponse
        {
            ModelName = response.ModelName,
            ModelVersion = response.ModelVersion ?? "",
            Id = response.Id ?? "",
        };
        AddParameters(message.Parameters, response.Parameters);
        for (int i = 0; i < outputs.Count; i++)
        {
            var tensor = outputs[i];
            var output = new ModelInferResponse.Types.InferOutputTensor { Name = tensor.Name, Datatype = tensor.Datatype.ToWireName() };
            output.Shape.AddRange(tensor.Shape);
            AddParameters(output.Parameters, tensor.Parameters);
            if (raw)
            {
                message.RawOutputContents.Add(WriteRaw(tensor));
            }
            else
            {
                output.Contents = WriteTyped(tensor);
            }

            message.Outputs.Add(output);
        }

        return message;
    }

    private static readonly InferTensorContents EmptyContents = new();

    private static long[] ReadShape(string label, RepeatedField<long> dimensions)
    {
        var shape = new long[dimensions.Count];
        for (int axis = 0; axis < shape.Length; axis++)
        {
            long d = dimensions[axis];
            if (d < 0)
            {
                throw new InferenceProtocolException($"{label}: shape dimension {axis} must be a non-negative integer, not {d}");
            }

            shape[axis] = d;
        }

        return shape;
    }

    private static int ElementCount(string label, long[] shape)
    {
        // Checked as REST's reader does: [2, 2^62] must not wrap around to a small count (it did: 2 * 2^62 is 0 in a long).
        long count;
        try
        {
            count = InferenceTensor.ElementCount(shape);
        }
        catch (OverflowException)
        {
            count = long.MaxValue;
        }

        if (count > Array.MaxLength)
        {
            throw new InferenceProtocolException($"{label}: shape {FormatShape(shape)} has too many elements");
        }

        return (int)count;
    }

    private static bool HasAnyContents(InferTensorContents c) =>
        c.BoolContents.Count + c.IntContents.Count + c.Int64Contents.Count + c.UintContents.Count + c.Uint64Contents.Count
        + c.Fp32Contents.Count + c.Fp64Contents.Count + c.BytesContents.Count > 0;

    private static Array ReadTyped(string label, TensorDatatype datatype, long[] shape, int count, InferTensorContents contents)
    {
        switch (datatype)
        {
            case TensorDatatype.Bool:
                return Copy(label, shape, count, contents.BoolContents, "bool_contents");
            case TensorDatatype.Int32:
                return Copy(label, shape, count, contents.IntContents, "int_contents");
            case TensorDatatype.Int64:
                return Copy(label, shape, count, contents.Int64Contents, "int64_contents");
            case TensorDatatype.UInt32:
                return Copy(label, shape, count, contents.UintContents, "uint_contents");
            case TensorDatatype.UInt64:
                return Copy(label, shape, count, contents.Uint64Contents, "uint64_contents");
            case TensorDatatype.Fp32:
                return Copy(label, shape, count, contents.Fp32Contents, "fp32_contents");
            case TensorDatatype.Fp64:
                return Copy(label, shape, count, contents.Fp64Contents, "fp64_contents");
            case TensorDatatype.Int8:
            {
                var source = Checked(label, shape, count, contents.IntContents, "int_contents");
                var data = new sbyte[count];
                for (int i = 0; i < count; i++)
                {
                    int v = source[i];
                    data[i] = v is >= sbyte.MinValue and <= sbyte.MaxValue ? (sbyte)v : throw OutOfRange(label, i, datatype, v);
                }

                return data;
            }

            case TensorDatatype.Int16:
            {
                var source = Checked(label, shape, count, contents.IntContents, "int_contents");
                var data = new short[count];
                for (int i = 0; i < count; i++)
                {
                    int v = source[i];
                    data[i] = v is >= short.MinValue and <= short.MaxValue ? (short)v : throw OutOfRange(label, i, datatype, v);
                }

                return data;
            }

            case TensorDatatype.UInt8:
            {
                var source = Checked(label, shape, count, contents.UintContents, "uint_contents");
                var data = new byte[count];
                for (int i = 0; i < count; i++)
                {
                    uint v = source[i];
                    data[i] = v <= byte.MaxValue ? (byte)v : throw OutOfRange(label, i, datatype, v);
                }

                return data;
            }

            case TensorDatatype.UInt16:
            {
                var source = Checked(label, shape, count, contents.UintContents, "uint_contents");
                var data = new ushort[count];
                for (int i = 0; i < count; i++)
                {
                    uint v = source[i];
                    data[i] = v <= ushort.MaxValue ? (ushort)v : throw OutOfRange(label, i, datatype, v);
                }

                return data;
            }

            case TensorDatatype.Bytes:
            {
                var source = Checked(label, shape, count, contents.BytesContents, "bytes_contents");
                var data = new string[count];
                for (int i = 0; i < count; i++)
                {
                    data[i] = Utf8(label, i, source[i].Span);
                }

                return data;
            }

            default:
                throw new InferenceProtocolException($"{label}: {datatype.ToWireName()} has no typed contents field; send it in raw_input_contents");
        }
    }

    private static T[] Copy<T>(string label, long[] shape, int count, RepeatedField<T> source, string field)
    {
        Checked(label, shape, count, source, field);
        var data = new T[count];
        source.CopyTo(data, 0);
        return data;
    }

    private static RepeatedField<T> Checked<T>(string label, long[] shape, int count, RepeatedField<T> source, string field) =>
        source.Count == count
            ? source
            : throw new InferenceProtocolException($"{label}: expected {Elements(count)} for shape {FormatShape(shape)} but got {source.Count} (in {field})");

    private static InferenceProtocolException OutOfRange(string label, int index, TensorDatatype datatype, long value) =>
        new($"{label}: element {index} is not a valid {datatype.ToWireName()} ({value})");

    private static Array ReadRaw(string label, TensorDatatype datatype, long[] shape, int count, ReadOnlySpan<byte> bytes)
    {
        switch (datatype)
        {
            case TensorDatatype.Bool:
            {
                RawLength(label, datatype, shape, count, 1, bytes.Length);
                var data = new bool[count];
                for (int i = 0; i < count; i++)
                {
                    data[i] = bytes[i] != 0;
                }

                return data;
            }

            case TensorDatatype.UInt8: return Raw<byte>(label, datatype, shape, count, bytes);
            case TensorDatatype.UInt16: return Raw<ushort>(label, datatype, shape, count, bytes);
            case TensorDatatype.UInt32: return Raw<uint>(label, datatype, shape, count, bytes);
            case TensorDatatype.UInt64: return Raw<ulong>(label, datatype, shape, count, bytes);
            case TensorDatatype.Int8: return Raw<sbyte>(label, datatype, shape, count, bytes);
            case TensorDatatype.Int16: return Raw<short>(label, datatype, shape, count, bytes);
            case TensorDatatype.Int32: return Raw<int>(label, datatype, shape, count, bytes);
            case TensorDatatype.Int64: return Raw<long>(label, datatype, shape, count, bytes);
            case TensorDatatype.Fp16: return Raw<Half>(label, datatype, shape, count, bytes);
            case TensorDatatype.Bf16: return Raw<BFloat16>(label, datatype, shape, count, bytes);
            case TensorDatatype.Fp32: return Raw<float>(label, datatype, shape, count, bytes);
            case TensorDatatype.Fp64: return Raw<double>(label, datatype, shape, count, bytes);
            case TensorDatatype.Bytes:
            {
                // Each element takes at least its 4-byte length: refuse a shape the bytes cannot hold before allocating for it.
                if (count > bytes.Length / 4)
                {
                    throw new InferenceProtocolException($"{label}: raw contents of {bytes.Length} bytes cannot hold the {Elements(count)} of shape {FormatShape(shape)} (each BYTES element has a 4-byte length)");
                }

                var data = new string[count];
                int offset = 0;
                for (int i = 0; i < count; i++)
                {
                    if (bytes.Length - offset < 4)
                    {
                        throw new InferenceProtocolException($"{label}: raw contents end before BYTES element {i} of {count} (each is a 4-byte little-endian length and its bytes)");
                    }

                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(offset, 4));
                    offset += 4;
                    if (length > (uint)(bytes.Length - offset))
                    {
                        throw new InferenceProtocolException($"{label}: BYTES element {i} says {length} bytes but only {bytes.Length - offset} remain");
                    }

                    data[i] = Utf8(label, i, bytes.Slice(offset, (int)length));
                    offset += (int)length;
                }

                if (offset != bytes.Length)
                {
                    throw new InferenceProtocolException($"{label}: raw contents hold {bytes.Length - offset} bytes after the {Elements(count)} of shape {FormatShape(shape)}");
                }

                return data;
            }

            default:
                throw new InferenceProtocolException($"{label}: datatype {datatype.ToWireName()} is not supported");
        }
    }

    private static T[] Raw<T>(string label, TensorDatatype datatype, long[] shape, int count, ReadOnlySpan<byte> bytes)
        where T : unmanaged
    {
        RawLength(label, datatype, shape, count, Marshal.SizeOf<T>(), bytes.Length);
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    private static void RawLength(string label, TensorDatatype datatype, long[] shape, int count, int size, int actual)
    {
        long expected = (long)count * size;
        if (actual != expected)
        {
            throw new InferenceProtocolException($"{label}: expected {expected} bytes of raw contents ({Elements(count)} of {datatype.ToWireName()} for shape {FormatShape(shape)}) but got {actual}");
        }
    }

    private static string Utf8(string label, int index, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InferenceProtocolException($"{label}: BYTES element {index} is not valid UTF-8 (MDS carries BYTES as text)");
        }
    }

    // Switch on the datatype, not the array's type: the runtime lets uint[] pass as int[], byte[] as sbyte[] and so on.
    private static InferTensorContents WriteTyped(InferenceTensor tensor)
    {
        var contents = new InferTensorContents();
        var data = tensor.Data;
        switch (tensor.Datatype)
        {
            case TensorDatatype.Bool: contents.BoolContents.AddRange((bool[])data); break;
            case TensorDatatype.Int32: contents.IntContents.AddRange((int[])data); break;
            case TensorDatatype.Int64: contents.Int64Contents.AddRange((long[])data); break;
            case TensorDatatype.UInt32: contents.UintContents.AddRange((uint[])data); break;
            case TensorDatatype.UInt64: contents.Uint64Contents.AddRange((ulong[])data); break;
            case TensorDatatype.Fp32: contents.Fp32Contents.AddRange((float[])data); break;
            case TensorDatatype.Fp64: contents.Fp64Contents.AddRange((double[])data); break;
            case TensorDatatype.Int8:
                foreach (sbyte x in (sbyte[])data)
                {
                    contents.IntContents.Add(x);
                }

                break;
            case TensorDatatype.Int16:
                foreach (short x in (short[])data)
                {
                    contents.IntContents.Add(x);
                }

                break;
            case TensorDatatype.UInt8:
                foreach (byte x in (byte[])data)
                {
                    contents.UintContents.Add(x);
                }

                break;
            case TensorDatatype.UInt16:
                foreach (ushort x in (ushort[])data)
                {
                    contents.UintContents.Add(x);
                }

                break;
            case TensorDatatype.Bytes:
                foreach (string x in (string[])data)
                {
                    contents.BytesContents.Add(ByteString.CopyFromUtf8(x));
                }

                break;
            default:
                throw new InvalidOperationException($"output '{tensor.Name}': {tensor.Datatype.ToWireName()} has no typed contents field");
        }

        return contents;
    }

    private static ByteString WriteRaw(InferenceTensor tensor)
    {
        var data = tensor.Data;
        switch (tensor.Datatype)
        {
            case TensorDatatype.Bool:
            {
                var v = (bool[])data;
                var bytes = new byte[v.Length];
                for (int i = 0; i < v.Length; i++)
                {
                    bytes[i] = v[i] ? (byte)1 : (byte)0;
                }

                return UnsafeByteOperations.UnsafeWrap(bytes);
            }

            case TensorDatatype.Bytes:
            {
                var v = (string[])data;
                int total = 0;
                foreach (string s in v)
                {
                    total += 4 + Encoding.UTF8.GetByteCount(s);
                }

                var bytes = new byte[total];
                int offset = 0;
                foreach (string s in v)
                {
                    int length = Encoding.UTF8.GetBytes(s, bytes.AsSpan(offset + 4));
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset, 4), length);
                    offset += 4 + length;
                }

                return UnsafeByteOperations.UnsafeWrap(bytes);
            }

            case TensorDatatype.UInt8: return ByteString.CopyFrom((byte[])data);
            case TensorDatatype.Int8: return Bytes((sbyte[])data);
            case TensorDatatype.UInt16: return Bytes((ushort[])data);
            case TensorDatatype.Int16: return Bytes((short[])data);
            case TensorDatatype.UInt32: return Bytes((uint[])data);
            case TensorDatatype.Int32: return Bytes((int[])data);
            case TensorDatatype.UInt64: return Bytes((ulong[])data);
            case TensorDatatype.Int64: return Bytes((long[])data);
            case TensorDatatype.Fp16: return Bytes((Half[])data);
            case TensorDatatype.Bf16: return Bytes((BFloat16[])data);
            case TensorDatatype.Fp32: return Bytes((float[])data);
            case TensorDatatype.Fp64: return Bytes((double[])data);
            default:
                throw new InvalidOperationException($"output '{tensor.Name}': {tensor.Datatype.ToWireName()} has no raw layout");
        }
    }

    private static ByteString Bytes<T>(T[] values)
        where T : unmanaged =>
        UnsafeByteOperations.UnsafeWrap(MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static Dictionary<string, object?>? ToParameters(MapField<string, InferParameter> parameters)
    {
        if (parameters.Count == 0)
        {
            return null;
        }

        var result = new Dictionary<string, object?>(parameters.Count, StringComparer.Ordinal);
        foreach (var (key, p) in parameters)
        {
            result[key] = p.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.BoolParam => p.BoolParam,
                InferParameter.ParameterChoiceOneofCase.Int64Param => p.Int64Param,
                InferParameter.ParameterChoiceOneofCase.StringParam => p.StringParam,
                InferParameter.ParameterChoiceOneofCase.DoubleParam => p.DoubleParam,
                // REST's parameters are long or double; a uint64 above long's range keeps its magnitude as a double.
                InferParameter.ParameterChoiceOneofCase.Uint64Param => p.Uint64Param <= long.MaxValue ? (long)p.Uint64Param : (double)p.Uint64Param,
                _ => null,
            };
        }

        return result;
    }

    private static void AddParameters(MapField<string, InferParameter> target, IReadOnlyDictionary<string, object?>? parameters)
    {
        if (parameters is null)
        {
            return;
        }

        foreach (var (key, value) in parameters)
        {
            var p = value switch
            {
                bool b => new InferParameter { BoolParam = b },
                long l => new InferParameter { Int64Param = l },
                int n => new InferParameter { Int64Param = n },
                double d => new InferParameter { DoubleParam = d },
                string s => new InferParameter { StringParam = s },
                null => null,
                _ => new InferParameter { StringParam = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "" },
            };
            if (p is not null)
            {
                target[key] = p;
            }
        }
    }

    private static string Elements(long count) => count == 1 ? "1 element" : $"{count} elements";

    private static string FormatShape(long[] shape) => $"[{string.Join(',', shape)}]";

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");
}
