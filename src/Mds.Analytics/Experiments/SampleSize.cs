namespace Mds.Analytics.Experiments;

/// <summary>
/// Per-group sample sizes (two equal groups) needed to detect a difference with a two-sided test at significance
/// <c>alpha</c> with probability <c>power</c> (0.05 and 0.8 by default). Answers are fractional, as R's
/// <c>power.*.test</c> report them: round up for a count. Positive infinity when the difference is 0 (no sample
/// detects it).
/// </summary>
public static class SampleSize
{
    /// <summary>
    /// Two proportions (the normal approximation of Fleiss, Statistical Methods for Rates and Proportions, without
    /// continuity correction; what R's <c>power.prop.test</c> solves):
    /// n = (z<sub>1−α/2</sub>·√(2p̄q̄) + z<sub>power</sub>·√(p₁q₁ + p₂q₂))² / (p₁ − p₂)², p̄ = (p₁ + p₂)/2.
    /// </summary>
    public static double TwoProportions(double p1, double p2, double alpha = 0.05, double power = 0.8)
    {
        CheckProportion(p1, nameof(p1));
        CheckProportion(p2, nameof(p2));
        (double za, double zb) = Quantiles2(alpha, power);
        double d = p1 - p2;
        if (d == 0)
        {
            return double.PositiveInfinity;
        }

        double mean = (p1 + p2) / 2;
        double root = za * Math.Sqrt(2 * mean * (1 - mean)) + zb * Math.Sqrt(p1 * (1 - p1) + p2 * (1 - p2));
        return root * root / (d * d);
    }

    /// <summary>
    /// Two means with a common standard deviation σ: the normal approximation 2σ²(z<sub>1−α/2</sub> + z<sub>power</sub>)²/δ²
    /// plus Guenther's (1981) correction z<sub>1−α/2</sub>²/4 for estimating σ (within about 0.1 of the exact
    /// noncentral-t answer of R's <c>power.t.test</c>); at least 2.
    /// </summary>
    /// <param name="difference">The difference of means to detect, δ.</param>
    /// <param name="standardDeviation">The common standard deviation σ (for unequal ones, √((s₁² + s₂²)/2)).</param>
    /// <param name="alpha">The two-sided significance level.</param>
    /// <param name="power">The chance of detecting δ.</param>
    public static double TwoMeans(double difference, double standardDeviation, double alpha = 0.05, double power = 0.8)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(standardDeviation);
        (double za, double zb) = Quantiles2(alpha, power);
        if (difference == 0)
        {
            return double.PositiveInfinity;
        }

        double ratio = standardDeviation / difference;
        return Math.Max(2, 2 * ratio * ratio * (za + zb) * (za + zb) + za * za / 4);
    }

    /// <summary>
    /// The Mann-Whitney test, by Noether's (1987) formula for two equal groups: the total N = (z<sub>1−α/2</sub> +
    /// z<sub>power</sub>)² / (3(p − ½)²), halved per group, where p = P(X &gt; Y) is the superiority the test should detect
    /// (<see cref="MannWhitneyResult.Superiority"/>).
    /// </summary>
    public static double MannWhitney(double superiority, double alpha = 0.05, double power = 0.8)
    {
        CheckProportion(superiority, nameof(superiority));
        (double za, double zb) = Quantiles2(alpha, power);
        double d = superiority - 0.5;
        return d == 0 ? double.PositiveInfinity : (za + zb) * (za + zb) / (3 * d * d) / 2;
    }

    private static (double Za, double Zb) Quantiles2(double alpha, double power)
    {
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The significance level must lie strictly between 0 and 1.");
        }

        if (!(power > 0 && power < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(power), power, "The power must lie strictly between 0 and 1.");
        }

        return (Quantiles.Normal(1 - alpha / 2), Quantiles.Normal(power));
    }

    private static void CheckProportion(double p, string name)
    {
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(name, p, "A proportion lies between 0 and 1.");
        }
    }
}
