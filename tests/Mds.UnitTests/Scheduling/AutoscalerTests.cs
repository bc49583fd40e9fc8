using Mds.Backend.Scheduling;

namespace Mds.UnitTests.Scheduling;

public sealed class AutoscalerTests
{
    private static readonly SchedulerOptions Options = new()
    {
        ScaleUpInFlight = 4, ScaleUpAfter = TimeSpan.FromSeconds(10),
        ScaleDownInFlight = 0.5, ScaleDownAfter = TimeSpan.FromSeconds(60),
        ScaleCooldown = TimeSpan.FromSeconds(30),
    };

    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    // perReplica as the gateways count it: outstanding = perReplica × Ready replicas.
    private static AutoscaleInput In(int replicas, double perReplica, DateTimeOffset? high = null, DateTimeOffset? low = null, DateTimeOffset? last = null, int? ready = null, int? min = 1, int? max = 4) =>
        new(replicas, min, max, ready ?? replicas, perReplica * Math.Max(1, ready ?? replicas), 0, 0, null, null, high, low, last);

    [Fact]
    public void Without_bounds_nothing_changes()
    {
        var d = Autoscaler.Decide(In(2, 100, high: T0.AddMinutes(-5), min: null, max: null), T0, Options);
        Assert.Equal(2, d.Replicas);
        Assert.Null(d.HighSince);
    }

    [Fact]
    public void High_load_starts_a_timer_then_adds_one_replica_after_it_has_lasted()
    {
        var first = Autoscaler.Decide(In(1, 6), T0, Options);
        Assert.Equal(1, first.Replicas);
        Assert.Equal(T0, first.HighSince);

        var early = Autoscaler.Decide(In(1, 6, high: first.HighSince), T0.AddSeconds(9), Options);
        Assert.Equal(1, early.Replicas);

        var due = Autoscaler.Decide(In(1, 6, high: first.HighSince), T0.AddSeconds(10), Options);
        Assert.Equal(2, due.Replicas);
        Assert.Equal(T0.AddSeconds(10), due.LastScaledAt);
        Assert.Null(due.HighSince);
    }

    [Fact]
    public void A_dip_below_the_threshold_resets_the_timer()
    {
        var d = Autoscaler.Decide(In(1, 2, high: T0.AddSeconds(-30)), T0, Options);
        Assert.Null(d.HighSince);
        Assert.Equal(1, d.Replicas);
    }

    [Fact]
    public void Never_above_max_nor_below_min()
    {
        Assert.Equal(4, Autoscaler.Decide(In(4, 50, high: T0.AddMinutes(-5)), T0, Options).Replicas);
        Assert.Equal(1, Autoscaler.Decide(In(1, 0, low: T0.AddHours(-1)), T0, Options).Replicas);
    }

    [Fact]
    public void Low_load_for_long_enough_removes_one_replica()
    {
        Assert.Equal(3, Autoscaler.Decide(In(3, 0.1, low: T0.AddSeconds(-59)), T0, Options).Replicas);
        Assert.Equal(2, Autoscaler.Decide(In(3, 0.1, low: T0.AddSeconds(-60)), T0, Options).Replicas);
    }

    [Fact]
    public void Cooldown_blocks_a_second_step()
    {
        var d = Autoscaler.Decide(In(2, 9, high: T0.AddMinutes(-5), last: T0.AddSeconds(-10)), T0, Options);
        Assert.Equal(2, d.Replicas);
        Assert.Equal(T0.AddMinutes(-5), d.HighSince); // the timer keeps running through the cooldown
    }

    [Fact]
    public void No_scale_up_while_the_previous_new_replica_is_still_loading()
    {
        var d = Autoscaler.Decide(In(2, 9, high: T0.AddMinutes(-5), ready: 1), T0, Options);
        Assert.Equal(2, d.Replicas);
    }

