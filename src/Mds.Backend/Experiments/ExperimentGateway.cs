using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>
/// Experiments over the Open Inference Protocol's REST binding: <c>/v2/models/{name}.experiment[/ready|/infer]</c>, and the
/// default's own endpoint while an experiment takes it over (<see cref="GatewayApi"/> and <see cref="PipelineGateway"/>
/// hand such calls here). JSON or the binary tensor data extension, both ways. Every answer carries <c>Mds-Route</c>.
/// </summary>
public static class ExperimentGateway
{
    /// <summary>The platform experiments report in their metadata.</summary>
    public const string Platform = "mds_experiment";

    public static IEndpointRouteBuilder MapExperimentGateway(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v2/models/{name}.experiment").WithTags("Inference").RequireAuthorization(Policies.Inference);
        group.MapGet("/", Metadata).WithName("V2ExperimentMetadata").WithSummary("Experiment metadata: its first candidate's inputs and outputs");
        group.MapGet("/ready", Ready).WithName("V2ExperimentReady").WithSummary("200 when every candidate and the mirror can answer");
        group.MapPost("/infer", Infer).WithName("V2ExperimentInfer").WithSummary("Run inference on a candidate picked by weight, Mds-Route or Mds-Route-Key");
        return app;
    }

    private static async Task<IResult> Metadata(string name, ExperimentTable table, RoutingTable routing, PipelineRunner pipelines, CancellationToken ct)
    {
        var route = await table.FindAsync(name, ct);
        if (route is null)
        {
            return ApiResults.V2Error(StatusCodes.Status404NotFound, $"experiment '{name}' not found");
        }

        var (inputs, outputs) = await SignatureAsync(route, routing, pipelines, ct);
        return TypedResults.Ok(new ModelMetadata(name + ExperimentValidator.ModelSuffix, [], Platform, inputs, outputs));
    }

    /// <summary>
    /// The inputs and outputs an experiment's callers see: its first candidate's (candidates are checked to be
    /// interchangeable when the experiment is created). REST and gRPC metadata both answer with these.
    /// </summary>
    public static async Task<(IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs)> SignatureAsync(
        ExperimentRoute route, RoutingTable routing, PipelineRunner pipelines, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(routing);
        ArgumentNullException.ThrowIfNull(pipelines);
        var first = route.Candidates[0];
        if (first.IsPipeline)
        {
            var p = await pipelines.FindAsync(first.Name, ct);
            return (p?.Inputs ?? [], p?.Outputs ?? []);
        }

        var found = await routing.ResolveAsync(first.Name, first.Version, ct);
        return (found.Version?.Inputs ?? [], found.Version?.Outputs ?? []);
    }

    private static async Task<IResult> Ready(string name, ExperimentTable table, CancellationToken ct)
    {
        var route = await table.FindAsync(name, ct);
        return route switch
        {
            null => ApiResults.V2Error(StatusCodes.Status404NotFound, $"experiment '{name}' not found"),
            { Active: false } => ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"experiment '{name}' is pending: {route.Reason}"),
            _ => TypedResults.Ok(),
        };
    }

    private static async Task Infer(HttpContext http, string name, ExperimentTable table)
    {
        var route = await table.FindAsync(name, http.RequestAborted);
        if (route is null)
        {
            await ApiResults.V2Error(StatusCodes.Status404NotFound, $"experiment '{name}' not found").ExecuteAsync(http);
            return;
        }

        await InferAsync(http, route);
    }

    /// <summary>Runs one REST inference through <paramref name="route"/>: picks the candidate, answers, then offers the mirror its copy.</summary>
    public static async Task InferAsync(HttpContext http, ExperimentRoute route)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(route);
        int maxId = route.IsPipeline ? PipelineRunner.MaxRequestIdLength : 128;
        string requestId = http.Request.Headers[MdsHeaders.RequestId].FirstOrDefault() is { Length: > 0 } given && given.Length <= maxId ? given : RequestIds.New();
        http.Response.Headers[MdsHeaders.RequestId] = requestId;
        if (!route.Active)
        {
            await ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"experiment '{route.Name}' is pending: {route.Reason}").ExecuteAsync(http);
            return;
        }

        var router = http.RequestServices.GetRequiredService<ExperimentRouter>();
        var runner = http.RequestServices.GetRequiredService<ExperimentRunner>();
        int index = router.Choose(route, http.Request.Headers[MdsHeaders.Route].ToString(), http.Request.Headers[MdsHeaders.RouteKey].FirstOrDefault());
        http.Response.Headers[MdsHeaders.Route] = ExperimentRouter.RouteValue(route, index);
        string caller = CallerIdentity.Name(http.User) ?? "anonymous";
        if (!route.Candidates[index].IsPipeline)
        {
            await ForwardAsync(http, route, index, requestId, caller, runner);
            return;
        }

        long limit = (long)http.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyMb * 1024 * 1024;
        if (await V2Bodies.ReadRequestOrAnswerAsync(http, limit) is not { } request)
        {
            return;
        }

        var answer = await runner.RunAsync(route, index, request, requestId, caller, http.RequestAborted);
        if (answer.Response is null)
        {
            if (!http.RequestAborted.IsCancellationRequested)
            {
                await ApiResults.V2Error(answer.Status, answer.Error ?? "the candidate failed").ExecuteAsync(http);
            }

            return;
        }

        await V2Bodies.WriteResponseAsync(http, request, answer.Response);
        await http.Response.CompleteAsync(); // the caller has its answer before any mirror work is queued
        runner.OfferMirror(route, request, requestId, caller);
    }

    /// <summary>
    /// A model candidate: the call goes through the plain gateway's forwarder path for that model and version (streamed,
    /// retried on another replica, nothing decoded here), tagged with <see cref="MdsHeaders.Experiment"/>; the answer's
    /// bytes are copied on the way (bounded) so the call log's writer can read the predicted label later, and the
    /// request's bytes (buffered by the forwarder for its retries) are what a mirror copy sends.
    /// </summary>
    private static async Task ForwardAsync(HttpContext http, ExperimentRoute route, int index, string requestId, string caller, ExperimentRunner runner)
    {
        var candidate = route.Candidates[index];
        http.Request.Headers[MdsHeaders.RequestId] = requestId;
        var bodyFeature = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>();
        var capture = new ResponseCapture(http.Response.Body, null);
        http.Response.Body = capture;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        RawAnswer? raw = null;
        int status = StatusCodes.Status500InternalServerError;
        try
        {
            await GatewayForwarding.InferModelAsync(http, candidate.Name, candidate.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture), ExperimentTag.Value(route.Name, candidate.Key, mirror: false));
            status = http.RequestAborted.IsCancellationRequested && !http.Response.HasStarted ? StatusCodes.Status499ClientClosedRequest : http.Response.StatusCode;
            if (status == StatusCodes.Status200OK)
            {
                raw = capture.Take(http.Response.Headers[BinaryTensorData.HeaderLengthHeader].FirstOrDefault());
            }
        }
        finally
        {
            capture.Release();
            http.Features.Set(bodyFeature);
            runner.RecordForwarded(route, candidate, requestId, status, System.Diagnostics.Stopwatch.GetElapsedTime(started), raw);
        }

        if (status != StatusCodes.Status200OK || !runner.MirrorThis(route))
        {
            return;
        }

        await http.Response.CompleteAsync(); // the caller has its answer before any mirror work is queued
        if (await RawRequest.OfAsync(http) is { } copy)
        {
            runner.QueueMirror(route, copy, requestId, caller);
        }
    }
}
