using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;

namespace Mds.Backend.Streams;

/// <summary>Whether a stream's model or pipeline can answer now, and how many rows one call may hold.</summary>
/// <param name="Ready">A Ready replica (model) or a live version (pipeline) exists.</param>
/// <param name="Reason">Why not, when not ready.</param>
/// <param name="Batching">The model's live version's adaptive batching; null: every message is its own call.</param>
public sealed record StreamTarget(bool Ready, string? Reason, BatchingSettings? Batching);

/// <summary>What the stream processor calls: the model's replicas or the pipeline, as any other caller would.</summary>
public interface IStreamInference
{
    /// <summary>Whether <paramref name="resource"/> can answer now (read from the routing and pipeline tables: no I/O on the hot path).</summary>
    ValueTask<StreamTarget> TargetAsync(StreamResource resource, CancellationToken ct);

    /// <summary>Runs <paramref name="request"/> on <paramref name="resource"/> for <paramref name="caller"/>.</summary>
    /// <exception cref="ModelNotFoundException">The model or pipeline does not exist.</exception>
    /// <exception cref="ReplicaUnavailableException">Nothing can answer now (no Ready replica, a pipeline not live or a step without one).</exception>
    /// <exception cref="InferenceRejectedException">The model or pipeline refused the request (4xx, a pipeline's 5xx); the message says why.</exception>
    Task<InferenceResponse> InferAsync(StreamResource resource, InferenceRequest request, string requestId, string caller, CancellationToken ct);
}

/// <summary>Models through <see cref="ReplicaCaller"/> (an inference record on the worker names the caller), pipelines through <see cref="PipelineRunner"/>.</summary>
public sealed class ReplicaStreamInference(IServiceProvider services, RoutingTable routing, PipelineRunner pipelines) : IStreamInference
{
    /// <inheritdoc/>
    public async ValueTask<StreamTarget> TargetAsync(StreamResource resource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource.Kind == StreamResource.Pipelines)
        {
            var pipeline = await pipelines.FindAsync(resource.Name, ct);
            return pipeline switch
            {
                null => new StreamTarget(false, $"pipeline '{resource.Name}' not found", null),
                { Graph: null } => new StreamTarget(false, $"pipeline '{resource.Name}' is not live: {pipeline.Reason}", null),
                _ => new StreamTarget(true, null, null),
            };
        }

        var route = await routing.ResolveAsync(resource.Name, null, ct);
        return route.Status == RouteStatus.Found
            ? new StreamTarget(true, null, route.Version!.Batching)
            : new StreamTarget(false, route.Error, null);
    }

    /// <inheritdoc/>
    public async Task<InferenceResponse> InferAsync(StreamResource resource, InferenceRequest request, string requestId, string caller, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource.Kind != StreamResource.Pipelines)
        {
            var answer = await services.GetRequiredService<ReplicaCaller>().InferAsync(resource.Name, null, request, new ReplicaCallOptions(caller, requestId), ct);
            return answer.Response;
        }

        var run = await pipelines.RunAsync(resource.Name, request, requestId, caller, ct);
        if (run.Response is not null)
        {
            return run.Response;
        }

        string error = run.Error ?? $"the pipeline failed ({run.Status})";
        throw run.Status switch
        {
            StatusCodes.Status404NotFound => new ModelNotFoundException(error),
            StatusCodes.Status503ServiceUnavailable => new ReplicaUnavailableException(error),
            _ => new InferenceRejectedException(run.Status, error),
        };
    }
}
