using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;
using Mds.Workers.Audit;
using Mds.Workers.Cluster;
using Mds.Workers.Inference;

namespace Mds.Workers.Grpc;

/// <summary>
/// The Open Inference Protocol's gRPC service (<c>inference.GRPCInferenceService</c>) on a worker: the same model
/// lookup, runner, checks and error messages as the REST endpoints in <see cref="InferenceApi"/>, bound to gRPC.
/// A model that is not loaded is NOT_FOUND; a request that does not fit is INVALID_ARGUMENT with REST's message.
/// <c>ModelInfer</c>'s messages are counted against <see cref="Limits"/> before they are parsed.
/// </summary>
[Authorize]
[BindServiceMethod(typeof(InferenceGrpcService), nameof(BindService))]
internal sealed class InferenceGrpcService(
    SessionRegistry registry, InferenceRunner runner, ClusterMembership membership, AuditLog audit, WorkerMetrics metrics)
    : GRPCInferenceService.GRPCInferenceServiceBase
{
    private static readonly string ExperimentKey = MdsHeaders.Experiment.ToLowerInvariant();
    private static readonly string RequestIdKey = MdsHeaders.RequestId.ToLowerInvariant();

    /// <summary>The limits on <c>ModelInfer</c> messages (from <c>Mds:Worker</c>; set when the service is registered).</summary>
    internal static GrpcRequestLimits Limits { get; set; } = new();

    /// <summary>Binds the service as the generated code does, with <see cref="Limits"/> checked before parsing.</summary>
    public static void BindService(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase? service) => Limits.Bind(binder, service);

    [AllowAnonymous]
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    [AllowAnonymous]
    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = membership.HasRegistered });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = "mds-worker", Version = InferenceApi.ServerVersion, Extensions = { InferenceApi.Extensions } });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(new ModelReadyResponse { Ready = registry.TryFind(request.Name, Version(request.Version), out _) });
    }

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? version = Version(request.Version);
        if (!registry.TryFind(request.Name, version, out var model))
        {
            throw NotLoaded(new ModelNotLoadedException(request.Name, version));
        }

        var metadata = InferenceApi.Describe(model, registry);
        var response = new ModelMetadataResponse { Name = metadata.Name, Platform = metadata.Platform };
        response.Versions.AddRange(metadata.Versions);
        AddTensors(response.Inputs, metadata.Inputs);
        AddTensors(response.Outputs, metadata.Outputs);
        return Task.FromResult(response);
    }

    // Hot path: no per-request logging above Debug. Every request that reaches a loaded model is recorded for the
    // audit log, as on REST (status as REST would give it: 200 or 400).
    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        GrpcRequestLimits.ThrowIfRefused(request);
        var time = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        string? version = Version(request.ModelVersion);
        if (!registry.TryFind(request.ModelName, version, out var model))
        {
            metrics.RecordNotFound(started);
            throw NotLoaded(new ModelNotLoadedException(request.ModelName, version));
        }

        InferenceRequest decoded;
        try
        {
            decoded = GrpcTensorCodec.Decode(request);
        }
        catch (InferenceProtocolException e)
        {
            // Not decoded, so the runner never saw it: counted here (the runner counts everything that reached it).
            metrics.RecordRequest(model, WorkerMetrics.Invalid, started);
            Audit(StatusCodes.Status400BadRequest, e.Message, null, null);
            throw Invalid(e);
        }

        try
        {
            var response = await runner.InferAsync(request.ModelName, version, decoded, Stopwatch.GetTimestamp()).ConfigureAwait(false);
            Audit(StatusCodes.Status200OK, null, decoded, response);
            return GrpcTensorCodec.Encode(response, raw: request.RawInputContents.Count > 0);
        }
        catch (InferenceProtocolException e)
        {
            Audit(StatusCodes.Status400BadRequest, e.Message, decoded, null);
            throw Invalid(e);
        }
        catch (InferenceTimeoutException e)
        {
            Audit(StatusCodes.Status504GatewayTimeout, e.Message, decoded, null);
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, e.Message));
        }
        catch (ModelNotLoadedException e)
        {
            throw NotLoaded(e); // unloaded since the lookup above
        }

        void Audit(int status, string? error, InferenceRequest? decodedRequest, InferenceResponse? response)
        {
            if (!audit.Enabled)
            {
                return;
            }

            // Who called comes from the credential, never from metadata (Auth/CallerAuthentication).
            var http = context.GetHttpContext();
            var (caller, requestId) = Auth.CallerAuthentication.CallerOf(
                http.User, context.RequestHeaders.GetValue(RequestIdKey), request.Id, http.TraceIdentifier);
            audit.Add(new InferenceRecord(
                RequestIds.NewGuid(time), time, requestId, model.Name,
                int.TryParse(model.VersionText, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null,
                status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, caller,
                RequestTrace.TraceIdOf(http), error, decodedRequest, response,
                Auth.CallerAuthentication.ExperimentOf(http.User, context.RequestHeaders.GetValue(ExperimentKey))));
        }
    }

    private static string? Version(string version) => version.Length > 0 ? version : null;

    private static void AddTensors(
        Google.Protobuf.Collections.RepeatedField<ModelMetadataResponse.Types.TensorMetadata> target, IReadOnlyList<Mds.Contracts.Inference.TensorMetadata> tensors)
    {
        foreach (var tensor in tensors)
        {
            var item = new ModelMetadataResponse.Types.TensorMetadata { Name = tensor.Name, Datatype = tensor.Datatype };
            item.Shape.AddRange(tensor.Shape);
            target.Add(item);
        }
    }

    private static RpcException NotLoaded(ModelNotLoadedException e) => new(new Status(StatusCode.NotFound, e.Message));

    private static RpcException Invalid(InferenceProtocolException e) => new(new Status(StatusCode.InvalidArgument, e.Message));
}
