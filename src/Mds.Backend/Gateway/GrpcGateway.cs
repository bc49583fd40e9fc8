using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Backend.Auth;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Gateway;

/// <summary>
/// The Open Inference Protocol over gRPC on the backend (<c>inference.GRPCInferenceService</c>), when
/// <c>Mds:Gateway:GrpcPort</c> is set: a cleartext HTTP/2 endpoint of its own beside the REST one.
/// </summary>
public static class GrpcGateway
{
    public static IHostApplicationBuilder AddGrpcGateway(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var options = Options(builder.Configuration);
        if (options.GrpcPort <= 0)
        {
            return builder;
        }

        GatewayGrpcService.Limits = new GrpcRequestLimits(options.MaxGrpcTensors, options.MaxGrpcElements);
        builder.Services.AddGrpc();
        builder.Services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<GatewayOptions>>((grpc, gateway) => grpc.MaxReceiveMessageSize = gateway.Value.MaxGrpcMessageMb * 1024 * 1024);
        builder.Services.AddSingleton<WorkerChannels>();
        builder.ListenForGrpc(options.GrpcPort);
        return builder;
    }

    /// <summary>Maps <c>inference.GRPCInferenceService</c> when the gRPC port is set.</summary>
    public static IEndpointRouteBuilder MapGrpcGateway(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = Options(app.ServiceProvider.GetRequiredService<IConfiguration>());
        if (options.GrpcPort > 0)
        {
            app.MapGrpcService<GatewayGrpcService>().WithMetadata(new GrpcBodySizeLimit(options.MaxGrpcMessageMb * 1024L * 1024));
        }

        return app;
    }

    private static GatewayOptions Options(IConfiguration configuration) =>
        configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
}

