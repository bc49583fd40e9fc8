// Hot path: every V2 inference request and response passes through this codec. Bodies are read with one
// Utf8JsonReader straight from the span or sequence and each tensor's data is decoded into its typed array (no
// JsonDocument, no boxing or List<object> per element); bodies are written with Utf8JsonWriter in typed loops.
using System.Buffers;
using System.Text.Json;

namespace Mds.Contracts.Inference;

/// <summary>
/// Hot path: decodes V2 JSON inference requests straight into typed arrays and writes responses with
/// <see cref="System.Text.Json.Utf8JsonWriter"/>. No per-element boxing; one array per tensor.
/// </summary>
public static class V2JsonCodec
{
    /// <summary>
    /// Decodes a request body. <c>data</c> may be flat (row-major) or nested arrays whose nesting matches the shape.
    /// Checks: required fields, known datatype, non-negative shape, element count equal to the shape's product,
    /// each element's JSON kind and range for the datatype (e.g. 300 for UINT8 fails, "x" for FP32 fails).
    /// FP16/FP32/FP64 also accept the strings "NaN", "Infinity", "-Infinity".
    /// </summary>
    /// <exception cref="InferenceProtocolException">The body breaks the protocol; the message names the tensor.</exception>
    public static InferenceRequest DecodeRequest(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, V2BodyReader.Options);
        BinarySection none = default;
        return ReadRequest(ref reader, utf8Json.Length, ref none);
    }

    /// <summary>Decodes a request from a buffer sequence (as read from a request body pipe).</summary>
    /// <exception cref="InferenceProtocolException">The body breaks the protocol.</exception>
    public static InferenceRequest DecodeRequest(ReadOnlySequence<byte> utf8Json)
    {
        if (utf8Json.IsSingleSegment)
        {
            return DecodeRequest(utf8Json.FirstSpan);
        }

        var reader = new Utf8JsonReader(utf8Json, V2BodyReader.Options);
        BinarySection none = default;
        return ReadRequest(ref reader, utf8Json.Length, ref none);
    }

    /// <summary>Writes a response as V2 JSON: model_name, model_version, id, parameters, outputs with flat data.</summary>
    /// <exception cref="ArgumentException">A parameter value is not a string, boolean, number or null.</exception>
    public static void WriteResponse(IBufferWriter<byte> destination, InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(response);
        V2BodyWriter.WriteResponse(destination, response);
    }

    /// <summary>Writes a request as V2 JSON with flat data (used by clients, tests and the portal).</summary>
    /// <exception cref="ArgumentException">A parameter value is not a string, boolean, number or null.</exception>
    public static void WriteRequest(IBufferWriter<byte> destination, InferenceRequest request)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(request);
        V2BodyWriter.WriteRequest(destination, request);
    }

    /// <summary>Decodes a response body (used by clients, tests and the portal).</summary>
    /// <exception cref="InferenceProtocolException">The body is not a V2 response.</exception>
    public static InferenceResponse DecodeResponse(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, V2BodyReader.Options);
        BinarySection none = default;
        return ReadResponse(ref reader, utf8Json.Length, ref none);
    }

    /// <summary>Reads a request's JSON (the header, when binary data follows), wrapping decoding failures.</summary>
    internal static InferenceRequest ReadRequest(ref Utf8JsonReader reader, long bodyLength, ref BinarySection binary)
    {
        try
        {
            return V2BodyReader.ReadRequest(ref reader, bodyLength, ref binary);
        }
        catch (Exception e) when (IsDecodingFailure(e))
        {
            throw Wrap("request", e);
        }
    }

    /// <summary>Reads a response's JSON (the header, when binary data follows), wrapping decoding failures.</summary>
    internal static InferenceResponse ReadResponse(ref Utf8JsonReader reader, long bodyLength, ref BinarySection binary)
    {
        try
        {
            return V2BodyReader.ReadResponse(ref reader, bodyLength, ref binary);
        }
        catch (Exception e) when (IsDecodingFailure(e))
        {
            throw Wrap("response", e);
        }
    }

    // What the reader and the BCL parsers throw on bad input; InferenceProtocolException passes through as it is.
    private static bool IsDecodingFailure(Exception e) =>
        e is JsonException or InvalidOperationException or FormatException or OverflowException or ArgumentException;

    // JsonException: malformed JSON. InvalidOperationException: a string that is not valid UTF-8/UTF-16.
    private static InferenceProtocolException Wrap(string body, Exception e) =>
        e is JsonException or InvalidOperationException
            ? new InferenceProtocolException($"{body} body is not valid JSON: {e.Message}", e)
            : new InferenceProtocolException($"{body} body could not be decoded: {e.Message}", e);
}
