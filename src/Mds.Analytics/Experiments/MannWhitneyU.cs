namespace Mds.Analytics.Experiments;

/// <summary>The outcome of a Mann-Whitney U test.</summary>
/// <param name="U">The first sample's U: the number of pairs (x from the first, y from the second) with x &gt; y, ties counting ½.</param>
/// <param name="Z">The normal approximation's statistic, after the continuity correction.</param>
/// <param name="PValue">The two-sided p-value (1 when every value is tied).</param>
/// <param name="MedianDifference">Median of the first sample − median of the second.</param>
/// <param name="Low">The median difference's 95 % interval, lower end (see <see cref="MannWhitneyU.MedianStandardError"/>); NaN below 3 values in a sample.</param>
/// <param name="High">The median difference's 95 % interval, upper end.</param>
/// <param name="Superiority">U / (n₁·n₂): the chance that a value from the first sample exceeds one from the second (ties ½).</param>
public sealed record MannWhitneyResult(double U, double Z, double PValue, double MedianDifference, double Low, double High, double Superiority);

/// <summary>
/// The Mann-Whitney U test (Wilcoxon rank-sum) of H₀: neither sample tends to larger values, by the normal
/// approximation with the tie correction of the variance and a continuity correction of ½ — as R's
/// <c>wilcox.test(x, y, exact = FALSE, correct = TRUE)</c> computes it. For latency: it needs no normality, and a
/// few very slow calls do not swamp it as they do a t-test.
/// <para>
/// U₁ = R₁ − n₁(n₁+1)/2 from the mid-ranks of the pooled sample; E[U] = n₁n₂/2;
/// Var[U] = n₁n₂/12 · ((N+1) − Σ(t³−t)/(N(N−1))) over the groups of t tied values;
/// z = (U₁ − E[U] − ½·sign(U₁ − E[U])) / √Var[U].
/// </para>
/// </summary>
public static class MannWhitneyU
{
    /// <summary>Compares two samples; O(N log N) in the pooled size.</summary>
    /// <exception cref="ArgumentException">A sample is empty or holds NaN.</exception>
    public static MannWhitneyResult Test(ReadOnlySpan<double> first, ReadOnlySpan<double> second)
    {
        if (first.IsEmpty)
        {
            throw new ArgumentException("The sample is empty.", nameof(first));
        }

        if (second.IsEmpty)
        {
            throw new ArgumentException("The sample is empty.", nameof(second));
        }

        if (HasNaN(first))
        {
            throw new ArgumentException("The sample holds NaN.", nameof(first));
        }

        if (HasNaN(second))
        {
            throw new ArgumentException("The sample holds NaN.", nameof(second));
        }

        int n1 = first.Length, n2 = second.Length, total = n1 + n2;
        var values = new double[total];
        var fromFirst = new bool[total];
        first.CopyTo(values);
        second.CopyTo(values.AsSpan(n1));
        fromFirst.AsSpan(0, n1).Fill(true);
        Array.Sort(values, fromFirst);
        double rankSumFirst = 0;
        double tieSum = 0;
        for (int i = 0; i < total;)
        {
            int j = i;
            while (j + 1 < total && values[j + 1] == values[i])
            {
                j++;
            }

            double midRank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++)
            {
                if (fromFirst[k])
                {
                    rankSumFirst += midRank;
                }
            }

            double t = j - i + 1;
            tieSum += t * t * t - t;
            i = j + 1;
        }

        double n1d = n1, n2d = n2, nd = total;
        double u = rankSumFirst - n1d * (n1d + 1) / 2;
        double expected = n1d * n2d / 2;
        double variance = nd > 1 ? n1d * n2d / 12 * (nd + 1 - tieSum / (nd * (nd - 1))) : 0;
        double z = 0, p = 1;
        if (variance > 0)
        {
            double deviation = u - expected;
            z = (deviation - 0.5 * Math.Sign(deviation)) / Math.Sqrt(variance);
            p = Quantiles.TwoSidedP(z);
        }

        double[] sortedFirst = first.ToArray(), sortedSecond = second.ToArray();
        Array.Sort(sortedFirst);
        Array.Sort(sortedSecond);
        double difference = MedianOfSorted(sortedFirst) - MedianOfSorted(sortedSecond);
        double se = Math.Sqrt(Square(MedianStandardError(sortedFirst)) + Square(MedianStandardError(sortedSecond)));
        double half = Quantiles.TwoSided(0.95) * se;
        return new MannWhitneyResult(u, z, p, difference, difference - half, difference + half, u / (n1d * n2d));
    }

    private static bool HasNaN(ReadOnlySpan<double> sample)
    {
        foreach (double v in sample)
        {
            if (double.IsNaN(v))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The median (the mean of the two middle values when the count is even).</summary>
    public static double Median(ReadOnlySpan<double> sample)
    {
        if (sample.IsEmpty)
        {
            throw new ArgumentException("The sample is empty.", nameof(sample));
        }

        double[] sorted = sample.ToArray();
        Array.Sort(sorted);
        return MedianOfSorted(sorted);
    }

    /// <summary>
    /// The McKean–Schrader (1984) standard error of a sample median, as Bonett and Price (2002, "Statistical inference
    /// for a linear function of medians", Psychological Methods 7:370–383) use it for the interval of a difference of
    /// medians: (Y<sub>(n−c+1)</sub> − Y<sub>(c)</sub>) / (2·1.96) with c = round((n + 1)/2 − 1.96·√(n/4)).
    /// Needs only the sorted values, so it scales to large samples (a Hodges–Lehmann interval needs all n₁n₂ pairs).
    /// NaN below 3 values.
    /// </summary>
    /// <param name="sorted">The sample, sorted ascending.</param>
    public static double MedianStandardError(ReadOnlySpan<double> sorted)
    {
        int n = sorted.Length;
        if (n < 3)
        {
            return double.NaN;
        }

        double z = Quantiles.TwoSided(0.95);
        int c = Math.Max(1, (int)Math.Round((n + 1) / 2.0 - z * Math.Sqrt(n / 4.0), MidpointRounding.AwayFromZero));
        return (sorted[n - c] - sorted[c - 1]) / (2 * z);
    }

    private static double MedianOfSorted(double[] sorted)
    {
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double Square(double x) => x * x;
}