/// <summary>
/// The gateway's gRPC service: health and server metadata answered here; model metadata and readiness from the
/// routing table; infer sent on to a Ready replica's gRPC endpoint, picked and retried as REST does (power of two
/// choices; once more on another replica when the first is unavailable or no longer has the model loaded).
/// Callers authenticate as for REST (<c>authorization: Bearer …</c> metadata); the credentials stay here.
/// <c>ModelInfer</c>'s messages are counted against <see cref="Limits"/> before they are parsed, as on the workers.
/// </summary>
[Authorize(Policy = Policies.Inference)]
[BindServiceMethod(typeof(GatewayGrpcService), nameof(BindService))]
internal sealed class GatewayGrpcService(RoutingTable routing, ReplicaCallPolicy policy, WorkerChannels channels, TrafficStats traffic, GatewayMetrics metrics, Pipelines.PipelineRunner pipelines, SigningKeys keys,
    Experiments.ExperimentTable experiments, Experiments.ExperimentRunner experimentRunner, Experiments.ExperimentRouter experimentRouter)
    : GRPCInferenceService.GRPCInferenceServiceBase
{
    private static readonly string ServerVersion = typeof(GatewayGrpcService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
    private static readonly string RequestIdKey = MdsHeaders.RequestId.ToLowerInvariant();

    /// <summary>The limits on <c>ModelInfer</c> messages (from <c>Mds:Gateway</c>; set when the service is registered).</summary>
    internal static GrpcRequestLimits Limits { get; set; } = new();

    /// <summary>Binds the service as the generated code does, with <see cref="Limits"/> checked before parsing.</summary>
    public static void BindService(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase? service) => Limits.Bind(binder, service);

    [AllowAnonymous]
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    [AllowAnonymous]
    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = true });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = "mds", Version = ServerVersion, Extensions = { RepositoryApi.Extension, GatewayStatistics.Extension, BinaryTensorData.Extension } });

    /// <summary>Ready when a Ready replica that serves gRPC can answer; false for unknown models, as on the workers.</summary>
    public override async Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (request.Name.EndsWith(Experiments.ExperimentValidator.ModelSuffix, StringComparison.Ordinal))
        {
            return new ModelReadyResponse { Ready = (await experiments.FindAsync(request.Name[..^Experiments.ExperimentValidator.ModelSuffix.Length], context.CancellationToken))?.Active == true };
        }

        if (Pipelines.PipelineRunner.PipelineNameOf(request.Name) is { } pipeline)
        {
            return await Pipelines.PipelineGrpc.ReadyAsync(pipelines, pipeline, context.CancellationToken);
        }

        var found = await ResolveAsync(request.Name, request.Version, context.CancellationToken);
        return new ModelReadyResponse { Ready = found?.Status == RouteStatus.Found && found.PickReplica(grpc: true) is not null };
    }

    public override async Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (request.Name.EndsWith(Experiments.ExperimentValidator.ModelSuffix, StringComparison.Ordinal) && request.Name.Length > Experiments.ExperimentValidator.ModelSuffix.Length)
        {
            return await Experiments.ExperimentGrpc.MetadataAsync(experiments, routing, pipelines, request.Name, context.CancellationToken);
        }

        if (Pipelines.PipelineRunner.PipelineNameOf(request.Name) is { } pipeline)
        {
            return await Pipelines.PipelineGrpc.MetadataAsync(pipelines, pipeline, context.CancellationToken);
        }

        var found = await ResolveAsync(request.Name, request.Version, context.CancellationToken);
        if (found?.Version is null)
        {
            throw Refusal(found, request.Name, request.Version);
        }

        var response = new ModelMetadataResponse { Name = found.Model!.Name, Platform = V2.OnnxPlatform };
        response.Versions.AddRange(found.Model.Versions.Keys.Select(k => k.ToString(CultureInfo.InvariantCulture)));
        AddTensors(response.Inputs, found.Version.Inputs);
        AddTensors(response.Outputs, found.Version.Outputs);
        return response;
    }

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        GrpcRequestLimits.ThrowIfRefused(request);
        if (await Experiments.ExperimentGrpc.MatchAsync(experiments, request.ModelName, request.ModelVersion, context.CancellationToken) is { } experiment)
        {
            return await Experiments.ExperimentGrpc.InferAsync(experimentRunner, experimentRouter, experiment, request, context); // counted by the experiment runner
        }

        if (Pipelines.PipelineRunner.PipelineNameOf(request.ModelName) is { } pipeline)
        {
            return await Pipelines.PipelineGrpc.InferAsync(pipelines, pipeline, request, context); // counted by the pipeline runner
        }

        long started = Stopwatch.GetTimestamp();
        string name = request.ModelName;
        string? version = request.ModelVersion.Length > 0 ? request.ModelVersion : null;
        StatusCode status = StatusCode.Internal;
        RouteLookup? found = null;
        try
        {
            found = await ResolveAsync(name, request.ModelVersion, context.CancellationToken);
            if (found?.Status != RouteStatus.Found)
            {
                throw Refusal(found, name, request.ModelVersion);
            }

            var response = await ForwardAsync(request, found, context);
            status = StatusCode.OK;
            return response;
        }
        catch (RpcException e)
        {
            status = e.StatusCode;
            throw;
        }
        finally
        {
            // The dashboards count in HTTP terms, REST and gRPC alike.
            int http = HttpStatusOf(status);
            var elapsed = Stopwatch.GetElapsedTime(started);
            traffic.Record(name, version, http, elapsed);
            metrics.Record(found, http, elapsed);
        }
    }

    private async Task<ModelInferResponse> ForwardAsync(ModelInferRequest request, RouteLookup found, ServerCallContext context)
    {
        // Every inference gets a request id (the caller's x-request-id, else the request's id, else a new one), echoed
        // in the response headers and passed on with the caller's name for the worker's inference record.
        string requestId = context.RequestHeaders.GetValue(RequestIdKey) is { Length: > 0 and <= 128 } given ? given
            : request.Id is { Length: > 0 and <= 128 } ? request.Id
            : RequestIds.New();
        await context.WriteResponseHeadersAsync(new Metadata { { RequestIdKey, requestId } });
        var headers = new Metadata
        {
            { RequestIdKey, requestId },
            // The worker believes who the caller is only from this token, signed here (the caller in it).
            { "authorization", "Bearer " + keys.InternalTokenFor(CallerIdentity.Name(context.GetHttpContext().User) ?? "anonymous") },
        };

        string name = request.ModelName;
        request.ModelName = found.Model!.Name;
        request.ModelVersion = found.Version!.Version.ToString(CultureInfo.InvariantCulture);

        // Only the send lives here; which replica, retries, suspension and catch-up are the policy's.
        var result = await policy.RunAsync<ModelInferResponse>(found, name, async (attempt, ct) =>
        {
            try
            {
                return SendOutcome<ModelInferResponse>.Answered(
                    await channels.For(attempt.Replica.GrpcUrl!).ModelInferAsync(request, headers, context.Deadline, ct));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound && !ct.IsCancellationRequested)
            {
                // NotFound from a worker for the version the table routed to: the table was a moment behind an unload.
                return SendOutcome<ModelInferResponse>.NotLoaded(e.Status.Detail);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !ct.IsCancellationRequested)
            {
                // No transport error: the worker's own Unavailable. Else refused (retried) or lost after sending (not).
                return e.Status.DebugException is null
                    ? SendOutcome<ModelInferResponse>.Unavailable(e.Status.Detail)
                    : SendOutcome<ModelInferResponse>.FromError(e.Status.DebugException, e.Status.Detail);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Internal && e.Status.DebugException is not null && !ct.IsCancellationRequested)
            {
                return SendOutcome<ModelInferResponse>.FromError(e.Status.DebugException, e.Status.Detail); // the stream broke after the request went out
            }
            catch (RpcException e)
            {
                // The worker's own answer (InvalidArgument for a request that does not fit, …) passes through as it is.
                throw new RpcException(new Status(e.StatusCode, e.Status.Detail));
            }
        }, grpc: true, input: new RequestInput(request, static (r, hash, _) =>
        {
            hash.AppendData(Google.Protobuf.MessageExtensions.ToByteArray((ModelInferRequest)r)); // serialized only after a lost connection
            return ValueTask.FromResult(true);
        }), ct: context.CancellationToken);

        return result.Answered ? result.Value! : throw new RpcException(new Status(StatusCode.Unavailable, result.Failure!));
    }

    /// <summary>The routing table's answer, or null for a version that is not a number (no such version).</summary>
    private async ValueTask<RouteLookup?> ResolveAsync(string name, string version, CancellationToken ct)
    {
        return RoutingTable.TryParseVersion(version, out int? v) ? await routing.ResolveAsync(name, v, ct) : null;
    }

    /// <summary>NotFound for an unknown model or version, Unavailable when nothing can answer.</summary>
    private static RpcException Refusal(RouteLookup? found, string name, string version) => found switch
    {
        null => new RpcException(new Status(StatusCode.NotFound, $"model '{name}' has no version '{version}'")),
        { Status: RouteStatus.UnknownModel } => new RpcException(new Status(StatusCode.NotFound, found.Error!)),
        _ => new RpcException(new Status(StatusCode.Unavailable, found.Error ?? $"model '{name}' has no ready replica")),
    };

    /// <summary>The HTTP status REST would have answered, for the traffic statistics and metrics.</summary>
    internal static int HttpStatusOf(StatusCode status) => status switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.Cancelled => StatusCodes.Status499ClientClosedRequest,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Tensor metadata in gRPC form (models, pipelines and experiments answer ModelMetadata with it).</summary>
    internal static void AddTensors(
        Google.Protobuf.Collections.RepeatedField<ModelMetadataResponse.Types.TensorMetadata> target, IReadOnlyList<TensorMetadata> tensors)
    {
        foreach (var tensor in tensors)
        {
            var item = new ModelMetadataResponse.Types.TensorMetadata { Name = tensor.Name, Datatype = tensor.Datatype };
            item.Shape.AddRange(tensor.Shape);
            target.Add(item);
        }
    }
}

