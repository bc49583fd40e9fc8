namespace Mds.Analytics.Experiments;

/// <summary>
/// The Wilson score interval for a binomial proportion (Wilson 1927; method 3 of Newcombe 1998, "Two-sided confidence
/// intervals for the single proportion"). Unlike the Wald interval p ± z·√(p(1−p)/n) it stays inside [0, 1] and keeps
/// close to its nominal coverage at small n and at proportions near 0 or 1 — an error rate of 0 of 20 still gets an
/// upper bound (16 %), where Wald would claim certainty.
/// </summary>
public static class WilsonInterval
{
    /// <summary>The proportion <paramref name="successes"/> / <paramref name="trials"/> with its Wilson interval.</summary>
    /// <param name="successes">Successes, 0 ≤ successes ≤ trials.</param>
    /// <param name="trials">Trials, at least 1.</param>
    /// <param name="confidence">The two-sided confidence level (0.95 by default).</param>
    public static Estimate Of(long successes, long trials, double confidence = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        double z = Quantiles.TwoSided(confidence);
        double n = trials;
        double p = successes / n;
        double z2 = z * z;
        double denominator = 1 + z2 / n;
        double centre = (p + z2 / (2 * n)) / denominator;
        double half = z / denominator * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        // At 0 of n the lower end is 0 and at n of n the upper end is 1 exactly; the formula leaves rounding noise
        // (5.6e-17) there, which would print as such: each end is snapped and clamped into [0, 1].
        return new Estimate(p, Proportion.Clamp(centre - half), Proportion.Clamp(centre + half));
    }
}
