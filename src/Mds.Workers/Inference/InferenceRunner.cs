using System.Diagnostics;
using Mds.Contracts.Inference;

namespace Mds.Workers.Inference;

// Hot path: one call per inference request. No logging above Debug, no LINQ or boxing per element.

/// <summary>
/// Serves one decoded V2 request: finds the loaded model (by name, and version or the highest loaded), holds it for
/// the duration of the run, checks and runs the request, and counts it. Shared by the REST (and future gRPC) endpoints.
/// </summary>
internal sealed class InferenceRunner(SessionRegistry registry, WorkerMetrics metrics)
{
    private int _inFlight;

    /// <summary>Requests running on this worker now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Runs a request decoded just now; see <see cref="Infer(string, string?, InferenceRequest, long)"/>.</summary>
    public InferenceResponse Infer(string modelName, string? version, InferenceRequest request) =>
        Infer(modelName, version, request, Stopwatch.GetTimestamp());

    /// <summary>Runs <paramref name="request"/> on model <paramref name="modelName"/> at <paramref name="version"/> (null: highest loaded).</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="version">Its version, or null for the highest loaded.</param>
    /// <param name="request">The decoded request.</param>
    /// <param name="decodedTimestamp">When the request's body was decoded (<see cref="Stopwatch.GetTimestamp"/>), for the queue time.</param>
    /// <exception cref="ModelNotLoadedException">No such model (version) is loaded here.</exception>
    /// <exception cref="InferenceProtocolException">The request does not fit the model.</exception>
    public InferenceResponse Infer(string modelName, string? version, InferenceRequest request, long decodedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        if (!registry.TryAcquire(modelName, version, out var lease))
        {
            metrics.RecordRequest(null, null, WorkerMetrics.NotFound, started);
            throw new ModelNotLoadedException(modelName, version);
        }

        Interlocked.Increment(ref _inFlight);
        var model = lease.Model;
        string status = WorkerMetrics.Error;
        try
        {
            // No gate or batcher sits between decode and run today, so this is only the hand-over; it is where a wait would show.
            metrics.RecordQueued(model, decodedTimestamp);
            long running = Stopwatch.GetTimestamp();
            var response = TensorBinding.Run(model, request);
            long finished = Stopwatch.GetTimestamp();
            status = WorkerMetrics.Ok;
            long rows = Rows(request);
            metrics.RecordBatch(model, rows);
            model.Counters.Success(rows, Math.Max(0, running - decodedTimestamp), finished - running, finished - started);
            return response;
        }
        catch (InferenceProtocolException)
        {
            status = WorkerMetrics.Invalid;
            model.Counters.Failure(Stopwatch.GetTimestamp() - started);
            throw;
        }
        finally
        {
            lease.Dispose();
            Interlocked.Decrement(ref _inFlight);
            metrics.RecordRequest(model.Name, model.VersionText, status, started);
        }
    }

    /// <summary>The batch size: the first dimension of the first input (1 for a scalar).</summary>
    private static long Rows(InferenceRequest request)
    {
        var inputs = request.Inputs;
        return inputs.Count > 0 && inputs[0].Shape is { Length: > 0 } shape ? shape[0] : 1;
    }
}

/// <summary>The named model (version) is not loaded on this worker: 404.</summary>
internal sealed class ModelNotLoadedException : Exception
{
    public ModelNotLoadedException(string modelName, string? version)
        : base(version is null
            ? $"model '{modelName}' is not loaded on this worker"
            : $"model '{modelName}' version '{version}' is not loaded on this worker")
    {
    }

    public ModelNotLoadedException() { }

    public ModelNotLoadedException(string message) : base(message) { }

    public ModelNotLoadedException(string message, Exception inner) : base(message, inner) { }
}
