using System.Buffers;
using System.Globalization;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;

namespace Mds.Backend.Http;

/// <summary>Whole V2 inference bodies read and written on the backend (pipelines and experiments, which answer themselves rather than forward).</summary>
public static class V2Bodies
{
    /// <summary>Writes a 200 answer: binary tensor data when the request asked for it, else JSON.</summary>
    internal static async Task WriteResponseAsync(HttpContext http, InferenceRequest request, InferenceResponse response)
    {
        var body = new ArrayBufferWriter<byte>();
        if (BinaryTensorData.SelectBinaryOutputs(request, response) is { } binary)
        {
            int headerLength = BinaryTensorData.WriteResponse(body, response, binary);
            http.Response.Headers[BinaryTensorData.HeaderLengthHeader] = headerLength.ToString(CultureInfo.InvariantCulture);
            http.Response.ContentType = BinaryTensorData.ContentType;
        }
        else
        {
            V2JsonCodec.WriteResponse(body, response);
            http.Response.ContentType = "application/json";
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentLength = body.WrittenCount;
        await http.Response.Body.WriteAsync(body.WrittenMemory, http.RequestAborted);
    }

    /// <summary>
    /// Reads the request as <see cref="ReadRequestAsync"/> does, or answers the caller why it cannot be read (400 for a
    /// malformed body, 413 over <paramref name="limit"/> bytes) and returns null.
    /// </summary>
    internal static async Task<InferenceRequest?> ReadRequestOrAnswerAsync(HttpContext http, long limit)
    {
        InferenceRequest? request;
        try
        {
            request = await ReadRequestAsync(http, limit);
        }
        catch (InferenceProtocolException e)
        {
            await ApiResults.V2Error(StatusCodes.Status400BadRequest, e.Message).ExecuteAsync(http);
            return null;
        }
        catch (BadHttpRequestException e)
        {
            await ApiResults.V2Error(e.StatusCode, e.Message).ExecuteAsync(http);
            return null;
        }

        if (request is null)
        {
            await ApiResults.V2Error(StatusCodes.Status413PayloadTooLarge, $"request body is larger than {limit / (1024 * 1024)} MiB").ExecuteAsync(http);
        }

        return request;
    }

    /// <summary>
    /// Reads and decodes the whole body; null when it is larger than <paramref name="limit"/> bytes (checked before
    /// anything is decoded). With <c>Inference-Header-Content-Length</c> the body is JSON then binary tensor data
    /// (whatever its content type).
    /// </summary>
    internal static Task<InferenceRequest?> ReadRequestAsync(HttpContext context, long limit) =>
        BoundedBody.ReadAsync(context, limit, body => context.Request.Headers.TryGetValue(BinaryTensorData.HeaderLengthHeader, out var headerLength)
            ? BinaryTensorData.DecodeRequest(body, BinaryTensorData.ParseHeaderLength(headerLength.ToString(), body.Length))
            : V2JsonCodec.DecodeRequest(body));
}
