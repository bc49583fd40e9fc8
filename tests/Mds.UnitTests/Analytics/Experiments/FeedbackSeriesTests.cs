using Mds.Analytics.Experiments;

namespace Mds.UnitTests.Analytics.Experiments;

/// <summary>Accuracy over time for the experiment chart: bucket sizes, cumulative figures, and intervals free of rounding noise.</summary>
public sealed class FeedbackSeriesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    // 0 of 7 gave a lower end of 2.8e-17 (printed as "5.6e-17"-style noise), 10 of 10 an upper end of 0.9999999999999999.
    [InlineData(0, 7)]
    [InlineData(0, 9)]
    [InlineData(10, 10)]
    [InlineData(25, 25)]
    public void Wilson_interval_of_none_or_all_ends_exactly_at_0_or_1(long successes, long trials)
    {
        var e = WilsonInterval.Of(successes, trials);

        if (successes == 0)
        {
            Assert.Equal(0.0, e.Low);
            Assert.True(e.High > 0);
        }
        else
        {
            Assert.Equal(1.0, e.High);
            Assert.True(e.Low < 1);
        }
    }

    [Fact]
    public void Wilson_interval_ends_never_carry_rounding_noise_near_0_or_1()
    {
        for (long n = 1; n <= 2000; n++)
        {
            Assert.Equal(0.0, WilsonInterval.Of(0, n).Low);
            Assert.Equal(1.0, WilsonInterval.Of(n, n).High);
            var some = WilsonInterval.Of(n / 2, n);
            Assert.InRange(some.Low, 0, some.Value);
            Assert.InRange(some.High, some.Value, 1);
        }
    }

    [Theory]
    [InlineData(double.NaN, double.NaN)]
    [InlineData(-0.2, 0.0)]
    [InlineData(5.6e-17, 0.0)]
    [InlineData(-5.6e-17, 0.0)]
    [InlineData(2e-12, 2e-12)]
    [InlineData(0.5, 0.5)]
    [InlineData(0.9999999999999999, 1.0)]
    [InlineData(1.3, 1.0)]
    public void A_proportion_is_clamped_into_0_1_and_snapped_within_1e_12(double value, double expected)
        => Assert.Equal(expected, Proportion.Clamp(value));

    [Theory]
    [InlineData(0, "minute")]
    [InlineData(119, "minute")]
    [InlineData(120, "hour")]
    [InlineData(2 * 24 * 60 - 1, "hour")]
    [InlineData(2 * 24 * 60, "day")]
    [InlineData(90 * 24 * 60, "day")]
    public void Buckets_are_minutes_under_2_hours_hours_under_2_days_and_days_beyond(int ageMinutes, string bucket)
    {
        Assert.Equal(bucket, FeedbackSeries.BucketFor(TimeSpan.FromMinutes(ageMinutes)));
        Assert.True(FeedbackSeries.Length(bucket) > TimeSpan.Zero);
    }

    [Fact]
    public void Accuracy_is_cumulative_in_time_order_with_the_Wilson_interval_of_everything_so_far()
    {
        // Out of order, with an empty bucket that adds nothing.
        FeedbackBucket[] buckets =
        [
            new(T0.AddHours(2), 10, 10, 0, 0, 0),
            new(T0, 10, 5, 0, 0, 0),
            new(T0.AddHours(1), 0, 0, 0, 0, 0),
            new(T0.AddHours(3), 20, 15, 0, 0, 0),
        ];

        var points = FeedbackSeries.Cumulative(buckets, regressor: false);

        Assert.Equal([T0, T0.AddHours(2), T0.AddHours(3)], points.Select(p => p.Start));
        Assert.Equal([10L, 10, 20], points.Select(p => p.Feedback));
        Assert.Equal([10L, 20, 40], points.Select(p => p.Total));
        Assert.Equal(WilsonInterval.Of(5, 10), points[0].Accuracy);
        Assert.Equal(WilsonInterval.Of(15, 20), points[1].Accuracy);
        Assert.Equal(WilsonInterval.Of(30, 40), points[2].Accuracy);
        Assert.All(points, p => Assert.Null(p.Mae));
        // The interval narrows as evidence accumulates.
        Assert.True(points[2].Accuracy!.High - points[2].Accuracy!.Low < points[0].Accuracy!.High - points[0].Accuracy!.Low);
    }

    [Fact]
    public void A_perfect_candidate_s_series_ends_at_exactly_100_percent()
    {
        var points = FeedbackSeries.Cumulative([new(T0, 7, 7, 0, 0, 0), new(T0.AddMinutes(1), 3, 3, 0, 0, 0)], regressor: false);

        Assert.All(points, p => Assert.Equal(1.0, p.Accuracy!.High));
        Assert.Equal(1.0, points[^1].Accuracy!.Value);
    }

    [Fact]
    public void Mae_is_cumulative_with_the_t_interval_of_the_errors_so_far()
    {
        // Absolute errors 1, 3 in the first bucket; 2, 6 in the second.
        var points = FeedbackSeries.Cumulative(
        [
            new(T0, 2, 0, 2, 1 + 3, 1 + 9),
            new(T0.AddDays(1), 2, 0, 2, 2 + 6, 4 + 36),
        ], regressor: true);

        Assert.Equal(2, points.Count);
        var first = MeanInterval.Of(SampleSummary.Of([1.0, 3.0]));
        var both = MeanInterval.Of(SampleSummary.Of([1.0, 3.0, 2.0, 6.0]));
        Assert.Equal(first.Value, points[0].Mae!.Value, 12);
        Assert.Equal(first.Low, points[0].Mae!.Low, 9);
        Assert.Equal(both.Value, points[1].Mae!.Value, 12);
        Assert.Equal(both.Low, points[1].Mae!.Low, 9);
        Assert.Equal(both.High, points[1].Mae!.High, 9);
        Assert.All(points, p => Assert.Null(p.Accuracy));
    }

    [Fact]
    public void Mae_needs_two_scored_records_for_its_interval()
    {
        var points = FeedbackSeries.Cumulative([new(T0, 1, 0, 1, 0.5, 0.25), new(T0.AddHours(1), 1, 0, 1, 1.5, 2.25)], regressor: true);

        Assert.Null(points[0].Mae);
        Assert.Equal(1.0, points[1].Mae!.Value, 12);
    }
}
