namespace Mds.Analytics.Experiments;

/// <summary>The outcome of a two-proportion z-test.</summary>
/// <param name="P1">The first sample's proportion.</param>
/// <param name="P2">The second sample's proportion.</param>
/// <param name="Difference">P1 − P2.</param>
/// <param name="Low">The difference's confidence interval, lower end (unpooled standard error).</param>
/// <param name="High">The difference's confidence interval, upper end.</param>
/// <param name="Z">The test statistic (pooled standard error); 0 when both proportions are 0 or both 1.</param>
/// <param name="PValue">The two-sided p-value.</param>
public sealed record TwoProportionResult(double P1, double P2, double Difference, double Low, double High, double Z, double PValue);

/// <summary>
/// The two-proportion z-test of H₀: p₁ = p₂. The statistic uses the pooled proportion's standard error (the one
/// valid under H₀; z² equals Pearson's χ² of the 2 × 2 table without Yates' correction); the difference's interval uses
/// the unpooled standard error √(p₁q₁/n₁ + p₂q₂/n₂) (the Wald interval, method 1 of Newcombe 1998, "Interval estimation
/// for the difference between independent proportions").
/// </summary>
public static class TwoProportionZTest
{
    /// <summary>Compares <paramref name="successes1"/>/<paramref name="trials1"/> with <paramref name="successes2"/>/<paramref name="trials2"/>.</summary>
    /// <param name="successes1">Successes in the first sample.</param>
    /// <param name="trials1">Size of the first sample, at least 1.</param>
    /// <param name="successes2">Successes in the second sample.</param>
    /// <param name="trials2">Size of the second sample, at least 1.</param>
    /// <param name="confidence">The difference's interval's confidence level.</param>
    public static TwoProportionResult Test(long successes1, long trials1, long successes2, long trials2, double confidence = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials2);
        ArgumentOutOfRangeException.ThrowIfNegative(successes1);
        ArgumentOutOfRangeException.ThrowIfNegative(successes2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes1, trials1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes2, trials2);
        double n1 = trials1, n2 = trials2;
        double p1 = successes1 / n1, p2 = successes2 / n2;
        double difference = p1 - p2;
        double pooled = (successes1 + successes2) / (n1 + n2);
        double pooledSe = Math.Sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
        double z = pooledSe > 0 ? difference / pooledSe : 0;
        double se = Math.Sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2);
        double half = Quantiles.TwoSided(confidence) * se;
        return new TwoProportionResult(p1, p2, difference, difference - half, difference + half, z, pooledSe > 0 ? Quantiles.TwoSidedP(z) : 1);
    }
}
