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

/// <summary>Options for one in-process call.</summary>
/// <param name="Caller">Who the inference is for, as the worker's inference record should name them.</param>
/// <param name="RequestId">The request id the worker records (<c>X-Request-Id</c>).</param>
/// <param name="ExtraAttempts">Attempts beyond the usual two, after a connection failure or a 503 only (0 to 5).</param>
/// <param name="Experiment">
/// For an experiment's call: the <see cref="MdsHeaders.Experiment"/> value (<see cref="ExperimentTag.Value"/>) the worker
/// writes into the inference record; null for any other call.
/// </param>
public sealed record ReplicaCallOptions(string Caller, string RequestId, int ExtraAttempts = 0, string? Experiment = null);

/// <summary>The answer and who gave it.</summary>
/// <param name="Response">The model's answer.</param>
/// <param name="Version">The version that answered.</param>
/// <param name="Worker">The name of the worker whose replica answered.</param>
public sealed record ReplicaAnswer(InferenceResponse Response, int Version, string Worker);

/// <summary>
/// Inference from inside the backend (batch predictions, explanations, pipeline steps): one V2 request to a Ready
/// replica, picked and retried by the gateway's <see cref="ReplicaCallPolicy"/> like REST and gRPC calls, sent with the
/// binary tensor data extension (no JSON number formatting either way). Counted in the traffic statistics like gateway calls.
/// </summary>
public sealed class ReplicaCaller(HttpClient http, RoutingTable routing, ReplicaCallPolicy policy, TrafficStats traffic, Auth.SigningKeys keys)
{
    /// <summary>Runs <paramref name="request"/> on a Ready replica of <paramref name="model"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="version">The version; null for the model's live version, as the gateway resolves it.</param>
    /// <param name="request">The request.</param>
    /// <param name="options">The caller, the request id and extra attempts.</param>
    /// <param name="ct">Cancels the call (a timeout): <see cref="OperationCanceledException"/>, not a 503.</param>
    /// <exception cref="ModelNotFoundException">The model or version does not exist.</exception>
    /// <exception cref="ReplicaUnavailableException">No replica could answer; the message says why.</exception>
    /// <exception cref="InferenceRejectedException">The worker answered 4xx (other than "not loaded"); the message is the worker's.</exception>
    public async Task<ReplicaAnswer> InferAsync(string model, int? version, InferenceRequest request, ReplicaCallOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        long started = Stopwatch.GetTimestamp();
        string? versionText = version?.ToString(CultureInfo.InvariantCulture);
        int status = StatusCodes.Status500InternalServerError;
        try
        {
            var route = await routing.ResolveAsync(model, version, ct);
            if (route.Status == RouteStatus.UnknownModel)
            {
                status = StatusCodes.Status404NotFound;
                throw new ModelNotFoundException(route.Error!);
            }

            if (route.Status != RouteStatus.Found)
            {
                status = StatusCodes.Status503ServiceUnavailable;
                throw new ReplicaUnavailableException(route.Error ?? $"model '{model}' has no ready replica");
            }

            var body = new ArrayBufferWriter<byte>();
            int headerLength = WriteBinaryRequest(body, request);
            string path = $"/v2/models/{Uri.EscapeDataString(route.Model!.Name)}/versions/{route.Version!.Version.ToString(CultureInfo.InvariantCulture)}/infer";
            var result = await policy.RunAsync<WorkerReply>(route, model,
                (attempt, token) => SendAsync(attempt.Replica, path, body.WrittenMemory, headerLength, options, token),
                options.ExtraAttempts, input: new RequestInput(body, static (b, hash, _) =>
                {
                    hash.AppendData(((ArrayBufferWriter<byte>)b).WrittenSpan);
                    return ValueTask.FromResult(true);
                }), ct: ct);
            if (!result.Answered)
            {
                status = result.FailureStatus;
                throw new ReplicaUnavailableException(result.Failure!);
            }

            var reply = result.Value!;
            status = reply.Status;
            if (reply.Status is >= 200 and < 300)
            {
                var response = reply.HeaderLength is { } length
                    ? BinaryTensorData.DecodeResponse(reply.Body, BinaryTensorData.ParseHeaderLength(length, reply.Body.Length))
                    : V2JsonCodec.DecodeResponse(reply.Body);
                return new ReplicaAnswer(response, result.Version, result.Replica!.WorkerName);
            }

            if (reply.Status is >= 400 and < 500)
            {
                throw new InferenceRejectedException(reply.Status, ErrorOf(reply.Body));
            }

            // A 5xx the policy does not retry (a model that fails on a request fails on every replica).
            throw new ReplicaUnavailableException($"model '{model}': replica on worker '{result.Replica!.WorkerName}' answered {reply.Status}: {ErrorOf(reply.Body)}");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            status = StatusCodes.Status499ClientClosedRequest;
            throw;
        }
        finally
        {
            traffic.Record(model, versionText, status, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// The request with every input as binary data and binary outputs asked for (unless the request says otherwise per
    /// output); returns the JSON part's length.
    /// </summary>
    private static int WriteBinaryRequest(ArrayBufferWriter<byte> body, InferenceRequest request)
    {
        var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (request.Parameters is not null)
        {
            foreach (var (key, value) in request.Parameters)
            {
                parameters[key] = value;
            }
        }

        parameters[BinaryTensorData.AllOutputsParameter] = true;
        var binary = new InferenceRequest { Id = request.Id, Parameters = parameters, Inputs = request.Inputs, Outputs = request.Outputs };
        var allInputs = new bool[request.Inputs.Count];
        Array.Fill(allInputs, true);
        return BinaryTensorData.WriteRequest(body, binary, allInputs);
    }

    private async ValueTask<SendOutcome<WorkerReply>> SendAsync(
        ReplicaEndpoint replica, string path, ReadOnlyMemory<byte> body, int headerLength, ReplicaCallOptions options, CancellationToken ct)
    {
        using var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(BinaryTensorData.ContentType);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(replica.Url), path)) { Content = content };
        message.Headers.TryAddWithoutValidation(BinaryTensorData.HeaderLengthHeader, headerLength.ToString(CultureInfo.InvariantCulture));
        message.Headers.TryAddWithoutValidation(MdsHeaders.RequestId, options.RequestId);
        if (options.Experiment is { } experiment)
        {
            // Believed by the worker only beside the internal token below (a user's credential cannot tag records).
            message.Headers.TryAddWithoutValidation(MdsHeaders.Experiment, experiment);
        }

        // The worker believes who the caller is only from this token, signed here (the caller in it).
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", keys.InternalTokenFor(options.Caller));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(message, ct);
        }
        catch (HttpRequestException e)
        {
            return SendOutcome<WorkerReply>.FromError(e, e.HttpRequestError.ToString());
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return SendOutcome<WorkerReply>.TimedOut($"no answer within {http.Timeout.TotalSeconds:0} s"); // slow, not lost: not resent
        }

        using (response)
        {
            byte[] answer;
            try
            {
                answer = await response.Content.ReadAsByteArrayAsync(ct);
            }
            catch (HttpRequestException e)
            {
                return SendOutcome<WorkerReply>.ConnectionLost(e.HttpRequestError.ToString()); // the answer had begun
            }

            if (response.StatusCode == HttpStatusCode.NotFound && response.Headers.Contains(MdsHeaders.NotLoaded))
            {
                return SendOutcome<WorkerReply>.NotLoaded(ErrorOf(answer));
            }

            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                return SendOutcome<WorkerReply>.Unavailable(ErrorOf(answer));
            }

            string? length = response.Headers.TryGetValues(BinaryTensorData.HeaderLengthHeader, out var values)
                || response.Content.Headers.TryGetValues(BinaryTensorData.HeaderLengthHeader, out values)
                ? values.FirstOrDefault() : null;
            return SendOutcome<WorkerReply>.Answered(new WorkerReply((int)response.StatusCode, answer, length));
        }
    }

    /// <summary>A worker's answer as it came: status, body, and the binary extension's JSON length when it used it.</summary>
    private sealed record WorkerReply(int Status, byte[] Body, string? HeaderLength);

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

/// <summary>The model or version does not exist (callers answer 404).</summary>
public sealed class ModelNotFoundException(string message) : Exception(message);

/// <summary>No replica of the version could answer (callers answer 503).</summary>
public sealed class ReplicaUnavailableException(string message) : Exception(message);

/// <summary>The model refused the request: the worker answered <see cref="Status"/>, a 4xx (callers pass it through).</summary>
public sealed class InferenceRejectedException(int status, string message) : Exception(message)
{
    /// <summary>The worker's status code.</summary>
    public int Status { get; } = status;
}
