using System.Diagnostics;
using System.Threading.Channels;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;

namespace Mds.Workers.Inference;

// Hot path: every request of a batching model passes through here. One loop per model version gathers and runs;
// request threads only enqueue and await. No logging, no LINQ per request.

/// <summary>
/// Adaptive batching for one loaded model version (Triton's dynamic batcher): requests already checked against the
/// model wait in a queue; one loop takes the oldest, gathers the queued requests whose tensors match it beyond the
/// first dimension (and that ask for the same outputs) until <see cref="BatchingSettings.MaxBatchSize"/> rows or until
/// the oldest has waited <see cref="BatchingSettings.MaxLatencyMicroseconds"/>, concatenates them along the first
/// dimension, runs ONNX Runtime once and hands each request its own rows of every output. Requests that do not match
/// wait for a later batch, never mixed. While a batch runs the next one gathers, so under load batches fill without
/// any waiting. When the model rejects a batch, its requests are run one by one, so only the bad one fails.
/// </summary>
internal sealed class DynamicBatcher
{
    private readonly LoadedModel _model;
    private readonly WorkerMetrics _metrics;
    private readonly Channel<PendingInference> _queue =
        Channel.CreateUnbounded<PendingInference>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    // Requests taken from the queue that did not fit the batch being gathered; they lead the next ones. Loop only.
    private readonly List<PendingInference> _deferred = [];
    private readonly List<PendingInference> _batch = [];
    private readonly long _maxLatencyTicks;

    public DynamicBatcher(LoadedModel model, BatchingSettings settings, WorkerMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(metrics);
        _model = model;
        _metrics = metrics;
        Settings = settings;
        _maxLatencyTicks = settings.MaxLatencyMicroseconds * Stopwatch.Frequency / 1_000_000;
        Completion = Task.Run(LoopAsync);
    }

    public BatchingSettings Settings { get; }

    /// <summary>Completes when the loop has served everything queued before <see cref="Complete"/>.</summary>
    public Task Completion { get; }

    /// <summary>Queues a request; false when this batcher no longer takes requests (settings changed or unloaded): run it alone.</summary>
    public bool TryEnqueue(PendingInference pending) => _queue.Writer.TryWrite(pending);

    /// <summary>Takes no more requests; those queued are still served.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        int maxRows = Settings.MaxBatchSize;
        while (true)
        {
            PendingInference first;
            if (_deferred.Count > 0)
            {
                first = _deferred[0];
                _deferred.RemoveAt(0);
            }
            else if (!reader.TryRead(out first!))
            {
                if (!await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            _batch.Clear();
            _batch.Add(first);
            long rows = first.Rows;

            // Earlier leftovers first, in arrival order.
            for (int i = 0; i < _deferred.Count && rows < maxRows;)
            {
                var candidate = _deferred[i];
                if (rows + candidate.Rows <= maxRows && candidate.Matches(first))
                {
                    _batch.Add(candidate);
                    rows += candidate.Rows;
                    _deferred.RemoveAt(i);
                }
                else
                {
                    i++;
                }
            }

            long deadline = first.Queued + _maxLatencyTicks;
            while (rows < maxRows)
            {
                if (reader.TryRead(out var next))
                {
                    if (rows + next.Rows <= maxRows && next.Matches(first))
                    {
                        _batch.Add(next);
                        rows += next.Rows;
                    }
                    else
                    {
                        _deferred.Add(next);
                    }

                    continue;
                }

                long wait = deadline - Stopwatch.GetTimestamp();
                if (wait <= 0 || !await MoreArrivesWithinAsync(reader, wait).ConfigureAwait(false))
                {
                    break;
                }
            }

            Execute(_batch, rows);
        }
    }

    /// <summary>True when something can be read before <paramref name="ticks"/> pass; false at the deadline or when the queue is closed.</summary>
    private static async ValueTask<bool> MoreArrivesWithinAsync(ChannelReader<PendingInference> reader, long ticks)
    {
        var waiting = reader.WaitToReadAsync();
        if (waiting.IsCompleted)
        {
            return waiting.Result;
        }

        var more = waiting.AsTask();
        using var timeout = new CancellationTokenSource();
        var timer = Task.Delay(TimeSpan.FromTicks(ticks * TimeSpan.TicksPerSecond / Stopwatch.Frequency), timeout.Token);
        var first = await Task.WhenAny(more, timer).ConfigureAwait(false);
        if (first == more)
        {
            await timeout.CancelAsync().ConfigureAwait(false);
            return await more.ConfigureAwait(false);
        }

        return false;
    }

    private void Execute(List<PendingInference> batch, long rows)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var pending in batch)
        {
            _metrics.RecordQueued(_model, pending.Decoded);
        }

        if (batch.Count == 1)
        {
            RunAlone(batch[0], started);
            return;
        }

        InferenceTensor[][] split;
        try
        {
            var merged = TensorBatching.Concatenate(batch, rows);
            var outputs = TensorBinding.RunBound(_model, merged, batch[0].OutputNames);
            split = TensorBatching.Split(outputs, batch, rows);
        }
        catch (InferenceProtocolException)
        {
            // One request's values may be what the model rejects (or an output is not per row): each on its own.
            foreach (var pending in batch)
            {
                RunAlone(pending, Stopwatch.GetTimestamp());
            }

            return;
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
            {
                pending.Fail(e);
            }

            return;
        }

