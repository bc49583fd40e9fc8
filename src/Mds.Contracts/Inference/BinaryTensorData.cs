using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Mds.Contracts.Inference;

/// <summary>
/// The binary tensor data extension of the V2 REST protocol, as Triton has it. A body whose
/// <c>Inference-Header-Content-Length: N</c> header is set holds N bytes of V2 JSON, then the binary data of every
/// tensor whose <c>parameters</c> carry <c>binary_data_size</c> (and no <c>data</c>), concatenated in the JSON's
/// tensor order: raw little-endian elements, row-major; BYTES as a 4-byte little-endian length and the bytes of
/// each element (MDS holds BYTES as strings, so they must be UTF-8). A request asks for binary outputs with
/// <c>"parameters": {"binary_data_output": true}</c> or, per requested output, <c>"binary_data": true</c> (which also
/// overrides the request-level flag when false).
/// </summary>
public static class BinaryTensorData
{
    /// <summary>The extension's name in server metadata.</summary>
    public const string Extension = "binary_tensor_data";

    /// <summary>The header giving the JSON part's length in bytes.</summary>
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    /// <summary>The content type of a body with binary data.</summary>
    public const string ContentType = "application/octet-stream";

    /// <summary>Tensor parameter: the size in bytes of the tensor's binary data.</summary>
    public const string SizeParameter = BinaryTensorReader.SizeParameter;

    /// <summary>Requested-output parameter: true for this output in binary, false for JSON.</summary>
    public const string OutputParameter = "binary_data";

    /// <summary>Request parameter: true for every output in binary unless the requested output says otherwise.</summary>
    public const string AllOutputsParameter = "binary_data_output";

    /// <summary>Parses <c>Inference-Header-Content-Length</c> for a body of <paramref name="bodyLength"/> bytes.</summary>
    /// <exception cref="InferenceProtocolException">Not a non-negative integer, or larger than the body.</exception>
    public static int ParseHeaderLength(string? value, long bodyLength)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
        {
            throw new InferenceProtocolException(
                $"{HeaderLengthHeader} must be a non-negative integer, not '{DecodeScope.Truncate(value ?? "")}'");
        }

