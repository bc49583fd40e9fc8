using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Mds.Contracts.Inference;

/// <summary>
/// Writes V2 request and response bodies with a <see cref="Utf8JsonWriter"/>. Hot path (see <see cref="V2JsonCodec"/>):
/// one typed loop per datatype, flat row-major data, non-finite floats as the strings "NaN", "Infinity", "-Infinity".
/// </summary>
internal static class V2BodyWriter
{
    // Bodies go out as application/json and are never inlined into HTML, so only JSON's own escaping is needed;
    // validation is skipped because the structure below is fixed.
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static readonly JsonEncodedText ModelNameProperty = JsonEncodedText.Encode("model_name");
    private static readonly JsonEncodedText ModelVersionProperty = JsonEncodedText.Encode("model_version");
    private static readonly JsonEncodedText IdProperty = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText ParametersProperty = JsonEncodedText.Encode("parameters");
    private static readonly JsonEncodedText InputsProperty = JsonEncodedText.Encode("inputs");
    private static readonly JsonEncodedText OutputsProperty = JsonEncodedText.Encode("outputs");
    private static readonly JsonEncodedText NameProperty = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText ShapeProperty = JsonEncodedText.Encode("shape");
    private static readonly JsonEncodedText DatatypeProperty = JsonEncodedText.Encode("datatype");
    private static readonly JsonEncodedText DataProperty = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText BinaryDataSizeProperty = JsonEncodedText.Encode(BinaryTensorReader.SizeParameter);
    private static readonly Dictionary<string, object?> EmptyParameters = [];
    private static readonly JsonEncodedText NaNText = JsonEncodedText.Encode("NaN");
    private static readonly JsonEncodedText PositiveInfinityText = JsonEncodedText.Encode("Infinity");
    private static readonly JsonEncodedText NegativeInfinityText = JsonEncodedText.Encode("-Infinity");

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>Writes a response; outputs flagged in <paramref name="binary"/> get <c>binary_data_size</c> instead of <c>data</c>.</summary>
    public static long WriteResponse(IBufferWriter<byte> destination, InferenceResponse response, ReadOnlySpan<bool> binary = default)
    {
        var writer = RentWriter(destination);
        try
        {
            return WriteResponse(writer, response, binary);
        }
        finally
        {
            ReturnWriter(writer);
        }
    }

    /// <summary>
    /// A writer for <paramref name="destination"/>: this thread's cached one when it is free (a writer is a few hundred
    /// bytes and its options; one per response is most of what writing a small answer allocates), else a new one.
    /// </summary>
    private static Utf8JsonWriter RentWriter(IBufferWriter<byte> destination)
    {
        var writer = t_writer;
        if (writer is null)
        {
            return new Utf8JsonWriter(destination, Options);
        }

        t_writer = null; // in use: a nested write gets a writer of its own
        writer.Reset(destination);
        return writer;
    }

    /// <summary>
    /// Gives the writer back to this thread, pointed at an empty sink: <c>Reset()</c> alone would keep the destination
    /// (and a large answer's buffer) alive until this thread writes again. Nothing writes to the sink: a rented writer is
    /// always reset to its own destination first.
    /// </summary>
    private static void ReturnWriter(Utf8JsonWriter writer)
    {
        writer.Reset(Idle);
        t_writer = writer;
    }

    private static readonly ArrayBufferWriter<byte> Idle = new(1);

