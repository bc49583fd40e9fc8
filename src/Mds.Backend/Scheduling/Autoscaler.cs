using System.Globalization;

namespace Mds.Backend.Scheduling;

/// <summary>A version's autoscaling state and the load it is under, as the reconciler gathers them.</summary>
/// <param name="Replicas">Desired replicas now.</param>
/// <param name="MinReplicas">Fewest replicas (null with <paramref name="MaxReplicas"/>: autoscaling off).</param>
/// <param name="MaxReplicas">Most replicas.</param>
/// <param name="ReadyReplicas">Replicas that answer now.</param>
/// <param name="GatewayOutstanding">Requests outstanding through the gateways (every backend's, summed; each averaged over its last report interval).</param>
/// <param name="WorkerInFlight">Requests running on the version's sessions, summed over its workers' last heartbeats.</param>
/// <param name="WorkerWaiting">Requests waiting at the workers for their turn on a session (the per-model concurrency is taken).</param>
/// <param name="P95Ms">p95 latency through the gateways over the last report interval (the highest any backend saw); null: no answers.</param>
/// <param name="TargetLatencyMs">The version's latency target; null: none.</param>
/// <param name="HighSince">Since when the load has been above the scale-up threshold.</param>
/// <param name="LowSince">Since when the load has been below the scale-down threshold.</param>
/// <param name="LastScaledAt">The last change of the desired replicas.</param>
public sealed record AutoscaleInput(
    int Replicas, int? MinReplicas, int? MaxReplicas, int ReadyReplicas,
    double GatewayOutstanding, int WorkerInFlight, int WorkerWaiting, double? P95Ms, int? TargetLatencyMs,
    DateTimeOffset? HighSince, DateTimeOffset? LowSince, DateTimeOffset? LastScaledAt)
{
    /// <summary>
    /// Requests the version is serving or owes: the larger of what the gateways count and what the workers hold. Not
    /// their sum: a request through the gateway that reached its worker is in both. The gateways' count has the requests
    /// still on their way or queued before the model (the worker's Kestrel and thread pool); the workers' count has
    /// the requests sent to them directly.
    /// </summary>
    public double Load => Math.Max(GatewayOutstanding, WorkerInFlight + WorkerWaiting);

    /// <summary><see cref="Load"/> per Ready replica (all of it when none is Ready).</summary>
    public double LoadPerReplica => ReadyReplicas > 0 ? Load / ReadyReplicas : Load;

    /// <summary>Whether the latency target is set and the p95 is above it.</summary>
    public bool LatencyAboveTarget => TargetLatencyMs is int target && P95Ms is double p95 && p95 > target;
}

/// <summary>What the autoscaler decided: the new desired replicas, the timers to store, and why it changed (null: no change).</summary>
public sealed record AutoscaleDecision(int Replicas, DateTimeOffset? HighSince, DateTimeOffset? LowSince, DateTimeOffset? LastScaledAt, string? Reason = null)
{
    public bool Scaled(AutoscaleInput input) => Replicas != input.Replicas;
}

/// <summary>
/// The autoscaling rule, pure. A version with min/max replicas is under pressure when its load per Ready replica
/// (<see cref="AutoscaleInput.LoadPerReplica"/>: requests outstanding at the gateways or held at the workers, running
/// or waiting) is above <see cref="SchedulerOptions.ScaleUpInFlight"/>, or when it has a latency target and the p95 over
/// the last report interval is above it. Pressure that lasts <see cref="SchedulerOptions.ScaleUpAfter"/> adds one
/// replica; a load below <see cref="SchedulerOptions.ScaleDownInFlight"/> per replica, with the latency within its target,
/// that lasts <see cref="SchedulerOptions.ScaleDownAfter"/> removes one. Never outside [min, max], never again within
/// <see cref="SchedulerOptions.ScaleCooldown"/> of the last change, and up only once every desired replica is Ready (one
/// burst does not jump to max). Concurrency is Little's law's throughput × latency, so the same thresholds fit a model
/// that costs 1 µs and one that costs 100 ms: what matters is how many requests wait on each replica, not for how long.
/// </summary>
public static class Autoscaler
{
    /// <summary>The name a decision of the autoscaler is recorded under.</summary>
    public const string By = "autoscaler";

    public static AutoscaleDecision Decide(AutoscaleInput v, DateTimeOffset now, SchedulerOptions o)
    {
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(o);
        if (v.MinReplicas is not int min || v.MaxReplicas is not int max)
        {
            return new AutoscaleDecision(v.Replicas, null, null, v.LastScaledAt);
        }

        // Bounds changed under us: come back inside them at once.
        if (v.Replicas < min || v.Replicas > max)
        {
            int inside = Math.Clamp(v.Replicas, min, max);
            return new AutoscaleDecision(inside, null, null, now, $"bounds {min}..{max} → {Replicas(inside)}");
        }

        double perReplica = v.LoadPerReplica;
        bool crowded = v.ReadyReplicas > 0 && perReplica > o.ScaleUpInFlight;
        bool slow = v.ReadyReplicas > 0 && v.LatencyAboveTarget;
        bool high = crowded || slow;
        bool low = !slow && perReplica < o.ScaleDownInFlight;
        var highSince = high ? v.HighSince ?? now : (DateTimeOffset?)null;
        var lowSince = low ? v.LowSince ?? now : (DateTimeOffset?)null;
        bool cooling = v.LastScaledAt is { } last && now - last < o.ScaleCooldown;

        if (!cooling && highSince is { } h && now - h >= o.ScaleUpAfter && v.Replicas < max && v.ReadyReplicas >= v.Replicas)
        {
            string why = crowded
                ? $"{DescribeLoad(v)} > {Number(o.ScaleUpInFlight)}"
                : $"p95 {Number(v.P95Ms!.Value)} ms > target {v.TargetLatencyMs} ms";
            return new AutoscaleDecision(v.Replicas + 1, null, null, now, $"{why} for {Seconds(now - h)} → {Replicas(v.Replicas + 1)}");
        }

        if (!cooling && lowSince is { } l && now - l >= o.ScaleDownAfter && v.Replicas > min)
        {
            return new AutoscaleDecision(v.Replicas - 1, null, null, now,
                $"{DescribeLoad(v)} < {Number(o.ScaleDownInFlight)} for {Seconds(now - l)} → {Replicas(v.Replicas - 1)}");
        }

        return new AutoscaleDecision(v.Replicas, highSince, lowSince, v.LastScaledAt);
    }

    /// <summary>"outstanding 14.2 per replica" (the gateways' count) or "14.2 per replica at the workers (3 running, 25 waiting)".</summary>
    public static string DescribeLoad(AutoscaleInput v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return v.GatewayOutstanding >= v.WorkerInFlight + v.WorkerWaiting
            ? $"outstanding {Number(v.LoadPerReplica)} per replica"
            : $"{Number(v.LoadPerReplica)} per replica at the workers ({v.WorkerInFlight} running, {v.WorkerWaiting} waiting)";
    }

    private static string Replicas(int n) => n == 1 ? "1 replica" : $"{n} replicas";

    private static string Number(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan t) => $"{Math.Round(t.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s";
}
