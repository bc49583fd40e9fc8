using MathNet.Numerics.Distributions;

namespace Mds.Analytics.Experiments;

/// <summary>The outcome of Welch's t-test.</summary>
/// <param name="Difference">Mean₁ − mean₂.</param>
/// <param name="Low">The difference's confidence interval, lower end.</param>
/// <param name="High">The difference's confidence interval, upper end.</param>
/// <param name="T">The test statistic.</param>
/// <param name="DegreesOfFreedom">The Welch–Satterthwaite degrees of freedom.</param>
/// <param name="PValue">The two-sided p-value.</param>
public sealed record WelchResult(double Difference, double Low, double High, double T, double DegreesOfFreedom, double PValue);

/// <summary>
/// Welch's unequal-variances t-test of H₀: μ₁ = μ₂ (Welch 1947), as R's <c>t.test</c> runs it by default:
/// t = (m₁ − m₂) / √(s₁²/n₁ + s₂²/n₂), with the Welch–Satterthwaite degrees of freedom
/// (s₁²/n₁ + s₂²/n₂)² / ((s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1)), and the interval m₁ − m₂ ± t<sub>df</sub>·SE.
/// Works from summaries, so the sums can be computed in SQL.
/// </summary>
public static class WelchTTest
{
    /// <summary>Compares the means of two samples.</summary>
    /// <param name="first">The first sample, at least 2 observations.</param>
    /// <param name="second">The second sample, at least 2 observations.</param>
    /// <param name="confidence">The difference's interval's confidence level.</param>
    public static WelchResult Test(SampleSummary first, SampleSummary second, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentOutOfRangeException.ThrowIfLessThan(first.Count, 2, nameof(first));
        ArgumentOutOfRangeException.ThrowIfLessThan(second.Count, 2, nameof(second));
        _ = Quantiles.TwoSided(confidence);
        double a = first.Variance / first.Count;
        double b = second.Variance / second.Count;
        double se = Math.Sqrt(a + b);
        double difference = first.Mean - second.Mean;
        if (se == 0)
        {
            // Both samples constant: the means differ with certainty, or not at all.
            double df0 = first.Count + second.Count - 2;
            return difference == 0
                ? new WelchResult(0, 0, 0, 0, df0, 1)
                : new WelchResult(difference, difference, difference, difference > 0 ? double.PositiveInfinity : double.NegativeInfinity, df0, 0);
        }

        double df = (a + b) * (a + b) / (a * a / (first.Count - 1) + b * b / (second.Count - 1));
        double t = difference / se;
        double p = 2 * StudentT.CDF(0, 1, df, -Math.Abs(t));
        double half = StudentT.InvCDF(0, 1, df, 1 - (1 - confidence) / 2) * se;
        return new WelchResult(difference, difference - half, difference + half, t, df, Math.Min(1, p));
    }

    /// <summary>Compares the means of two samples given as values.</summary>
    public static WelchResult Test(ReadOnlySpan<double> first, ReadOnlySpan<double> second, double confidence = 0.95) =>
        Test(SampleSummary.Of(first), SampleSummary.Of(second), confidence);
}
