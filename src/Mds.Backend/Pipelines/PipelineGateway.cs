using System.Globalization;
using System.IO.Pipelines;
using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using static Mds.Backend.Http.V2Bodies;

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

        string requestId = http.Request.Headers[MdsHeaders.RequestId].FirstOrDefault() is { Length: > 0 and <= PipelineRunner.MaxRequestIdLength } given ? given : RequestIds.New();
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
}
