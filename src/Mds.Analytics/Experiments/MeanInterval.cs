using MathNet.Numerics.Distributions;

namespace Mds.Analytics.Experiments;

/// <summary>The t interval for a mean: m ± t<sub>n−1</sub>·s/√n (Student 1908).</summary>
public static class MeanInterval
{
    /// <summary>The sample's mean with its t interval.</summary>
    /// <param name="sample">At least 2 observations.</param>
    /// <param name="confidence">The two-sided confidence level.</param>
    public static Estimate Of(SampleSummary sample, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentOutOfRangeException.ThrowIfLessThan(sample.Count, 2, nameof(sample));
        _ = Quantiles.TwoSided(confidence);
        double half = StudentT.InvCDF(0, 1, sample.Count - 1, 1 - (1 - confidence) / 2) * Math.Sqrt(sample.Variance / sample.Count);
        return new Estimate(sample.Mean, sample.Mean - half, sample.Mean + half);
    }
}
