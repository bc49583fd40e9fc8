using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;

namespace Mds.Backend.Streams;

/// <summary>How a stream message is encoded (its output is encoded the same way).</summary>
public enum StreamEncoding
{
    /// <summary>V2 JSON (<see cref="StreamHeaders.Json"/>).</summary>
    Json,

    /// <summary>A protobuf <c>ModelInferRequest</c> / <c>ModelInferResponse</c> (<see cref="StreamHeaders.Protobuf"/>).</summary>
    Protobuf,
}

/// <summary>An input message decoded: the V2 request it carries, its request id and its encoding.</summary>
/// <param name="Message">The delivered message (acknowledged once its output or error is published).</param>
/// <param name="RequestId">Its <c>mds-request-id</c> (made up when it had none).</param>
/// <param name="Encoding">How it was encoded.</param>
/// <param name="Raw">Protobuf only: its inputs came as <c>raw_input_contents</c>, so the outputs go as <c>raw_output_contents</c>.</param>
/// <param name="Request">The request.</param>
public sealed record DecodedMessage(StreamMessage Message, string RequestId, StreamEncoding Encoding, bool Raw, InferenceRequest Request)
{
    /// <summary>The rows every input agrees on (first dimension), or -1 when they disagree or an input is a scalar: such a message is never combined with others.</summary>
    public long Rows { get; } = RowsOf(Request);

    private static long RowsOf(InferenceRequest request)
    {
        long rows = -1;
        foreach (var input in request.Inputs)
        {
            if (input.Shape.Length == 0 || (rows >= 0 && input.Shape[0] != rows))
            {
                return -1;
            }

            rows = input.Shape[0];
        }

        return rows > 0 ? rows : -1;
    }
}

/// <summary>
/// Decodes input messages (bounded before anything is parsed) and encodes outputs, in V2 JSON or protobuf, with the
/// gateway's own decoders (<see cref="V2JsonCodec"/>, <see cref="GrpcRequestLimits"/> then <see cref="GrpcTensorCodec"/>).
/// Pure: no I/O.
/// </summary>
public static class StreamCodec
{
    /// <summary>The longest <c>mds-request-id</c> taken (a pipeline run's limit, so an id fits every record).</summary>
    public const int MaxRequestIdLength = Pipelines.PipelineRunner.MaxRequestIdLength;

    /// <summary>
    /// The encoding a message declares by its <c>content-type</c> (parameters such as <c>charset</c> ignored); without
    /// one, JSON when the body starts (after white space) with <c>{</c>, else protobuf.
    /// </summary>
    /// <exception cref="InferenceProtocolException">The content type is neither JSON nor protobuf.</exception>
    public static StreamEncoding EncodingOf(IReadOnlyDictionary<string, string> headers, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (headers.TryGetValue(StreamHeaders.ContentType, out var contentType) && !string.IsNullOrWhiteSpace(contentType))
        {
            string media = contentType.Split(';', 2)[0].Trim();
            if (media.Equals(StreamHeaders.Json, StringComparison.OrdinalIgnoreCase))
            {
                return StreamEncoding.Json;
            }

            if (media.Equals(StreamHeaders.Protobuf, StringComparison.OrdinalIgnoreCase) || media.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase))
            {
                return StreamEncoding.Protobuf;
            }

            throw new InferenceProtocolException($"content-type '{Shorten(contentType)}' is neither {StreamHeaders.Json} nor {StreamHeaders.Protobuf}");
        }

        foreach (byte b in data)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                continue;
            }

            return b == (byte)'{' ? StreamEncoding.Json : StreamEncoding.Protobuf;
        }

        return StreamEncoding.Json;
    }

    /// <summary>Decodes <paramref name="message"/>'s body as a V2 request.</summary>
    /// <exception cref="InferenceProtocolException">Too large, malformed, or not a valid request; the message says why.</exception>
    public static DecodedMessage Decode(StreamMessage message, string requestId, int maxBytes, GrpcRequestLimits limits)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(limits);
        var data = message.Data;
        if (data.Length > maxBytes)
        {
            throw new InferenceProtocolException($"the message is {data.Length} bytes, more than the {maxBytes} allowed (Mds:Streaming:MaxMessageBytes)");
        }

        var encoding = EncodingOf(message.Headers, data.Span);
        if (encoding == StreamEncoding.Json)
        {
            return new DecodedMessage(message, requestId, encoding, false, V2JsonCodec.DecodeRequest(data.Span));
        }

        ModelInferRequest parsed;
        try
        {
            limits.Check(new ReadOnlySequence<byte>(data));
            parsed = ModelInferRequest.Parser.ParseFrom(data.Span);
        }
        catch (RpcException e)
        {
            throw new InferenceProtocolException("not a valid ModelInferRequest: " + e.Status.Detail, e);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InferenceProtocolException("not a valid ModelInferRequest (malformed protobuf): " + e.Message, e);
        }

        return new DecodedMessage(message, requestId, encoding, parsed.RawInputContents.Count > 0, GrpcTensorCodec.Decode(parsed));
    }

    /// <summary>Encodes <paramref name="response"/> as the answer to <paramref name="input"/>: its encoding (and raw contents for raw protobuf inputs).</summary>
    public static byte[] EncodeResponse(DecodedMessage input, InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(response);
        if (input.Encoding == StreamEncoding.Protobuf)
        {
            return GrpcTensorCodec.Encode(response, input.Raw).ToByteArray();
        }

        var body = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteResponse(body, response);
        return body.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The headers an output or error carries from its input: <c>mds-request-id</c>, <c>traceparent</c> and every
    /// <c>x-</c> header, with <paramref name="contentType"/>.
    /// </summary>
    public static Dictionary<string, string> CopiedHeaders(IReadOnlyDictionary<string, string> input, string requestId, string contentType)
    {
        ArgumentNullException.ThrowIfNull(input);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [StreamHeaders.RequestId] = requestId,
            [StreamHeaders.ContentType] = contentType,
        };
        foreach (var (name, value) in input)
        {
            string lower = name.ToLowerInvariant();
            if (lower == StreamHeaders.TraceParent || lower.StartsWith("x-", StringComparison.Ordinal))
            {
                headers[lower] = value;
            }
        }

        return headers;
    }

    /// <summary>The content type of <paramref name="encoding"/>.</summary>
    public static string ContentTypeOf(StreamEncoding encoding) => encoding == StreamEncoding.Protobuf ? StreamHeaders.Protobuf : StreamHeaders.Json;

    internal static string Shorten(string text) => text.Length > 200 ? text[..200] + "…" : text;
}
