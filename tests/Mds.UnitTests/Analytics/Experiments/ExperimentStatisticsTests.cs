using Mds.Analytics.Experiments;

namespace Mds.UnitTests.Analytics.Experiments;

/// <summary>Each test checks a statistic against a published value (the source is named in the test).</summary>
public sealed class ExperimentStatisticsTests
{
    // R's sleep data (Student 1908, Cushny and Peebles): extra hours of sleep with drug 1 and drug 2.
    private static readonly double[] SleepGroup1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    private static readonly double[] SleepGroup2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

    [Theory]
    // Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of seven methods",
    // Statistics in Medicine 17:857–872, Table II, method 3 (Wilson score interval without continuity correction).
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0000, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    public void Wilson_interval_matches_Newcombe_1998(long successes, long trials, double low, double high)
    {
        var e = WilsonInterval.Of(successes, trials);

        Assert.Equal((double)successes / trials, e.Value, 12);
        Assert.Equal(low, e.Low, 4);
        Assert.Equal(high, e.High, 4);
    }

    [Fact]
    public void Wilson_interval_refuses_more_successes_than_trials()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WilsonInterval.Of(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => WilsonInterval.Of(0, 0));
    }

    [Fact]
    public void Two_proportion_interval_matches_Newcombe_1998_example_a()
    {
        // Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison of
        // eleven methods", Statistics in Medicine 17:873–890, Table II example (a), 56/70 − 48/80: method 1 (asymptotic,
        // no continuity correction) gives 0.0575 to 0.3425. The pooled z by hand: p̄ = 104/150,
        // SE₀ = √(p̄q̄(1/70 + 1/80)) = 0.075468, z = 0.2/SE₀ = 2.6502, p = erfc(z/√2) = 0.00805.
        var r = TwoProportionZTest.Test(56, 70, 48, 80);

        Assert.Equal(0.2, r.Difference, 12);
        Assert.Equal(0.0575, r.Low, 4);
        Assert.Equal(0.3425, r.High, 4);
        Assert.Equal(2.6502, r.Z, 4);
        Assert.Equal(0.00805, r.PValue, 5);
    }

    [Fact]
    public void Two_proportion_test_matches_Agresti_aspirin_study()
    {
        // Agresti, An Introduction to Categorical Data Analysis (2nd ed., 2007), §2.2 and §2.4: the Physicians' Health
        // Study, heart attacks 189/11034 on placebo and 104/11037 on aspirin; difference 0.0077 with 95 % interval
        // (0.005, 0.011) and SE 0.0015; Pearson X² = 25.01, so the pooled z = √25.01 = 5.00.
        var r = TwoProportionZTest.Test(189, 11034, 104, 11037);

        Assert.Equal(0.0077, r.Difference, 4);
        Assert.Equal(0.005, r.Low, 3);
        Assert.Equal(0.011, r.High, 3);
        Assert.Equal(25.01, r.Z * r.Z, 2);
        Assert.True(r.PValue < 1e-6);
    }

    [Fact]
    public void Two_proportion_test_of_identical_certain_samples_finds_nothing()
    {
        var r = TwoProportionZTest.Test(0, 50, 0, 80);

        Assert.Equal(0, r.Z);
        Assert.Equal(1, r.PValue);
    }

    [Fact]
    public void Welch_test_matches_R_on_the_sleep_data()
    {
        // R: t.test(extra ~ group, data = sleep) — "Welch Two Sample t-test: t = -1.8608, df = 17.776,
        // p-value = 0.07939; 95 percent confidence interval: -3.3654832 0.2054832; means 0.75 and 2.33".
        var r = WelchTTest.Test(SleepGroup1, SleepGroup2);

        Assert.Equal(-1.58, r.Difference, 12);
        Assert.Equal(-1.8608, r.T, 4);
        Assert.Equal(17.776, r.DegreesOfFreedom, 3);
        Assert.Equal(0.07939, r.PValue, 5);
        Assert.Equal(-3.3654832, r.Low, 6);
        Assert.Equal(0.2054832, r.High, 6);
    }

    [Fact]
    public void Welch_test_works_from_summaries_as_from_values()
    {
        var fromValues = WelchTTest.Test(SleepGroup1, SleepGroup2);
        var fromSummaries = WelchTTest.Test(new SampleSummary(10, 0.75, 3.2005555555555554), new SampleSummary(10, 2.33, 4.009));

        Assert.Equal(fromValues.PValue, fromSummaries.PValue, 10);
    }

    [Fact]
    public void Welch_test_of_two_constant_samples_is_certain()
    {
        Assert.Equal(1, WelchTTest.Test([2.0, 2.0], [2.0, 2.0, 2.0]).PValue);
        Assert.Equal(0, WelchTTest.Test([2.0, 2.0], [3.0, 3.0, 3.0]).PValue);
    }

    [Fact]
    public void T_interval_matches_R_on_sleep_group_1()
    {
        // R: t.test(sleep$extra[sleep$group == 1]) — "95 percent confidence interval: -0.5297804 2.0297804",
        // i.e. 0.75 ± t(0.975, 9) · s/√10 with t(0.975, 9) = 2.262157 (every t table) and s² = 3.200556.
        var e = MeanInterval.Of(SampleSummary.Of(SleepGroup1));

        Assert.Equal(0.75, e.Value, 12);
        Assert.Equal(-0.5297804, e.Low, 6);
        Assert.Equal(2.0297804, e.High, 6);
    }

    [Fact]
    public void Mann_Whitney_matches_Hollander_and_Wolfe_by_the_normal_approximation()
    {
        // Hollander and Wolfe, Nonparametric Statistical Methods (1973), p. 69 (R's wilcox.test example): W = 35.
        // No ties; E[U] = 25, Var[U] = 10·5·16/12 = 66.667; z = (35 − 25 − 0.5)/8.165 = 1.16351; p = 0.24462
        // (R: wilcox.test(x, y, exact = FALSE) gives the same).
        double[] x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
        double[] y = [1.15, 0.88, 0.90, 0.74, 1.21];

        var r = MannWhitneyU.Test(x, y);

        Assert.Equal(35, r.U);
        Assert.Equal(1.16351, r.Z, 5);
        Assert.Equal(0.24462, r.PValue, 5);
        Assert.Equal(1.415 - 0.90, r.MedianDifference, 12);
        Assert.Equal(35.0 / 50, r.Superiority, 12);
        // McKean–Schrader standard errors by hand: n = 10, c = round(5.5 − 1.96·√2.5) = 2, (1.89 − 0.80)/3.92 = 0.278066;
        // n = 5, c = round(3 − 1.96·√1.25) = 1, (1.21 − 0.74)/3.92 = 0.119900; 0.515 ± 1.96·√(0.278066² + 0.119900²).
        Assert.Equal(-0.078507, r.Low, 5);
        Assert.Equal(1.108507, r.High, 5);
    }

    [Fact]
    public void Mann_Whitney_with_ties_matches_R_on_airquality()
    {
        // R's wilcox.test documentation: wilcox.test(Ozone ~ Month, data = airquality, subset = Month %in% c(5, 8))
        // gives "W = 127.5, p-value = 0.0001208" (normal approximation with tie and continuity corrections; the data
        // hold ties, so R cannot compute the exact p). Ozone in May and August 1973 with the NAs left out:
        double[] may = [41, 36, 12, 18, 28, 23, 19, 8, 7, 16, 11, 14, 18, 14, 34, 6, 30, 11, 1, 11, 4, 32, 23, 45, 115, 37];
        double[] august = [39, 9, 16, 78, 35, 66, 122, 89, 110, 44, 28, 65, 22, 59, 23, 31, 44, 21, 9, 45, 168, 73, 76, 118, 84, 85];

        var r = MannWhitneyU.Test(may, august);

        Assert.Equal(127.5, r.U);
        Assert.Equal(0.0001208, r.PValue, 7);
        Assert.Equal(18.0 - 52.0, r.MedianDifference, 12);
    }

    [Fact]
    public void Mann_Whitney_of_all_equal_values_finds_nothing()
    {
        var r = MannWhitneyU.Test([5.0, 5.0, 5.0], [5.0, 5.0]);

        Assert.Equal(1, r.PValue);
        Assert.Equal(0.5, r.Superiority);
    }

    [Fact]
    public void Sample_size_for_two_proportions_matches_R_power_prop_test()
    {
        // R's power.prop.test documentation: power.prop.test(p1 = .50, p2 = .75, power = .90) "=> n = 76.7".
        // At power 0.8 the same formula by hand: (1.959964·√0.46875 + 0.841621·√0.4375)² / 0.0625 = 57.67.
        Assert.Equal(76.7, SampleSize.TwoProportions(0.50, 0.75, power: 0.90), 1);
        Assert.Equal(57.67, SampleSize.TwoProportions(0.50, 0.75), 2);
        Assert.Equal(double.PositiveInfinity, SampleSize.TwoProportions(0.3, 0.3));
    }

    [Fact]
    public void Sample_size_for_two_means_is_within_a_tenth_of_R_power_t_test()
    {
        // R's power.t.test(power = .90, delta = 1) gives n = 22.02110 and power.t.test(power = .80, delta = 1)
        // n = 16.71477 (exact, noncentral t); Guenther's approximation gives 21.97 and 16.66.
        Assert.Equal(22.02110, SampleSize.TwoMeans(1, 1, power: 0.90), 0.1);
        Assert.Equal(16.71477, SampleSize.TwoMeans(1, 1), 0.1);
        Assert.Equal(4 * 4 * 2 * Math.Pow(1.959964 + 0.841621, 2) + 1.959964 * 1.959964 / 4, SampleSize.TwoMeans(0.5, 2), 2);
    }

    [Fact]
    public void Sample_size_for_Mann_Whitney_follows_Noether()
    {
        // Noether (1987), JASA 82:645–647: N = (z₀.₉₇₅ + z₀.₈)² / (12·c(1−c)·(p − ½)²); for c = ½ and p = 0.6,
        // N = 7.84887 / (3·0.01) = 261.63 in all, 130.81 per group.
        Assert.Equal(130.81, SampleSize.MannWhitney(0.6), 2);
        Assert.Equal(SampleSize.MannWhitney(0.6), SampleSize.MannWhitney(0.4), 10);
    }
}