    private static long WriteResponse(Utf8JsonWriter writer, InferenceResponse response, ReadOnlySpan<bool> binary)
    {
        writer.WriteStartObject();
        writer.WriteString(ModelNameProperty, response.ModelName);
        if (response.ModelVersion is not null)
        {
            writer.WriteString(ModelVersionProperty, response.ModelVersion);
        }

        if (response.Id is not null)
        {
            writer.WriteString(IdProperty, response.Id);
        }

        if (response.Parameters is not null)
        {
            WriteParameters(writer, response.Parameters);
        }

        writer.WriteStartArray(OutputsProperty);
        for (int i = 0; i < response.Outputs.Count; i++)
        {
            WriteTensor(writer, response.Outputs[i], i < binary.Length && binary[i]);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return writer.BytesCommitted;
    }

    /// <summary>Writes a request; inputs flagged in <paramref name="binary"/> get <c>binary_data_size</c> instead of <c>data</c>.</summary>
    public static long WriteRequest(IBufferWriter<byte> destination, InferenceRequest request, ReadOnlySpan<bool> binary = default)
    {
        var writer = RentWriter(destination);
        try
        {
            return WriteRequest(writer, request, binary);
        }
        finally
        {
            ReturnWriter(writer);
        }
    }

    private static long WriteRequest(Utf8JsonWriter writer, InferenceRequest request, ReadOnlySpan<bool> binary)
    {
        writer.WriteStartObject();
        if (request.Id is not null)
        {
            writer.WriteString(IdProperty, request.Id);
        }

        if (request.Parameters is not null)
        {
            WriteParameters(writer, request.Parameters);
        }

        writer.WriteStartArray(InputsProperty);
        for (int i = 0; i < request.Inputs.Count; i++)
        {
            WriteTensor(writer, request.Inputs[i], i < binary.Length && binary[i]);
        }

        writer.WriteEndArray();
        if (request.Outputs is not null)
        {
            writer.WriteStartArray(OutputsProperty);
            foreach (RequestedOutput output in request.Outputs)
            {
                writer.WriteStartObject();
                writer.WriteString(NameProperty, output.Name);
                if (output.Parameters is not null)
                {
                    WriteParameters(writer, output.Parameters);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        writer.Flush();
        return writer.BytesCommitted;
    }

    /// <summary>
    /// Writes a tensor's elements as the binary tensor data extension has them: raw little-endian, row-major (one copy
    /// of the array's memory); BYTES as a 4-byte little-endian length and the UTF-8 bytes of each element.
    /// </summary>
    public static void WriteBinaryData(IBufferWriter<byte> destination, InferenceTensor tensor)
    {
        int elementSize = tensor.Datatype.ElementSize();
        if (elementSize > 0)
        {
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("The binary tensor data extension needs a little-endian platform.");
            }

            destination.Write((ReadOnlySpan<byte>)BinaryTensorReader.AsBytes(tensor.Data, (long)tensor.Data.Length * elementSize));
            return;
        }

        foreach (string value in (string[])tensor.Data)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            Span<byte> span = destination.GetSpan(4 + length);
            BinaryPrimitives.WriteInt32LittleEndian(span, length);
            Encoding.UTF8.GetBytes(value, span[4..]);
            destination.Advance(4 + length);
        }
    }

    /// <summary>The size of <see cref="WriteBinaryData"/>'s output for a tensor.</summary>
    public static long BinaryDataSize(InferenceTensor tensor)
    {
        int elementSize = tensor.Datatype.ElementSize();
        if (elementSize > 0)
        {
            return (long)tensor.Data.Length * elementSize;
        }

        long size = 0;
        foreach (string value in (string[])tensor.Data)
        {
            size += 4 + Encoding.UTF8.GetByteCount(value);
        }

        return size;
    }

    private static void WriteTensor(Utf8JsonWriter writer, InferenceTensor tensor, bool binary)
    {
        writer.WriteStartObject();
        writer.WriteString(NameProperty, tensor.Name);
        writer.WriteStartArray(ShapeProperty);
        foreach (long dim in tensor.Shape)
        {
            writer.WriteNumberValue(dim);
        }

        writer.WriteEndArray();
        writer.WriteString(DatatypeProperty, tensor.Datatype.ToWireName());
        if (binary)
        {
            WriteParameters(writer, tensor.Parameters, BinaryDataSize(tensor));
            writer.WriteEndObject();
            return;
        }

        if (tensor.Parameters is not null)
        {
            WriteParameters(writer, tensor.Parameters);
        }

        writer.WriteStartArray(DataProperty);
        WriteElements(writer, tensor.Datatype, tensor.Data);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    // Switch on the datatype, not on the array's type: the runtime lets an int[] pattern match a uint[] (and
    // sbyte[]/byte[], short[]/ushort[], long[]/ulong[]). InferenceTensor guarantees the array fits the datatype.
    private static void WriteElements(Utf8JsonWriter writer, TensorDatatype datatype, Array data)
    {
        switch (datatype)
        {
            case TensorDatatype.Fp32:
                foreach (float value in (float[])data)
                {
                    if (float.IsFinite(value))
                    {
                        writer.WriteNumberValue(value);
                    }
                    else
                    {
                        writer.WriteStringValue(NonFinite(value));
                    }
                }

                break;
            case TensorDatatype.Fp64:
                foreach (double value in (double[])data)
                {
                    if (double.IsFinite(value))
                    {
                        writer.WriteNumberValue(value);
                    }
                    else
                    {
                        writer.WriteStringValue(NonFinite(value));
                    }
                }

                break;
            case TensorDatatype.Fp16:
                WriteHalves(writer, (Half[])data);
                break;
            case TensorDatatype.Bf16:
                WriteBFloat16s(writer, (BFloat16[])data);
                break;
            case TensorDatatype.Int64:
                foreach (long value in (long[])data)
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case TensorDatatype.Int32:
                foreach (int value in (int[])data)
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case TensorDatatype.Int16:
                foreach (short value in (short[])data)
                {
                    writer.WriteNumberValue((int)value);
                }

                break;
            case TensorDatatype.Int8:
                foreach (sbyte value in (sbyte[])data)
                {
                    writer.WriteNumberValue((int)value);
                }

                break;
            case TensorDatatype.UInt64:
                foreach (ulong value in (ulong[])data)
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case TensorDatatype.UInt32:
                foreach (uint value in (uint[])data)
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case TensorDatatype.UInt16:
                foreach (ushort value in (ushort[])data)
                {
                    writer.WriteNumberValue((uint)value);
                }

                break;
            case TensorDatatype.UInt8:
                foreach (byte value in (byte[])data)
                {
                    writer.WriteNumberValue((uint)value);
                }

                break;
            case TensorDatatype.Bool:
                foreach (bool value in (bool[])data)
                {
                    writer.WriteBooleanValue(value);
                }

                break;
            case TensorDatatype.Bytes:
                foreach (string value in (string[])data)
                {
                    writer.WriteStringValue(value);
                }

                break;
            default:
                throw new ArgumentException($"Datatype {datatype} cannot be written.", nameof(datatype));
        }
    }

    // Half's own shortest round-trip text ("0.1"), not float's ("0.099975586"), keeps FP16 bodies small.
    private static void WriteHalves(Utf8JsonWriter writer, Half[] values)
    {
        Span<byte> text = stackalloc byte[32];
        foreach (Half value in values)
        {
            if (Half.IsFinite(value) && value.TryFormat(text, out int written, default, CultureInfo.InvariantCulture))
            {
                writer.WriteRawValue(text[..written], skipInputValidation: true);
            }
            else if (Half.IsFinite(value))
            {
                writer.WriteNumberValue((float)value);
            }
            else
            {
                writer.WriteStringValue(NonFinite((double)value));
            }
        }
    }

    // The shortest text that reads back as the same BF16 ("0.1"), not the float's ("0.10009766").
    private static void WriteBFloat16s(Utf8JsonWriter writer, BFloat16[] values)
    {
        Span<byte> text = stackalloc byte[32];
        foreach (BFloat16 value in values)
        {
            if (!BFloat16.IsFinite(value))
            {
                writer.WriteStringValue(NonFinite(value.ToSingle()));
            }
            else if (value.TryFormat(text, out int written, default, CultureInfo.InvariantCulture))
            {
                writer.WriteRawValue(text[..written], skipInputValidation: true);
            }
            else
            {
                writer.WriteNumberValue(value.ToSingle());
            }
        }
    }

    private static JsonEncodedText NonFinite(double value) =>
        double.IsNaN(value) ? NaNText : value > 0 ? PositiveInfinityText : NegativeInfinityText;

    // binaryDataSize >= 0 adds binary_data_size (replacing any such entry in parameters).
    private static void WriteParameters(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?>? parameters, long binaryDataSize = -1)
    {
        writer.WriteStartObject(ParametersProperty);
        foreach (KeyValuePair<string, object?> parameter in parameters ?? EmptyParameters)
        {
            if (binaryDataSize >= 0 && parameter.Key == BinaryTensorReader.SizeParameter)
            {
                continue;
            }

            writer.WritePropertyName(parameter.Key);
            switch (parameter.Value)
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case string text:
                    writer.WriteStringValue(text);
                    break;
                case bool flag:
                    writer.WriteBooleanValue(flag);
                    break;
                case long integer:
                    writer.WriteNumberValue(integer);
                    break;
                case int integer:
                    writer.WriteNumberValue(integer);
                    break;
                case double real when double.IsFinite(real):
                    writer.WriteNumberValue(real);
                    break;
                case double real:
                    writer.WriteStringValue(NonFinite(real));
                    break;
                case float real when float.IsFinite(real):
                    writer.WriteNumberValue(real);
                    break;
                case float real:
                    writer.WriteStringValue(NonFinite(real));
                    break;
                case ulong integer:
                    writer.WriteNumberValue(integer);
                    break;
                case uint integer:
                    writer.WriteNumberValue(integer);
                    break;
                case short integer:
                    writer.WriteNumberValue(integer);
                    break;
                case ushort integer:
                    writer.WriteNumberValue(integer);
                    break;
                case byte integer:
                    writer.WriteNumberValue(integer);
                    break;
                case sbyte integer:
                    writer.WriteNumberValue(integer);
                    break;
                case decimal number:
                    writer.WriteNumberValue(number);
                    break;
                default:
                    throw new ArgumentException(
                        $"Parameter '{parameter.Key}' holds a {parameter.Value.GetType().Name}; V2 parameter values are strings, booleans, numbers or null.",
                        nameof(parameters));
            }
        }

        if (binaryDataSize >= 0)
        {
            writer.WriteNumber(BinaryDataSizeProperty, binaryDataSize);
        }

        writer.WriteEndObject();
    }
}