        long finished = Stopwatch.GetTimestamp();
        _model.Counters.Executed();
        _metrics.RecordBatch(_model, rows);
        for (int i = 0; i < batch.Count; i++)
        {
            batch[i].Succeed(split[i], started, finished);
        }
    }

    private void RunAlone(PendingInference pending, long started)
    {
        try
        {
            var outputs = TensorBinding.RunBound(_model, pending.Inputs, pending.OutputNames);
            long finished = Stopwatch.GetTimestamp();
            _model.Counters.Executed();
            _metrics.RecordBatch(_model, pending.Rows);
            pending.Succeed(outputs, started, finished);
        }
        catch (Exception e)
        {
            pending.Fail(e);
        }
    }
}

/// <summary>
/// One request waiting in a <see cref="DynamicBatcher"/>: its inputs checked and in model order, the outputs it asked
/// for, and when it was decoded and queued. Completed with its own outputs and the batch's start and end.
/// </summary>
internal sealed class PendingInference : TaskCompletionSource<BatchedOutputs>
{
    public PendingInference(InferenceTensor[] inputs, string[] outputNames, long rows, long decoded)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Inputs = inputs;
        OutputNames = outputNames;
        Rows = rows;
        Decoded = decoded;
        Queued = Stopwatch.GetTimestamp();
    }

    /// <summary>Inputs in model order, each with <see cref="Rows"/> as its first dimension.</summary>
    public InferenceTensor[] Inputs { get; }

    public string[] OutputNames { get; }

    public long Rows { get; }

    /// <summary>When the request's body was decoded (Stopwatch timestamp).</summary>
    public long Decoded { get; }

    /// <summary>When it entered the queue (Stopwatch timestamp).</summary>
    public long Queued { get; }

    /// <summary>
    /// Whether this request can share a call with <paramref name="other"/>: the same outputs asked for, and every input
    /// of the same shape beyond the first dimension.
    /// </summary>
    public bool Matches(PendingInference other)
    {
        var names = OutputNames;
        var otherNames = other.OutputNames;
        if (!ReferenceEquals(names, otherNames))
        {
            if (names.Length != otherNames.Length)
            {
                return false;
            }

            for (int i = 0; i < names.Length; i++)
            {
                if (!string.Equals(names[i], otherNames[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }

        var inputs = Inputs;
        var otherInputs = other.Inputs;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].SameRowShape(otherInputs[i]))
            {
                return false;
            }
        }

        return true;
    }

    public void Succeed(InferenceTensor[] outputs, long started, long finished) =>
        TrySetResult(new BatchedOutputs(outputs, started, finished));

    public void Fail(Exception error) => TrySetException(error);
}

/// <summary>A request's outputs from a batch, and when the batch's run started and finished (Stopwatch timestamps).</summary>
internal sealed record BatchedOutputs(InferenceTensor[] Outputs, long Started, long Finished);

/// <summary>Joins requests' tensors along the first dimension and cuts a batch's outputs back into per-request tensors.</summary>
internal static class TensorBatching
{
    /// <summary>One tensor per model input holding every request's rows, in batch order.</summary>
    public static InferenceTensor[] Concatenate(IReadOnlyList<PendingInference> batch, long rows)
    {
        var first = batch[0].Inputs;
        var merged = new InferenceTensor[first.Length];
        for (int slot = 0; slot < first.Length; slot++)
        {
            var template = first[slot];
            long[] shape = (long[])template.Shape.Clone();
            shape[0] = rows;
            long perRow = RowLength(template.Shape);
            var data = Array.CreateInstance(template.Data.GetType().GetElementType()!, checked(rows * perRow));
            long offset = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                var part = batch[i].Inputs[slot].Data;
                Array.Copy(part, 0, data, offset, part.Length);
                offset += part.Length;
            }

            merged[slot] = new InferenceTensor(template.Name, template.Datatype, shape, data);
        }

        return merged;
    }

    /// <summary>Each request's rows of every output.</summary>
    /// <exception cref="InferenceProtocolException">An output's first dimension is not the batch's row count.</exception>
    public static InferenceTensor[][] Split(InferenceTensor[] outputs, IReadOnlyList<PendingInference> batch, long rows)
    {
        var split = new InferenceTensor[batch.Count][];
        for (int i = 0; i < split.Length; i++)
        {
            split[i] = new InferenceTensor[outputs.Length];
        }

        for (int o = 0; o < outputs.Length; o++)
        {
            var output = outputs[o];
            if (output.Shape.Length == 0 || output.Shape[0] != rows)
            {
                throw new InferenceProtocolException($"output '{output.Name}' does not have one row per input row, so a batch cannot be split");
            }

            long perRow = RowLength(output.Shape);
            var elementType = output.Data.GetType().GetElementType()!;
            long offset = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                long count = batch[i].Rows * perRow;
                var data = Array.CreateInstance(elementType, count);
                Array.Copy(output.Data, offset, data, 0, count);
                offset += count;
                long[] shape = (long[])output.Shape.Clone();
                shape[0] = batch[i].Rows;
                split[i][o] = new InferenceTensor(output.Name, output.Datatype, shape, data);
            }
        }

        return split;
    }

    /// <summary>Elements in one row: the product of the dimensions after the first.</summary>
    private static long RowLength(long[] shape) => InferenceTensor.ElementCount(shape.AsSpan(1));
}
