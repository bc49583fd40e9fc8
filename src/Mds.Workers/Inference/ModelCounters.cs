using System.Diagnostics;
using Mds.Contracts.Inference;

namespace Mds.Workers.Inference;

/// <summary>
/// A loaded model version's running totals for the statistics extension (<c>/v2/models/{name}/stats</c>): lock-free
/// counters the hot path adds to; they start at zero when the replica is loaded.
/// </summary>
internal sealed class ModelCounters
{
    private long _executions, _successCount, _successTicks, _failCount, _failTicks, _queueTicks, _computeTicks, _rows, _lastInferenceMs;

    /// <summary>Counts a successful request: its rows, its wait before the run, the run, and its whole time (Stopwatch ticks).</summary>
    public void Success(long rows, long queueTicks, long computeTicks, long totalTicks)
    {
        Interlocked.Increment(ref _successCount);
        Interlocked.Add(ref _successTicks, totalTicks);
        Interlocked.Add(ref _queueTicks, queueTicks);
        Interlocked.Add(ref _computeTicks, computeTicks);
        Interlocked.Add(ref _rows, rows);
        Volatile.Write(ref _lastInferenceMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>Counts one ONNX Runtime run: one request, or a whole batch of them.</summary>
    public void Executed() => Interlocked.Increment(ref _executions);

    /// <summary>Counts a request that reached the model and failed, with its whole time (Stopwatch ticks).</summary>
    public void Failure(long totalTicks)
    {
        Interlocked.Increment(ref _failCount);
        Interlocked.Add(ref _failTicks, totalTicks);
    }

    /// <summary>The totals now, in the extension's form.</summary>
    public ModelStatistics Snapshot(string name, string version)
    {
        long successes = Volatile.Read(ref _successCount);
        var compute = new StatisticDuration(successes, Ns(Volatile.Read(ref _computeTicks)));
        return new ModelStatistics(
            name, version, Volatile.Read(ref _lastInferenceMs), Volatile.Read(ref _rows), Volatile.Read(ref _executions),
            new InferStatistics(
                new StatisticDuration(successes, Ns(Volatile.Read(ref _successTicks))),
                new StatisticDuration(Volatile.Read(ref _failCount), Ns(Volatile.Read(ref _failTicks))),
                new StatisticDuration(successes, Ns(Volatile.Read(ref _queueTicks))),
                new StatisticDuration(successes, 0),
                compute,
                new StatisticDuration(successes, 0)));
    }

    private static long Ns(long ticks) => (long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
}
