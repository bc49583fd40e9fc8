using Grpc.Core;
using Mds.Backend.Auth;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Pipelines over gRPC: the gateway's <c>inference.GRPCInferenceService</c> hands a <c>model_name</c> ending in
/// <c>.pipeline</c> here, so Triton's and KServe's gRPC clients call pipelines unchanged.
/// </summary>
internal static class PipelineGrpc
{
    private static readonly string RequestIdKey = MdsHeaders.RequestId.ToLowerInvariant();

    public static async Task<ModelInferResponse> InferAsync(PipelineRunner runner, string name, ModelInferRequest request, ServerCallContext context)
    {
        InferenceRequest decoded;
        try
        {
            decoded = GrpcTensorCodec.Decode(request);
        }
        catch (InferenceProtocolException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }

        string requestId = context.RequestHeaders.GetValue(RequestIdKey) is { Length: > 0 and <= PipelineRunner.MaxRequestIdLength } given ? given
            : request.Id is { Length: > 0 and <= PipelineRunner.MaxRequestIdLength } ? request.Id
            : RequestIds.New();
        await context.WriteResponseHeadersAsync(new Metadata { { RequestIdKey, requestId } });
        var run = await runner.RunAsync(name, decoded, requestId, CallerIdentity.Name(context.GetHttpContext().User) ?? "anonymous", context.CancellationToken);
        if (run.Response is null)
        {
            throw new RpcException(new Status(StatusOf(run.Status), run.Error ?? "the pipeline failed"));
        }

        var response = GrpcTensorCodec.Encode(run.Response, raw: request.RawInputContents.Count > 0);
        response.ModelName = request.ModelName;
        return response;
    }

    public static async Task<ModelMetadataResponse> MetadataAsync(PipelineRunner runner, string name, CancellationToken ct)
    {
        var route = await runner.FindAsync(name, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"pipeline '{name}' not found"));
        var response = new ModelMetadataResponse { Name = route.Name + PipelineRunner.ModelSuffix, Platform = PipelineGateway.Platform };
        if (route.LiveVersion is int v)
        {
            response.Versions.Add(v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Gateway.GatewayGrpcService.AddTensors(response.Inputs, route.Inputs);
        Gateway.GatewayGrpcService.AddTensors(response.Outputs, route.Outputs);
        return response;
    }

    public static async Task<ModelReadyResponse> ReadyAsync(PipelineRunner runner, string name, CancellationToken ct) =>
        new() { Ready = (await runner.FindAsync(name, ct))?.Graph is not null };

    /// <summary>The gRPC status for a run's HTTP status.</summary>
    public static StatusCode StatusOf(int status) => status switch
    {
        StatusCodes.Status404NotFound => StatusCode.NotFound,
        StatusCodes.Status413PayloadTooLarge => StatusCode.ResourceExhausted,
        StatusCodes.Status499ClientClosedRequest => StatusCode.Cancelled,
        StatusCodes.Status503ServiceUnavailable => StatusCode.Unavailable,
        StatusCodes.Status504GatewayTimeout => StatusCode.DeadlineExceeded,
        >= 400 and < 500 => StatusCode.InvalidArgument,
        _ => StatusCode.Internal,
    };
}
