namespace Mds.Analytics.Experiments;

/// <summary>A point estimate with a two-sided confidence interval.</summary>
/// <param name="Value">The point estimate.</param>
/// <param name="Low">The interval's lower end.</param>
/// <param name="High">The interval's upper end.</param>
public sealed record Estimate(double Value, double Low, double High);

/// <summary>The size, mean and sample variance of a sample: all Welch's t-test and a t interval need.</summary>
/// <param name="Count">The number of observations.</param>
/// <param name="Mean">Their mean.</param>
/// <param name="Variance">Their sample variance (divisor n − 1); 0 for a single observation.</param>
public sealed record SampleSummary(long Count, double Mean, double Variance)
{
    /// <summary>Summarises <paramref name="sample"/> (Welford's one-pass algorithm, stable for large means).</summary>
    /// <exception cref="ArgumentException">The sample is empty or holds NaN.</exception>
    public static SampleSummary Of(ReadOnlySpan<double> sample)
    {
        if (sample.IsEmpty)
        {
            throw new ArgumentException("The sample is empty.", nameof(sample));
        }

        double mean = 0, m2 = 0;
        long n = 0;
        foreach (double x in sample)
        {
            if (double.IsNaN(x))
            {
                throw new ArgumentException("The sample holds NaN.", nameof(sample));
            }

            n++;
            double delta = x - mean;
            mean += delta / n;
            m2 += delta * (x - mean);
        }

        return new SampleSummary(n, mean, n > 1 ? m2 / (n - 1) : 0);
    }
}

/// <summary>Quantiles of the standard normal distribution used by the tests (95 % two-sided, power 0.8).</summary>
internal static class Quantiles
{
    public static double Normal(double p) => MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, p);

    /// <summary>z such that P(|Z| &gt; z) = 1 − <paramref name="confidence"/>.</summary>
    public static double TwoSided(double confidence)
    {
        if (!(confidence > 0 && confidence < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence level must lie strictly between 0 and 1.");
        }

        return Normal(1 - (1 - confidence) / 2);
    }

    /// <summary>The two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|).</summary>
    public static double TwoSidedP(double z) => MathNet.Numerics.SpecialFunctions.Erfc(Math.Abs(z) / Math.Sqrt(2));
}
