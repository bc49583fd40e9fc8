using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// Calls a model or a pipeline through the backend's gateway with the Open Inference Protocol, as any client would:
/// <c>POST /v2/models/{name}[/versions/{v}]/infer</c> or <c>POST /v2/pipelines/{name}/infer</c> with the request id in the body and in <c>X-Request-Id</c>.
/// </summary>
public sealed class InferenceClient(HttpClient http, BackendToken token)
{
    /// <summary>Sends <paramref name="request"/> (whose id is the request id) and says what came back, failures included.</summary>
    public async Task<InferenceOutcome> InferAsync(string model, int? version, InferenceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(request);
        string path = version is { } v
            ? string.Create(CultureInfo.InvariantCulture, $"v2/models/{Uri.EscapeDataString(model)}/versions/{v}/infer")
            : $"v2/models/{Uri.EscapeDataString(model)}/infer";
        return await InferAtAsync(path, request, cancellationToken);
    }

    /// <summary>Runs a pipeline (<c>POST /v2/pipelines/{name}/infer</c>); the outcome's id is the run's request id.</summary>
    public async Task<InferenceOutcome> InferPipelineAsync(string pipeline, InferenceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pipeline);
        ArgumentNullException.ThrowIfNull(request);
        return await InferAtAsync($"v2/pipelines/{Uri.EscapeDataString(pipeline)}/infer", request, cancellationToken);
    }

    private async Task<InferenceOutcome> InferAtAsync(string path, InferenceRequest request, CancellationToken cancellationToken)
    {
        string requestId = request.Id ?? Guid.NewGuid().ToString("N");
        var body = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(body, request);
        using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body.WrittenSpan.ToArray()) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation(MdsHeaders.RequestId, requestId);
        if (await token.GetAsync() is { } accessToken)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            message.Options.Set(SignInOnUnauthorized.Sender, token);
        }

        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await BackendClient.SendAsync(http, message, cancellationToken);
            byte[] answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            var latency = clock.Elapsed;
            string id = response.Headers.TryGetValues(MdsHeaders.RequestId, out var ids) ? ids.First() : requestId;
            if (!response.IsSuccessStatusCode)
            {
                return InferenceOutcome.Failed(id, latency, response.StatusCode, ErrorOf(answer, response));
            }

            try
            {
                return new InferenceOutcome(id, latency, response.StatusCode, V2JsonCodec.DecodeResponse(answer), null);
            }
            catch (InferenceProtocolException ex)
            {
                return InferenceOutcome.Failed(id, latency, response.StatusCode, "The answer is not a V2 response: " + ex.Message);
            }
        }
        catch (HttpRequestException ex)
        {
            return InferenceOutcome.Failed(requestId, clock.Elapsed, ex.StatusCode, ex.Message);
        }
    }

    // The protocol's {"error": "..."}; anything else (a proxy's page) is described by its status.
    private static string ErrorOf(byte[] body, HttpResponseMessage response)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString() ?? "";
            }

            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
            {
                return detail.GetString() ?? "";
            }
        }
        catch (JsonException)
        {
            // Not JSON.
        }

        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => "The backend refused your sign-in; sign in again.",
            HttpStatusCode.Forbidden => "Your role does not allow calling this model.",
            _ => $"The backend answered {(int)response.StatusCode} {response.ReasonPhrase}.",
        };
    }
}

/// <summary>What an inference call came back with: a response, or an error in words; always the id and the time taken.</summary>
public sealed record InferenceOutcome(string RequestId, TimeSpan Latency, HttpStatusCode? Status, InferenceResponse? Response, string? Error)
{
    /// <summary>A call that did not produce a response.</summary>
    public static InferenceOutcome Failed(string requestId, TimeSpan latency, HttpStatusCode? status, string error)
        => new(requestId, latency, status, null, error);
}