        CheckHeaderLength(length, bodyLength);
        return (int)length;
    }

    /// <summary>Decodes a request whose first <paramref name="headerLength"/> bytes are JSON and the rest binary data.</summary>
    /// <exception cref="InferenceProtocolException">The body breaks the protocol; the message names the tensor.</exception>
    public static InferenceRequest DecodeRequest(ReadOnlySequence<byte> body, int headerLength)
    {
        CheckHeaderLength(headerLength, body.Length);
        ReadOnlySequence<byte> json = body.Slice(0, headerLength);
        var binary = new BinarySection(body.Slice(headerLength));
        var reader = json.IsSingleSegment
            ? new Utf8JsonReader(json.FirstSpan, V2BodyReader.Options)
            : new Utf8JsonReader(json, V2BodyReader.Options);
        return V2JsonCodec.ReadRequest(ref reader, headerLength, ref binary);
    }

    /// <inheritdoc cref="DecodeRequest(ReadOnlySequence{byte}, int)"/>
    public static InferenceRequest DecodeRequest(ReadOnlyMemory<byte> body, int headerLength) =>
        DecodeRequest(new ReadOnlySequence<byte>(body), headerLength);

    /// <summary>Decodes a response whose first <paramref name="headerLength"/> bytes are JSON and the rest binary data.</summary>
    /// <exception cref="InferenceProtocolException">The body is not a V2 response.</exception>
    public static InferenceResponse DecodeResponse(ReadOnlyMemory<byte> body, int headerLength)
    {
        CheckHeaderLength(headerLength, body.Length);
        var binary = new BinarySection(new ReadOnlySequence<byte>(body[headerLength..]));
        var reader = new Utf8JsonReader(body.Span[..headerLength], V2BodyReader.Options);
        return V2JsonCodec.ReadResponse(ref reader, headerLength, ref binary);
    }

    /// <summary>
    /// Which of <paramref name="response"/>'s outputs go as binary data, by index; null when none do (a plain JSON
    /// response, exactly as without the extension).
    /// </summary>
    public static bool[]? SelectBinaryOutputs(InferenceRequest request, InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(response);
        bool all = request.Parameters is { } parameters && parameters.TryGetValue(AllOutputsParameter, out object? flag) && flag is true;
        if (!all && request.Outputs is null)
        {
            return null;
        }

        bool[]? binary = null;
        for (int i = 0; i < response.Outputs.Count; i++)
        {
            bool asBinary = all;
            if (request.Outputs is { } requested)
            {
                foreach (RequestedOutput output in requested)
                {
                    if (output.Name == response.Outputs[i].Name && output.Parameters is { } own && own.TryGetValue(OutputParameter, out object? ownFlag) && ownFlag is bool value)
                    {
                        asBinary = value;
                    }
                }
            }

            if (asBinary)
            {
                binary ??= new bool[response.Outputs.Count];
                binary[i] = true;
            }
        }

        return binary;
    }

    /// <summary>
    /// Writes a response's JSON part: outputs flagged in <paramref name="binaryOutputs"/> carry
    /// <c>binary_data_size</c> instead of <c>data</c>. Returns its length, the <c>Inference-Header-Content-Length</c>.
    /// </summary>
    public static int WriteResponseHeader(IBufferWriter<byte> destination, InferenceResponse response, ReadOnlySpan<bool> binaryOutputs)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(response);
        return checked((int)V2BodyWriter.WriteResponse(destination, response, binaryOutputs));
    }

    /// <summary>Writes the binary data of the outputs flagged in <paramref name="binaryOutputs"/>, in order.</summary>
    public static void WriteResponseData(IBufferWriter<byte> destination, InferenceResponse response, ReadOnlySpan<bool> binaryOutputs)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(response);
        for (int i = 0; i < response.Outputs.Count && i < binaryOutputs.Length; i++)
        {
            if (binaryOutputs[i])
            {
                V2BodyWriter.WriteBinaryData(destination, response.Outputs[i]);
            }
        }
    }

    /// <summary>Writes a whole response (JSON part, then binary data); returns the JSON part's length.</summary>
    public static int WriteResponse(IBufferWriter<byte> destination, InferenceResponse response, ReadOnlySpan<bool> binaryOutputs)
    {
        int headerLength = WriteResponseHeader(destination, response, binaryOutputs);
        WriteResponseData(destination, response, binaryOutputs);
        return headerLength;
    }

    /// <summary>
    /// Writes a whole request (used by clients and tests): the JSON part, where inputs flagged in
    /// <paramref name="binaryInputs"/> carry <c>binary_data_size</c> instead of <c>data</c>, then their binary data.
    /// Returns the JSON part's length, to send as <c>Inference-Header-Content-Length</c>.
    /// </summary>
    public static int WriteRequest(IBufferWriter<byte> destination, InferenceRequest request, ReadOnlySpan<bool> binaryInputs)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(request);
        int headerLength = checked((int)V2BodyWriter.WriteRequest(destination, request, binaryInputs));
        for (int i = 0; i < request.Inputs.Count && i < binaryInputs.Length; i++)
        {
            if (binaryInputs[i])
            {
                V2BodyWriter.WriteBinaryData(destination, request.Inputs[i]);
            }
        }

        return headerLength;
    }

    private static void CheckHeaderLength(long length, long bodyLength)
    {
        if (length < 0)
        {
            throw new InferenceProtocolException($"{HeaderLengthHeader} must be a non-negative integer, not {length}");
        }

        if (length > bodyLength)
        {
            throw new InferenceProtocolException($"{HeaderLengthHeader} is {length} but the body has only {bodyLength} bytes");
        }
    }
}
