using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Reflection;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Mds.Workers.Audit;
using Mds.Workers.Cluster;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Inference;

/// <summary>
/// The Open Inference Protocol (KServe V2) REST endpoints of a worker. Every model route exists twice, with and without
/// <c>/versions/{version}</c>, bound to the same handler; without a version the highest version loaded here answers.
/// </summary>
internal static class InferenceApi
{
    /// <summary>The worker's version, as server metadata reports it (REST and gRPC).</summary>
    internal static readonly string ServerVersion = ReadServerVersion();

    /// <summary>The protocol extensions a worker serves, as server metadata lists them (REST and gRPC).</summary>
    internal static readonly string[] Extensions = ["statistics", BinaryTensorData.Extension];

    /// <summary>Maps <c>/v2/…</c>.</summary>
    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder app)
    {
        // Every caller authenticates (Auth/CallerAuthentication), health excepted.
        var v2 = app.MapGroup("/v2").WithTags("Open Inference Protocol").RequireAuthorization();

        v2.MapGet("/health/live", ServerLive).AllowAnonymous().WithName("ServerLive")
            .WithSummary("200 while the worker process is up.");
        v2.MapGet("/health/ready", ServerReady).AllowAnonymous().WithName("ServerReady")
            .WithSummary("200 once the worker has registered with the backend (and from then on, even while the backend is away); 400 before.");
        v2.MapGet("", GetServerMetadata).WithName("ServerMetadata")
            .WithSummary("Server name, version and protocol extensions.");

        v2.MapGet("/models/stats", GetAllStatistics).WithName("AllModelStatistics")
            .WithSummary("Counts and times of every model version loaded on this worker: the statistics extension.");
        MapModelRoutes(v2.MapGroup("/models/{name}"), "");
        MapModelRoutes(v2.MapGroup("/models/{name}/versions/{version}"), "Version");
        return app;
    }

    private static void MapModelRoutes(RouteGroupBuilder model, string suffix)
    {
        model.MapGet("", GetModelMetadata).WithName("ModelMetadata" + suffix)
            .WithSummary("Inputs, outputs, platform and loaded versions of a model on this worker.");
        model.MapGet("/ready", GetModelReady).WithName("ModelReady" + suffix)
            .WithSummary("200 when the model is loaded here, 404 when not.");
        model.MapGet("/stats", GetModelStatistics).WithName("ModelStatistics" + suffix)
            .WithSummary("Counts and times of the model (version) on this worker: the statistics extension.");
        model.MapGet("/config", GetModelConfig).WithName("ModelConfig" + suffix)
            .WithSummary("The model (version)'s configuration here, in Triton's form: max_batch_size and dynamic_batching when it batches requests.");
        model.MapPost("/infer", InferAsync).WithName("ModelInfer" + suffix)
            .WithSummary("Runs an inference request (V2 JSON, or JSON and binary tensor data with Inference-Header-Content-Length).");
        // No Accepts(...) metadata on purpose: routing would answer a bare 415 to any other Content-Type (curl -d sends
        // a form type). As in Triton, the body decides: one that is not V2 gets a 400 naming the problem.
    }

    internal static Ok ServerLive() => TypedResults.Ok();

    /// <summary>A header's first value, or null (no LINQ over the boxed values: this is on every audited call).</summary>
    private static string? First(Microsoft.Extensions.Primitives.StringValues values) => values.Count > 0 ? values[0] : null;

    internal static Results<Ok, BadRequest<V2Error>> ServerReady([AsParameters] InferenceServices services) =>
        services.Membership.HasRegistered
            ? TypedResults.Ok()
            : TypedResults.BadRequest(new V2Error("worker has not registered with the backend yet"));

    internal static Ok<ServerMetadata> GetServerMetadata() =>
        TypedResults.Ok(new ServerMetadata("mds-worker", ServerVersion, Extensions));

    internal static Results<Ok<ModelMetadata>, NotFound<V2Error>> GetModelMetadata(ModelRoute route, [AsParameters] InferenceServices services)
    {
        if (!services.Registry.TryFind(route.Name, route.Version, out var model))
        {
            return NotLoaded(route);
        }

        return TypedResults.Ok(Describe(model, services.Registry));
    }

    /// <summary>A loaded model's V2 metadata (REST and gRPC).</summary>
    internal static ModelMetadata Describe(LoadedModel model, SessionRegistry registry) =>
        new(model.Name, registry.VersionsOf(model.Name), V2.OnnxPlatform, model.Schema.Inputs, model.Schema.Outputs);

    internal static Ok<ModelStatisticsResponse> GetAllStatistics([AsParameters] InferenceServices services) =>
        TypedResults.Ok(new ModelStatisticsResponse([.. services.Registry.Loaded
            .OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version)
            .Select(m => m.Counters.Snapshot(m.Name, m.VersionText))]));

    internal static Results<Ok<ModelStatisticsResponse>, NotFound<V2Error>> GetModelStatistics(ModelRoute route, [AsParameters] InferenceServices services)
    {
        var versions = services.Registry.Loaded
            .Where(m => m.Name == route.Name && (route.Version is null || m.VersionText == route.Version))
            .OrderBy(m => m.Version).ToList();
        return versions.Count == 0
            ? NotLoaded(route)
            : TypedResults.Ok(new ModelStatisticsResponse([.. versions.Select(m => m.Counters.Snapshot(m.Name, m.VersionText))]));
    }

    internal static Results<Ok<ModelConfig>, NotFound<V2Error>> GetModelConfig(ModelRoute route, [AsParameters] InferenceServices services)
    {
        if (!services.Registry.TryFind(route.Name, route.Version, out var model))
        {
            return NotLoaded(route);
        }

        var batching = model.Batcher?.Settings;
        return TypedResults.Ok(new ModelConfig(
            model.Name, V2.OnnxPlatform, batching?.MaxBatchSize ?? 0,
            batching is null ? null : new DynamicBatchingConfig(batching.MaxLatencyMicroseconds),
            model.Signature.WhyNotBatchable));
    }

    internal static Results<Ok, NotFound<V2Error>> GetModelReady(ModelRoute route, [AsParameters] InferenceServices services) =>
        services.Registry.TryFind(route.Name, route.Version, out _) ? TypedResults.Ok() : NotLoaded(route);

    // Hot path: no per-request logging above Debug; the body is decoded from the pipe's buffers without a copy. Every
    // request that reaches a loaded model is recorded for the audit log (queued here, written in batches elsewhere).
    internal static async ValueTask<Results<InferResult, BadRequest<V2Error>, NotFound<V2Error>, JsonHttpResult<V2Error>>> InferAsync(
        ModelRoute route, HttpContext context, [FromServices] InferenceServices services)
    {
        // The services come as one singleton (one lookup), not [AsParameters] (six lookups and an object per request).
        var time = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();

        // An unknown model is 404 whatever the body holds; no need to read it.
        if (!services.Registry.TryFind(route.Name, route.Version, out var model))
        {
            services.Metrics.RecordNotFound(started);
            context.Response.Headers[MdsHeaders.NotLoaded] = "1";
            return NotLoaded(route);
        }

        long limit = (long)services.Options.Value.MaxRequestBodyMb * 1024 * 1024;
        InferenceRequest? request;
        try
        {
            request = await ReadRequestAsync(context, limit).ConfigureAwait(false);
        }
        catch (InferenceProtocolException e)
        {
            return Audit(TypedResults.BadRequest(new V2Error(e.Message)), StatusCodes.Status400BadRequest, e.Message, null, null);
        }
        catch (BadHttpRequestException e)
        {
            return Audit(TypedResults.Json(new V2Error(e.Message), statusCode: e.StatusCode), e.StatusCode, e.Message, null, null);
        }

        if (request is null)
        {
            string tooLarge = $"request body is larger than {services.Options.Value.MaxRequestBodyMb} MiB";
            return Audit(TypedResults.Json(new V2Error(tooLarge), statusCode: StatusCodes.Status413PayloadTooLarge), StatusCodes.Status413PayloadTooLarge, tooLarge, null, null);
        }

        try
        {
            var response = await services.Runner.InferAsync(route.Name, route.Version, request, Stopwatch.GetTimestamp()).ConfigureAwait(false);
            return Audit(new InferResult(response, BinaryTensorData.SelectBinaryOutputs(request, response)), StatusCodes.Status200OK, null, request, response);
        }
        catch (InferenceProtocolException e)
        {
            return Audit(TypedResults.BadRequest(new V2Error(e.Message)), StatusCodes.Status400BadRequest, e.Message, request, null);
        }
        catch (InferenceTimeoutException e)
        {
            return Audit(TypedResults.Json(new V2Error(e.Message), statusCode: StatusCodes.Status504GatewayTimeout), StatusCodes.Status504GatewayTimeout, e.Message, request, null);
        }
        catch (ModelNotLoadedException e)
        {
            context.Response.Headers[MdsHeaders.NotLoaded] = "1"; // unloaded while the body was read
            return TypedResults.NotFound(new V2Error(e.Message));
        }

        TResult Audit<TResult>(TResult result, int status, string? error, InferenceRequest? request, InferenceResponse? response)
        {
            if (request is null)
            {
                // Not decoded, so the runner never saw it: counted here (the runner counts everything that reached it).
                services.Metrics.RecordRequest(model, WorkerMetrics.Invalid, started);
            }

            if (services.Audit.Enabled)
            {
                // Who called comes from the credential, never from a header (Auth/CallerAuthentication).
                var headers = context.Request.Headers;
                var (caller, requestId) = Auth.CallerAuthentication.CallerOf(
                    context.User, First(headers[MdsHeaders.RequestId]), request?.Id, context.TraceIdentifier);
                services.Audit.Add(new InferenceRecord(
                    RequestIds.NewGuid(time), time, requestId, model.Name,
                    int.TryParse(model.VersionText, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null,
                    status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, caller,
                    RequestTrace.TraceIdOf(context), error, request, response,
                    Auth.CallerAuthentication.ExperimentOf(context.User, First(headers[MdsHeaders.Experiment]))));
            }

            return result;
        }
    }

    /// <summary>
    /// Reads and decodes the whole body; null when it is larger than <paramref name="limit"/> bytes (checked before
    /// anything is decoded). With <c>Inference-Header-Content-Length</c> the body is JSON then binary tensor data
    /// (whatever its content type).
    /// </summary>
    private static ValueTask<InferenceRequest?> ReadRequestAsync(HttpContext context, long limit) =>
        BoundedBody.ReadAsync(context, limit, context, static (body, context) => context.Request.Headers.TryGetValue(BinaryTensorData.HeaderLengthHeader, out var headerLength)
            ? BinaryTensorData.DecodeRequest(body, BinaryTensorData.ParseHeaderLength(headerLength.ToString(), body.Length))
            : V2JsonCodec.DecodeRequest(body));

    private static NotFound<V2Error> NotLoaded(ModelRoute route) =>
        TypedResults.NotFound(new V2Error(new ModelNotLoadedException(route.Name, route.Version).Message));

    private static string ReadServerVersion()
    {
        string? version = typeof(InferenceApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
        {
            return "0.0.0";
        }

        int plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus > 0 ? version[..plus] : version;
    }
}

/// <summary>What the V2 handlers need (a singleton: the infer handler takes it whole from the container).</summary>
internal sealed class InferenceServices(SessionRegistry registry, InferenceRunner runner, ClusterMembership membership, IOptions<WorkerOptions> options, AuditLog audit, WorkerMetrics metrics)
{
    public WorkerMetrics Metrics { get; } = metrics;

    public AuditLog Audit { get; } = audit;

    public SessionRegistry Registry { get; } = registry;

    public InferenceRunner Runner { get; } = runner;

    public ClusterMembership Membership { get; } = membership;

    public IOptions<WorkerOptions> Options { get; } = options;
}

/// <summary>The model a V2 route names: <c>{name}</c> and, on the versioned routes, <c>{version}</c>.</summary>
internal sealed record ModelRoute(string Name, string? Version)
{
    public static ValueTask<ModelRoute?> BindAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var values = context.Request.RouteValues;
        return ValueTask.FromResult<ModelRoute?>(new ModelRoute((string)values["name"]!, values["version"] as string));
    }
}