/// <summary>
/// One gRPC channel per worker URL, kept for the process's life and sharing one HTTP/2 connection pool: a channel is
/// costly to create and multiplexes any number of calls.
/// </summary>
internal sealed class WorkerChannels(IOptions<GatewayOptions> options) : IDisposable
{
    private readonly Dictionary<string, (GrpcChannel Channel, GRPCInferenceService.GRPCInferenceServiceClient Client)> _channels = new(StringComparer.Ordinal);
    private readonly SocketsHttpHandler _handler = new()
    {
        UseProxy = false,
        EnableMultipleHttp2Connections = true,
        ConnectTimeout = TimeSpan.FromSeconds(3),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
        KeepAlivePingDelay = TimeSpan.FromSeconds(30),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>The client for the worker at <paramref name="url"/>.</summary>
    public GRPCInferenceService.GRPCInferenceServiceClient For(string url)
    {
        lock (_channels)
        {
            if (!_channels.TryGetValue(url, out var entry))
            {
                int max = options.Value.MaxGrpcMessageMb * 1024 * 1024;
                var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions
                {
                    HttpHandler = _handler,
                    DisposeHttpClient = false,
                    MaxReceiveMessageSize = max,
                    MaxSendMessageSize = max,
                });
                _channels[url] = entry = (channel, new GRPCInferenceService.GRPCInferenceServiceClient(channel));
            }

            return entry.Client;
        }
    }

    public void Dispose()
    {
        lock (_channels)
        {
            foreach (var (channel, _) in _channels.Values)
            {
                channel.Dispose();
            }

            _channels.Clear();
        }

        _handler.Dispose();
    }
}
