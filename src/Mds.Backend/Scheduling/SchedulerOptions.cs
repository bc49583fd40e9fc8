using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Scheduling;

/// <summary><c>Mds:Scheduler</c>.</summary>
public sealed class SchedulerOptions
{
    /// <summary>How long a worker may stay silent before it is Offline.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How often workers heartbeat (told to them at registration).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the reconciler runs when nothing asks it to.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Memory a worker may promise, as a multiple of its capacity.</summary>
    [Range(0.1, 100)]
    public double OvercommitFactor { get; set; } = 1.0;

    /// <summary>Memory assumed for a version nobody declared or measured yet.</summary>
    [Range(1, 1_000_000)]
    public int DefaultMemoryMb { get; set; } = 64;

    /// <summary>A Scheduled replica whose worker has not started loading it by then gets its load order again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LoadOrderTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Autoscaling adds a replica when the load per Ready replica (requests outstanding at the gateways, or running and
    /// waiting at the workers, whichever is more) stays above this, or a version's p95 latency stays above its target…
    /// </summary>
    [Range(0.01, 100_000)]
    public double ScaleUpInFlight { get; set; } = 4;

    /// <summary>…for this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ScaleUpAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Autoscaling removes a replica when the load per Ready replica stays below this (and the latency within its target)…</summary>
    [Range(0, 100_000)]
    public double ScaleDownInFlight { get; set; } = 0.5;

    /// <summary>…for this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan ScaleDownAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>No autoscaling step within this time of the previous one.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan ScaleCooldown { get; set; } = TimeSpan.FromSeconds(30);
}
