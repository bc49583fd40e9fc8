using MathNet.Numerics.Statistics;

namespace Mds.Analytics.Drift;

/// <summary>
/// The Population Stability Index, PSI = Σ<sub>i</sub> (c<sub>i</sub> − r<sub>i</sub>)·ln(c<sub>i</sub>/r<sub>i</sub>), where r<sub>i</sub> and
/// c<sub>i</sub> are the reference's and the current sample's proportions in bin i. By the usual reading, below 0.1 the
/// population is stable, 0.1–0.25 it has shifted moderately, above 0.25 significantly.
/// </summary>
/// <remarks>
/// An empty bin would make the logarithm infinite, so every proportion below <see cref="Epsilon"/> counts as
/// <see cref="Epsilon"/> (10⁻⁴, i.e. 0.01 %, as Evidently and most PSI implementations do); the proportions are not
/// renormalised afterwards. One bin that is empty on one side and holds a proportion p on the other then adds
/// (p − 10⁻⁴)·ln(p/10⁻⁴), about 0.85 for p = 10 %.
/// </remarks>
public sealed class PopulationStabilityIndex
{
    /// <summary>The proportion that stands in for an empty bin's 0.</summary>
    public const double Epsilon = 1e-4;

    /// <summary>The default number of bins, deciles of the reference.</summary>
    public const int DefaultBins = 10;

    private readonly double[] _edges;
    private readonly double[] _referenceProportions;

    private PopulationStabilityIndex(double[] edges, double[] referenceProportions)
    {
        _edges = edges;
        _referenceProportions = referenceProportions;
    }

    /// <summary>
    /// The inner bin edges, ascending and distinct: bin 0 is (−∞, e<sub>0</sub>), bin i is [e<sub>i−1</sub>, e<sub>i</sub>), the last
    /// is [e<sub>last</sub>, +∞). Values outside the reference's range fall in the outer bins.
    /// </summary>
    public IReadOnlyList<double> Edges => _edges;

    /// <summary>The reference's proportion in each bin (before the <see cref="Epsilon"/> floor).</summary>
    public IReadOnlyList<double> ReferenceProportions => _referenceProportions;

    /// <summary>
    /// Bins a numeric reference sample by its own quantiles: the inner edges are the quantiles k/bins for
    /// k = 1 … bins − 1 (linear interpolation between order statistics, NumPy's default and R's type 7).
    /// Edges that coincide because of ties in the reference are merged, so a reference with few distinct values
    /// gets fewer bins.
    /// </summary>
    /// <exception cref="ArgumentException">The reference is empty or holds NaN.</exception>
    public static PopulationStabilityIndex FromReference(ReadOnlySpan<double> reference, int bins = DefaultBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 2);
        double[] sorted = KolmogorovSmirnov.SortedCopy(reference, nameof(reference));
        var edges = new List<double>(bins - 1);
        for (int k = 1; k < bins; k++)
        {
            double edge = SortedArrayStatistics.QuantileCustom(sorted, (double)k / bins, QuantileDefinition.R7);
            if (edges.Count == 0 || edge > edges[^1])
            {
                edges.Add(edge);
            }
        }

        double[] edgeArray = [.. edges];
        return new PopulationStabilityIndex(edgeArray, Proportions(sorted, edgeArray));
    }

    /// <summary>The PSI of a numeric sample against a reference, binned by the reference's quantiles.</summary>
    /// <exception cref="ArgumentException">A sample is empty or holds NaN.</exception>
    public static double Compute(ReadOnlySpan<double> reference, ReadOnlySpan<double> current, int bins = DefaultBins) =>
        FromReference(reference, bins).Compare(current);

    /// <summary>The PSI of <paramref name="current"/> against the reference these bins were made from.</summary>
    /// <exception cref="ArgumentException">The sample is empty or holds NaN.</exception>
    public double Compare(ReadOnlySpan<double> current) => FromProportions(_referenceProportions, ProportionsOf(current));

    /// <summary>The proportion of <paramref name="sample"/> in each of these bins (the bins of <see cref="Edges"/>).</summary>
    /// <exception cref="ArgumentException">The sample is empty or holds NaN.</exception>
    public double[] ProportionsOf(ReadOnlySpan<double> sample) => Proportions(KolmogorovSmirnov.SortedCopy(sample, nameof(sample)), _edges);

    /// <summary>Labels of the bins: <c>&lt; e0</c>, <c>[e0, e1)</c>, …, <c>≥ e_last</c>, the edges with four significant digits.</summary>
    public string[] BinLabels()
    {
        static string F(double v) => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
        if (_edges.Length == 0)
        {
            return ["all"];
        }

        var labels = new string[_edges.Length + 1];
        labels[0] = "< " + F(_edges[0]);
        for (int i = 1; i < _edges.Length; i++)
        {
            labels[i] = $"[{F(_edges[i - 1])}, {F(_edges[i])})";
        }

        labels[^1] = "≥ " + F(_edges[^1]);
        return labels;
    }

    /// <summary>The PSI of two distributions given as proportions over the same bins (for example categories).</summary>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public static double FromProportions(IReadOnlyList<double> reference, IReadOnlyList<double> current)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (reference.Count != current.Count)
        {
            throw new ArgumentException("The reference and current proportions must cover the same bins.", nameof(current));
        }

        double psi = 0.0;
        for (int i = 0; i < reference.Count; i++)
        {
            double r = Math.Max(reference[i], Epsilon);
            double c = Math.Max(current[i], Epsilon);
            psi += (c - r) * Math.Log(c / r);
        }

        return psi;
    }

    private static double[] Proportions(double[] sorted, double[] edges)
    {
        var proportions = new double[edges.Length + 1];
        int bin = 0;
        foreach (double value in sorted)
        {
            while (bin < edges.Length && value >= edges[bin])
            {
                bin++;
            }

            proportions[bin]++;
        }

        for (int i = 0; i < proportions.Length; i++)
        {
            proportions[i] /= sorted.Length;
        }

        return proportions;
    }
}
