using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Pipelines over the Open Inference Protocol, called like a model: <c>/v2/pipelines/{name}[/ready|/infer]</c>, and the
/// aliases <c>/v2/models/{name}.pipeline[/ready|/infer]</c> that Triton's and KServe's clients reach unchanged. JSON or
/// the binary tensor data extension, both ways.
/// </summary>
public static class PipelineGateway
{
    /// <summary>The platform pipelines report in their metadata.</summary>
    public const string Platform = "mds_pipeline";

    public static IEndpointRouteBuilder MapPipelineGateway(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").WithTags("Inference").RequireAuthorization(Policies.Inference);
        foreach (var (prefix, suffix) in new[] { ("/pipelines/{name}", ""), ("/models/{name}.pipeline", "Alias") })
        {
            var group = v2.MapGroup(prefix);
            group.MapGet("/", Metadata).WithName("V2PipelineMetadata" + suffix).WithSummary("Pipeline metadata: its inputs and outputs, derived from the steps");
            group.MapGet("/ready", Ready).WithName("V2PipelineReady" + suffix).WithSummary("200 when the pipeline has a live version");
            group.MapPost("/infer", Infer).WithName("V2PipelineInfer" + suffix).WithSummary("Run the pipeline's live version");
        }

        return app;
    }

    private static async Task<IResult> Metadata(string name, PipelineRunner runner, CancellationToken ct)
    {
        var route = await runner.FindAsync(name, ct);
        if (route is null)
        {
            return ApiResults.V2Error(StatusCodes.Status404NotFound, $"pipeline '{name}' not found");
        }

        string[] versions = route.LiveVersion is int v ? [v.ToString(CultureInfo.InvariantCulture)] : [];
        return TypedResults.Ok(new ModelMetadata(route.Name, versions, Platform, route.Inputs, route.Outputs));
    }

    private static async Task<IResult> Ready(string name, PipelineRunner runner, CancellationToken ct)
    {
        var route = await runner.FindAsync(name, ct);
        return route switch
        {
            null => ApiResults.V2Error(StatusCodes.Status404NotFound, $"pipeline '{name}' not found"),
            { Graph: null } => ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"pipeline '{name}' is not live: {route.Reason}"),
            _ => TypedResults.Ok(),
        };
    }

    private static async Task Infer(HttpContext http, string name, PipelineRunner runner)
    {
        // An active experiment whose default is this pipeline takes over its endpoint.
        if (http.RequestServices.GetRequiredService<Experiments.ExperimentTable>().TakeoverFor(pipeline: true, name) is { } experiment)
        {
            await Experiments.ExperimentGateway.InferAsync(http, experiment);
            return;
        }

        string requestId = http.Request.Headers[MdsHeaders.RequestId].FirstOrDefault() is { Length: > 0 and <= PipelineRunner.MaxRequestIdLength } given ? given : Guid.CreateVersion7().ToString("N");
        http.Response.Headers[MdsHeaders.RequestId] = requestId;

        // An unknown pipeline is 404 whatever the body holds.
        if (await runner.FindAsync(name, http.RequestAborted) is null)
        {
            await ApiResults.V2Error(StatusCodes.Status404NotFound, $"pipeline '{name}' not found").ExecuteAsync(http);
            return;
        }

        if (await ReadRequestOrAnswerAsync(http, runner.MaxRequestBytes) is not { } request)
        {
            return;
        }

        var run = await runner.RunAsync(name, request, requestId, CallerIdentity.Name(http.User) ?? "anonymous", http.RequestAborted);
        if (run.Response is null)
        {
            if (!http.RequestAborted.IsCancellationRequested)
            {
                await ApiResults.V2Error(run.Status, run.Error ?? "the pipeline failed").ExecuteAsync(http);
            }

            return;
        }

        await WriteResponseAsync(http, request, run.Response);
    }

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
