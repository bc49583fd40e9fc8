using Mds.Backend.Experiments;
using Mds.Contracts.Api;

namespace Mds.UnitTests.Experiments;

public sealed class RolloutStateMachineTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, double> Weights = new() { ["m@1"] = 90, ["m@2"] = 10 };

    private static ExperimentRolloutSpec Spec(double? maxErrorRate = 0.05, double? maxP95Ms = 500, int? minRequests = 100) =>
        new("m@2", [5, 25, 50, 100], "10m", maxErrorRate, maxP95Ms, minRequests);

    private static RolloutDecision Decide(ExperimentRolloutSpec spec, int step, TimeSpan elapsed, RolloutFigures figures) =>
        RolloutStateMachine.Decide(spec, step, Start, Start + elapsed, figures, Weights);

    [Fact]
    public void Before_the_first_step_the_rollout_starts_at_step_0()
    {
        var d = Decide(Spec(), -1, TimeSpan.Zero, new RolloutFigures(0, 0, null));

        Assert.Equal(RolloutAction.Advance, d.Action);
        Assert.Equal(0, d.Step);
        Assert.Equal(5, d.Weights!["m@2"]);
        Assert.Equal(95, d.Weights["m@1"]);
    }

    [Fact]
    public void Guards_holding_over_the_interval_advance_one_step_with_the_plans_weights()
    {
        var d = Decide(Spec(), 0, TimeSpan.FromMinutes(10), new RolloutFigures(400, 4, 120));

        Assert.Equal(RolloutAction.Advance, d.Action);
        Assert.Equal(1, d.Step);
        Assert.Equal(new Dictionary<string, double> { ["m@2"] = 25, ["m@1"] = 75 }, d.Weights);
        Assert.Contains("moves to 25 %", d.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Others_share_the_rest_in_proportion_to_their_weights()
    {
        var weights = RolloutStateMachine.WeightsAt(Spec(), 2, new Dictionary<string, double> { ["a"] = 3, ["b"] = 1, ["m@2"] = 7 });

        Assert.Equal(50, weights["m@2"]);
        Assert.Equal(37.5, weights["a"]);
        Assert.Equal(12.5, weights["b"]);
    }

    [Fact]
    public void A_step_whose_interval_is_not_over_holds()
    {
        var d = Decide(Spec(), 1, TimeSpan.FromMinutes(6), new RolloutFigures(400, 0, 100));

        Assert.Equal(RolloutAction.Hold, d.Action);
        Assert.Contains("interval not over: 4m00s of 10m left", d.Reason, StringComparison.Ordinal);
        Assert.Null(d.Weights);
    }

    [Fact]
    public void A_step_with_too_few_requests_holds_past_its_interval()
    {
        var d = Decide(Spec(), 1, TimeSpan.FromMinutes(30), new RolloutFigures(99, 0, 100));

        Assert.Equal(RolloutAction.Hold, d.Action);
        Assert.Contains("too few requests: 99 of the 100 needed", d.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_min_requests_a_step_with_no_requests_holds()
    {
        var d = Decide(Spec(minRequests: null), 1, TimeSpan.FromMinutes(30), new RolloutFigures(0, 0, null));

        Assert.Equal(RolloutAction.Hold, d.Action);
    }

    [Fact]
    public void The_last_step_holding_promotes()
    {
        var d = Decide(Spec(), 3, TimeSpan.FromMinutes(10), new RolloutFigures(5000, 10, 200));

        Assert.Equal(RolloutAction.Promote, d.Action);
        Assert.Contains("m@2 promoted", d.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_error_rate_above_its_guard_rolls_back_with_the_figures()
    {
        var d = Decide(Spec(), 1, TimeSpan.FromMinutes(10), new RolloutFigures(200, 12, 100));

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Equal("error rate 6.0 % (12 of 200 requests) exceeded the limit of 5.0 % at step 2 of 4 (25 %): m@2 rolled back to 0 %", d.Reason);
    }

    [Fact]
    public void A_p95_above_its_guard_rolls_back_with_the_figures()
    {
        var d = Decide(Spec(), 2, TimeSpan.FromMinutes(10), new RolloutFigures(200, 0, 812.4));

        Assert.Equal(RolloutAction.RollBack, d.Action);
        Assert.Equal("p95 latency 812.4 ms (over 200 requests) exceeded the limit of 500 ms at step 3 of 4 (50 %): m@2 rolled back to 0 %", d.Reason);
    }

    [Fact]
    public void A_failing_guard_rolls_back_before_the_interval_is_over_once_min_requests_arrived()
    {
        Assert.Equal(RolloutAction.RollBack, Decide(Spec(), 0, TimeSpan.FromMinutes(1), new RolloutFigures(100, 50, 100)).Action);
        Assert.Equal(RolloutAction.Hold, Decide(Spec(), 0, TimeSpan.FromMinutes(1), new RolloutFigures(99, 50, 100)).Action);
    }

    [Fact]
    public void Guards_at_their_limit_hold()
    {
        var d = Decide(Spec(), 0, TimeSpan.FromMinutes(10), new RolloutFigures(100, 5, 500));

        Assert.Equal(RolloutAction.Advance, d.Action);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("10m", 600_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1_500)]
    [InlineData(" 2d ", 172_800_000)]
    public void Intervals_are_read(string text, double milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), RolloutStateMachine.ParseInterval(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("m")]
    [InlineData("10 m")]
    [InlineData("10x")]
    [InlineData("0s")]
    [InlineData("-5m")]
    [InlineData("1.2.3s")]
    public void Unreadable_intervals_are_refused(string text)
    {
        Assert.False(RolloutStateMachine.TryParseInterval(text, out _));
        Assert.Throws<FormatException>(() => RolloutStateMachine.ParseInterval(text));
    }
}
