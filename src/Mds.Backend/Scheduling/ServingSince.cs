namespace Mds.Backend.Scheduling;

/// <summary>
/// When this backend began to accept requests (the workers' heartbeats among them). A worker is only judged silent
/// once the backend has been listening for a heartbeat timeout: after a restart every worker's last heartbeat is as
/// old as the outage (and the start, on a busy machine, can take longer than the timeout itself).
/// </summary>
public sealed class ServingSince
{
    private long _startedAt; // Environment.TickCount64 when the host started; 0 before

    public ServingSince(IHostApplicationLifetime lifetime)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        lifetime.ApplicationStarted.Register(() => Interlocked.Exchange(ref _startedAt, Environment.TickCount64));
    }

    /// <summary>True once the backend has accepted requests for at least <paramref name="span"/> (real time: heartbeats are).</summary>
    public bool HasServedFor(TimeSpan span)
    {
        long startedAt = Interlocked.Read(ref _startedAt);
        return startedAt != 0 && Environment.TickCount64 - startedAt >= (long)span.TotalMilliseconds;
    }
}
