using System.Diagnostics;
using Mds.Contracts.Inference;

namespace Mds.Workers.Inference;

// Hot path: one call per inference request. No logging above Debug, no LINQ or boxing per element.

/// <summary>
/// Serves one decoded V2 request: finds the loaded model (by name, and version or the highest loaded), holds it for
/// the duration of the run, checks and runs the request (alone, or in a batch with others when the model batches), and
/// counts it. Shared by the REST and gRPC endpoints.
/// </summary>
internal sealed class InferenceRunner(SessionRegistry registry, WorkerMetrics metrics)
{
    private int _inFlight;

    /// <summary>Requests running on this worker now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Runs <paramref name="request"/> on model <paramref name="modelName"/> at <paramref name="version"/> (null: highest loaded).</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="version">Its version, or null for the highest loaded.</param>
    /// <param name="request">The decoded request.</param>
    /// <param name="decodedTimestamp">When the request's body was decoded (<see cref="Stopwatch.GetTimestamp"/>), for the queue time.</param>
    /// <returns>Completed at once unless the model batches requests, in which case it completes when the batch has run.</returns>
    /// <exception cref="ModelNotLoadedException">No such model (version) is loaded here.</exception>
    /// <exception cref="InferenceProtocolException">The request does not fit the model.</exception>
    public ValueTask<InferenceResponse> InferAsync(string modelName, string? version, InferenceRequest request, long decodedTimestamp)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        if (!registry.TryAcquire(modelName, version, out var lease))
        {
            metrics.RecordNotFound(started);
            throw new ModelNotLoadedException(modelName, version);
        }

        Interlocked.Increment(ref _inFlight);
        var model = lease.Model;
        var batcher = model.Batcher;
        if (batcher is not null)
        {
            return InferBatchedAsync(lease, batcher, request, started, decodedTimestamp);
        }

        // At most the gate's limit of requests block a thread in Run at once; the rest wait there without one.
        return model.Gate.TryEnter()
            ? ValueTask.FromResult(RunEntered(lease, request, started, decodedTimestamp))
            : InferQueuedAsync(lease, request, started, decodedTimestamp);
    }

    /// <summary>Waits for a slot at the model's gate (counted as waiting), then runs the request.</summary>
    private async ValueTask<InferenceResponse> InferQueuedAsync(ModelLease lease, InferenceRequest request, long started, long decodedTimestamp)
    {
        await lease.Model.Gate.EnterAsync().ConfigureAwait(false);
        return RunEntered(lease, request, started, decodedTimestamp);
    }

    /// <summary>Runs the request on the session (its gate slot taken), counts it, and ends it (slot and lease given back).</summary>
    private InferenceResponse RunEntered(ModelLease lease, InferenceRequest request, long started, long decodedTimestamp)
    {
        var model = lease.Model;
        string status = WorkerMetrics.Error;
        try
        {
            metrics.RecordQueued(model, decodedTimestamp);
            long running = Stopwatch.GetTimestamp();
            var response = TensorBinding.Run(model, request);
            long finished = Stopwatch.GetTimestamp();
            status = WorkerMetrics.Ok;
            long rows = Rows(request);
            metrics.RecordBatch(model, rows);
            model.Counters.Executed();
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
            model.Gate.Exit();
            End(lease, status, started);
        }
    }

    /// <summary>
    /// Checks the request here (so a bad one fails alone, before it joins others), then queues it in the model's
    /// batcher and waits for its share of a batch. Requests the batcher cannot take (too many rows, inputs that
    /// disagree on the row count, a batcher just replaced) run on their own.
    /// </summary>
    private async ValueTask<InferenceResponse> InferBatchedAsync(ModelLease lease, DynamicBatcher batcher, InferenceRequest request, long started, long decodedTimestamp)
    {
        var model = lease.Model;
        string status = WorkerMetrics.Error;
        try
        {
            var bound = TensorBinding.BindInputs(model.Name, model.Signature, request.Inputs);
            string[] outputNames = TensorBinding.SelectOutputs(model.Name, model.Signature, request.Outputs);
            long rows = BatchRows(bound);
            BatchedOutputs result;
            var pending = rows > 0 && rows <= batcher.Settings.MaxBatchSize
                ? new PendingInference(bound, outputNames, rows, decodedTimestamp)
                : null;
            if (pending is not null && batcher.TryEnqueue(pending))
            {
                result = await pending.Task.ConfigureAwait(false);
            }
            else
            {
                if (!model.Gate.TryEnter())
                {
                    await model.Gate.EnterAsync().ConfigureAwait(false);
                }

                try
                {
                    metrics.RecordQueued(model, decodedTimestamp);
                    long running = Stopwatch.GetTimestamp();
                    var outputs = TensorBinding.RunBound(model, bound, outputNames);
                    result = new BatchedOutputs(outputs, running, Stopwatch.GetTimestamp());
                }
                finally
                {
                    model.Gate.Exit();
                }

                model.Counters.Executed();
                metrics.RecordBatch(model, Math.Max(rows, 1));
            }

            status = WorkerMetrics.Ok;
            model.Counters.Success(Math.Max(rows, 1), Math.Max(0, result.Started - decodedTimestamp), result.Finished - result.Started, Stopwatch.GetTimestamp() - started);
            return new InferenceResponse { ModelName = model.Name, ModelVersion = model.VersionText, Id = request.Id, Outputs = result.Outputs };
        }
        catch (InferenceProtocolException)
        {
            status = WorkerMetrics.Invalid;
            model.Counters.Failure(Stopwatch.GetTimestamp() - started);
            throw;
        }
        finally
        {
            End(lease, status, started);
        }
    }

    private void End(ModelLease lease, string status, long started)
    {
        var model = lease.Model;
        lease.Dispose();
        Interlocked.Decrement(ref _inFlight);
        metrics.RecordRequest(model, status, started);
    }

    /// <summary>The rows every input agrees on (its first dimension), or -1 when they disagree.</summary>
    private static long BatchRows(InferenceTensor[] bound)
    {
        long rows = bound[0].Shape[0];
        for (int i = 1; i < bound.Length; i++)
        {
            if (bound[i].Shape[0] != rows)
            {
                return -1;
            }
        }

        return rows;
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
