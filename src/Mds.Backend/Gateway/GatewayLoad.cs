using System.Collections.Concurrent;
using System.Diagnostics;

namespace Mds.Backend.Gateway;

/// <summary>
/// Requests outstanding through this backend's gateway, per model version, from the moment the gateway picks a replica
/// until the answer is back (retries included): callers waiting anywhere past the gateway (the network, the worker's
/// Kestrel and thread pool, the model's queue) are in it. Also the latencies of the answers, for a latency target. Read
/// by <see cref="GatewayLoadReporter"/>, which averages and writes them to the database for the autoscaler.
/// </summary>
public sealed class GatewayLoad
{
    private readonly ConcurrentDictionary<(string Model, int Version), VersionLoad> _versions = new();

    /// <summary>This backend process, as its reports name it.</summary>
    public string BackendId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfff}";

    /// <summary>Every version this gateway has seen calls to (since it started).</summary>
    public IEnumerable<KeyValuePair<(string Model, int Version), VersionLoad>> Versions => _versions;

    /// <summary>The load of <paramref name="model"/> version <paramref name="version"/>.</summary>
    public VersionLoad For(string model, int version) => _versions.GetOrAdd((model, version), static _ => new VersionLoad());
}

/// <summary>One version's load through one gateway.</summary>
public sealed class VersionLoad
{
    private const int MaxLatencies = 4096;
    private readonly Lock _lock = new();
    private readonly double[] _latenciesMs = new double[MaxLatencies];
    private int _outstanding;
    private int _latencyCount;
    private long _answered;
    private double _outstandingSum;
    private int _samples;

    /// <summary>Requests outstanding now.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>A call begins; returns its start, for <see cref="End"/>.</summary>
    public long Begin()
    {
        Interlocked.Increment(ref _outstanding);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>A call begun at <paramref name="started"/> ends; <paramref name="answered"/>: its latency counts.</summary>
    public void End(long started, bool answered)
    {
        Interlocked.Decrement(ref _outstanding);
        if (!answered)
        {
            return;
        }

        double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        lock (_lock)
        {
            // Past the cap, a ring: the window keeps the latest answers.
            _latenciesMs[(int)(_answered % MaxLatencies)] = ms;
            _answered++;
            _latencyCount = Math.Min(_latencyCount + 1, MaxLatencies);
        }
    }

    /// <summary>Adds the current outstanding count to the window's average (the reporter calls this on a short timer).</summary>
    public void Sample()
    {
        lock (_lock)
        {
            _outstandingSum += Outstanding;
            _samples++;
        }
    }

    /// <summary>The window so far (mean outstanding, answers, p95 in ms or null), and starts a new one.</summary>
    public (double Outstanding, int Requests, double? P95Ms) TakeWindow()
    {
        lock (_lock)
        {
            double mean = _samples == 0 ? Outstanding : _outstandingSum / _samples;
            int requests = (int)Math.Min(_answered, int.MaxValue);
            double? p95 = _latencyCount == 0 ? null : Percentile(_latenciesMs.AsSpan(0, _latencyCount), 0.95);
            (_outstandingSum, _samples, _latencyCount, _answered) = (0, 0, 0, 0);
            return (mean, requests, p95);
        }
    }

    private static double Percentile(Span<double> values, double q)
    {
        values.Sort();
        int index = (int)Math.Ceiling(q * values.Length) - 1;
        return values[Math.Clamp(index, 0, values.Length - 1)];
    }
}
