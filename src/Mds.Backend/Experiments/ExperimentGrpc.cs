using Grpc.Core;
using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;

namespace Mds.Backend.Experiments;

/// <summary>
/// Experiments over gRPC: the gateway's <c>inference.GRPCInferenceService</c> hands here a <c>model_name</c> ending in
/// <c>.experiment</c>, and calls to a model or pipeline an active experiment takes over. <c>mds-route</c> and
/// <c>mds-route-key</c> metadata as in REST; the answer's headers carry <c>mds-route</c>.
/// </summary>
internal static class ExperimentGrpc
{
    private static readonly string RequestIdKey = MdsHeaders.RequestId.ToLowerInvariant();
    private static readonly string RouteKey = MdsHeaders.Route.ToLowerInvariant();
    private static readonly string RouteKeyKey = MdsHeaders.RouteKey.ToLowerInvariant();

    /// <summary>The experiment route for a gRPC model name (and version); null when the call is not an experiment's.</summary>
    public static async ValueTask<ExperimentRoute?> MatchAsync(ExperimentTable table, string modelName, string version, CancellationToken ct)
    {
        if (modelName.EndsWith(ExperimentValidator.ModelSuffix, StringComparison.Ordinal) && modelName.Length > ExperimentValidator.ModelSuffix.Length)
        {
            return await table.FindAsync(modelName[..^ExperimentValidator.ModelSuffix.Length], ct)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"experiment '{modelName[..^ExperimentValidator.ModelSuffix.Length]}' not found"));
        }

        if (PipelineRunner.PipelineNameOf(modelName) is { } pipeline)
        {
            return table.TakeoverFor(pipeline: true, pipeline);
        }

        return version.Length == 0 ? table.TakeoverFor(pipeline: false, modelName) : null; // an explicit version is never taken over
    }

    /// <summary>gRPC ModelMetadata for <c>{experiment}.experiment</c>: as REST, the first candidate's inputs and outputs.</summary>
    public static async Task<ModelMetadataResponse> MetadataAsync(ExperimentTable table, RoutingTable routing, PipelineRunner pipelines, string modelName, CancellationToken ct)
    {
        string name = modelName[..^ExperimentValidator.ModelSuffix.Length];
        var route = await table.FindAsync(name, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"experiment '{name}' not found"));
        var (inputs, outputs) = await ExperimentGateway.SignatureAsync(route, routing, pipelines, ct);
        var response = new ModelMetadataResponse { Name = modelName, Platform = ExperimentGateway.Platform };
        GatewayGrpcService.AddTensors(response.Inputs, inputs);
        GatewayGrpcService.AddTensors(response.Outputs, outputs);
        return response;
    }

    public static async Task<ModelInferResponse> InferAsync(ExperimentRunner runner, ExperimentRouter router, ExperimentRoute route, ModelInferRequest request, ServerCallContext context)
    {
        if (!route.Active)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"experiment '{route.Name}' is pending: {route.Reason}"));
        }

        InferenceRequest decoded;
        try
        {
            decoded = GrpcTensorCodec.Decode(request);
        }
        catch (InferenceProtocolException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }

        int maxId = route.IsPipeline ? PipelineRunner.MaxRequestIdLength : 128;
        string requestId = context.RequestHeaders.GetValue(RequestIdKey) is { Length: > 0 } given && given.Length <= maxId ? given
            : request.Id is { Length: > 0 } && request.Id.Length <= maxId ? request.Id
            : RequestIds.New();
        int index = router.Choose(route, context.RequestHeaders.GetValue(RouteKey), context.RequestHeaders.GetValue(RouteKeyKey));
        await context.WriteResponseHeadersAsync(new Metadata { { RequestIdKey, requestId }, { RouteKey, ExperimentRouter.RouteValue(route, index) } });
        string caller = CallerIdentity.Name(context.GetHttpContext().User) ?? "anonymous";
        var answer = await runner.RunAsync(route, index, decoded, requestId, caller, context.CancellationToken);
        if (answer.Response is null)
        {
            throw new RpcException(new Status(PipelineGrpc.StatusOf(answer.Status), answer.Error ?? "the candidate failed"));
        }

        var response = GrpcTensorCodec.Encode(answer.Response, raw: request.RawInputContents.Count > 0);
        response.ModelName = request.ModelName;
        // The answer is returned to the caller as this method completes; the copy waits in the mirror queue, off this path.
        runner.OfferMirror(route, decoded, requestId, caller);
        return response;
    }
}