    [Fact]
    public void Replicas_outside_new_bounds_come_back_inside_at_once()
    {
        Assert.Equal(3, Autoscaler.Decide(In(6, 1, min: 2, max: 3), T0, Options).Replicas);
        Assert.Equal(2, Autoscaler.Decide(In(1, 1, min: 2, max: 3), T0, Options).Replicas);
    }

    /// <summary>One pass of the rule: the load seen, how long it has lasted, and what the rule must do.</summary>
    public sealed record Case(
        string Name, int Replicas, int Ready, double Gateway, int Running, int Waiting, double? P95Ms, int? TargetMs,
        int? HighForSeconds, int? LowForSeconds, int Expected, string? Reason)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases() =>
    [
        // The reported case: 16 callers through the gateway, the worker runs 2 and 14 wait at its gate.
        new("callers queued at the gateway scale up", 1, 1, 16, 2, 0, null, null, 10, null, 2, "outstanding 16 per replica > 4 for 10 s → 2 replicas"),
        // Before the gate existed, requests waited in the worker's thread pool: the gateway still counts them.
        new("gateway outstanding counts when the worker sees few", 1, 1, 14.2, 1, 0, null, null, 10, null, 2, "outstanding 14.2 per replica > 4 for 10 s → 2 replicas"),
        new("direct callers waiting at the worker scale up", 1, 1, 0, 2, 10, null, null, 10, null, 2, "12 per replica at the workers (2 running, 10 waiting) > 4 for 10 s → 2 replicas"),
        new("gateway and worker views are not added up", 2, 2, 6, 2, 4, null, null, 10, null, 2, null),
        new("no second step while the last new replica is loading", 3, 2, 12, 0, 0, null, null, 60, null, 3, null),
        new("latency above target scales before concurrency does", 1, 1, 2, 1, 0, 180, 100, 10, null, 2, "p95 180 ms > target 100 ms for 10 s → 2 replicas"),
        new("latency within target and little load: no change", 2, 2, 2, 1, 0, 80, 100, null, null, 2, null),
        new("latency above target holds replicas though load is low", 2, 2, 0.2, 0, 0, 150, 100, null, 600, 2, null),
        new("no target: latency is not pressure", 1, 1, 1, 1, 0, 5000, null, 60, null, 1, null),
        new("no answers: no p95, no pressure", 1, 1, 1, 1, 0, null, 100, 60, null, 1, null),
        new("idle past the window scales down", 2, 2, 0.4, 0, 0, null, null, null, 60, 1, "outstanding 0.2 per replica < 0.5 for 60 s → 1 replica"),
        new("idle within the window waits", 2, 2, 0, 0, 0, null, null, null, 59, 2, null),
        new("a 1 µs model: many short requests, few outstanding, no scale-up", 1, 1, 0.3, 0, 0, 0.05, null, 600, null, 1, null),
        new("a 100 ms model: 5 callers back to back are 5 outstanding, scale up", 1, 1, 5, 2, 3, 480, null, 10, null, 2, "outstanding 5 per replica > 4 for 10 s → 2 replicas"),
        new("no Ready replica: no scale-up from nothing", 1, 0, 30, 0, 0, null, null, 60, null, 1, null),
        new("at max: no further", 4, 4, 100, 0, 0, null, null, 60, null, 4, null),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rule_table(Case c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var input = new AutoscaleInput(c.Replicas, 1, 4, c.Ready, c.Gateway, c.Running, c.Waiting, c.P95Ms, c.TargetMs,
            c.HighForSeconds is int h ? T0.AddSeconds(-h) : null, c.LowForSeconds is int l ? T0.AddSeconds(-l) : null, T0.AddHours(-1));
        var d = Autoscaler.Decide(input, T0, Options);
        Assert.Equal(c.Expected, d.Replicas);
        Assert.Equal(c.Reason, d.Reason);
    }

    [Fact]
    public void A_bounds_change_says_so()
    {
        Assert.Equal("bounds 2..3 → 3 replicas", Autoscaler.Decide(In(6, 1, min: 2, max: 3), T0, Options).Reason);
    }
}
