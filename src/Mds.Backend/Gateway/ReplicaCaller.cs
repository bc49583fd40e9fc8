using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Gateway;

/// <summary>
/// Inference from inside the backend (batch predictions): one V2 request to a Ready replica of a version, picked and
/// retried as the gateway does (power of two choices; on a connection failure, a 503 or a "not loaded here" 404, once
/// more on another replica after the routing table has caught up). Counted in the traffic statistics like gateway calls.
/// </summary>
public sealed class ReplicaCaller(HttpClient http, RoutingTable routing, TrafficStats traffic)
{
    /// <summary>Runs <paramref name="request"/> on a Ready replica of <paramref name="model"/> version <paramref name="version"/>.</summary>
    /// <exception cref="ReplicaUnavailableException">No replica could answer; the message says why.</exception>
    /// <exception cref="InferenceRejectedException">The model refused the request (a 4xx); the message is the worker's.</exception>
    /// <param name="model">The model.</param>
    /// <param name="version">The version.</param>
    /// <param name="request">The request.</param>
    /// <param name="caller">Who the inference is for, as the worker's inference record should name them.</param>
    /// <param name="ct">Cancels the call.</param>
    public async Task<InferenceResponse> InferAsync(string model, int version, InferenceRequest request, string caller, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(body, request);
        string path = $"/v2/models/{Uri.EscapeDataString(model)}/versions/{version.ToString(CultureInfo.InvariantCulture)}/infer";
        string versionText = version.ToString(CultureInfo.InvariantCulture);

        var route = await routing.ResolveAsync(model, version, ct);
        ReplicaEndpoint? tried = null;
        string why = route.Error ?? $"model '{model}' version {version} has no ready replica";
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (attempt > 0)
            {
                route = await routing.CatchUpAsync(model, version, route, ct);
            }

            if (route.Status != RouteStatus.Found || route.PickReplica(except: tried) is not { } replica)
            {
                why = route.Error ?? why;
                break;
            }

            tried = replica;
            long started = Stopwatch.GetTimestamp();
            using var content = new ByteArrayContent(body.WrittenMemory.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(replica.Url), path)) { Content = content };
            message.Headers.Add(MdsHeaders.Caller, caller);
            message.Headers.Add(MdsHeaders.RequestId, request.Id ?? Guid.CreateVersion7().ToString("N"));
            replica.Outstanding.Increment();
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(message, ct);
            }
            catch (HttpRequestException e)
            {
                replica.Outstanding.Suspend(TimeSpan.FromSeconds(5));
                traffic.Record(model, versionText, StatusCodes.Status503ServiceUnavailable, Stopwatch.GetElapsedTime(started));
                why = $"replica on worker '{replica.WorkerName}' could not be reached ({e.Message})";
                continue;
            }
            finally
            {
                replica.Outstanding.Decrement();
            }

            using (response)
            {
                byte[] answer = await response.Content.ReadAsByteArrayAsync(ct);
                traffic.Record(model, versionText, (int)response.StatusCode, Stopwatch.GetElapsedTime(started));
                if (response.IsSuccessStatusCode)
                {
                    return V2JsonCodec.DecodeResponse(answer);
                }

                bool notLoaded = response.StatusCode == HttpStatusCode.NotFound && response.Headers.Contains(MdsHeaders.NotLoaded);
                if (notLoaded || response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    why = $"replica on worker '{replica.WorkerName}' {(notLoaded ? "no longer has it loaded" : "answered 503: " + ErrorOf(answer))}";
                    continue;
                }

                if ((int)response.StatusCode is >= 400 and < 500)
                {
                    throw new InferenceRejectedException(ErrorOf(answer));
                }

                why = $"replica on worker '{replica.WorkerName}' answered {(int)response.StatusCode}: {ErrorOf(answer)}";
            }
        }

        throw new ReplicaUnavailableException(why);
    }

    /// <summary>The <c>error</c> of a V2 error body, else the body itself (shortened).</summary>
    private static string ErrorOf(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // not JSON: the text itself
        }

        string text = System.Text.Encoding.UTF8.GetString(body);
        return text.Length > 300 ? text[..300] + "…" : text;
    }
}

/// <summary>No replica of the version could answer.</summary>
public sealed class ReplicaUnavailableException(string message) : Exception(message);

/// <summary>The model refused the request (the worker answered 4xx).</summary>
public sealed class InferenceRejectedException(string message) : Exception(message);