/// <summary>
/// A V2 inference response, written with <see cref="V2JsonCodec"/> straight to the response body; or, when the request
/// asked for binary outputs (<paramref name="binaryOutputs"/>), the JSON part and then those outputs' bytes.
/// </summary>
internal sealed class InferResult(InferenceResponse response, bool[]? binaryOutputs = null) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult, IEndpointMetadataProvider
{
    // The JSON part's length goes in a header, so the JSON is written here first; it holds no binary outputs' data,
    // so it stays small. Used on one thread with no await in between, then emptied; an oversized one is dropped.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_header;

    public InferenceResponse Response { get; } = response;

    public bool[]? BinaryOutputs { get; } = binaryOutputs;

    public int? StatusCode => StatusCodes.Status200OK;

    public string ContentType => BinaryOutputs is null ? "application/json" : BinaryTensorData.ContentType;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = ContentType;
        if (BinaryOutputs is null)
        {
            V2JsonCodec.WriteResponse(httpContext.Response.BodyWriter, Response);
        }
        else
        {
            WriteBinary(httpContext.Response, BinaryOutputs);
        }

        await httpContext.Response.BodyWriter.FlushAsync(httpContext.RequestAborted).ConfigureAwait(false);
    }

    private void WriteBinary(HttpResponse http, bool[] binaryOutputs)
    {
        var header = t_header ??= new ArrayBufferWriter<byte>(4096);
        try
        {
            int headerLength = BinaryTensorData.WriteResponseHeader(header, Response, binaryOutputs);
            http.Headers[BinaryTensorData.HeaderLengthHeader] = headerLength.ToString(CultureInfo.InvariantCulture);
            http.BodyWriter.Write(header.WrittenSpan);
            BinaryTensorData.WriteResponseData(http.BodyWriter, Response, binaryOutputs);
        }
        finally
        {
            if (header.Capacity > 1024 * 1024)
            {
                t_header = null;
            }
            else
            {
                header.ResetWrittenCount();
            }
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(object), ["application/json", BinaryTensorData.ContentType]));
    }
}
