namespace Mds.Analytics.Drift;

/// <summary>
/// Feature-wise drift detection for tabular data, as Alibi Detect's TabularDrift does it: each numeric feature is
/// compared with the reference by the two-sample Kolmogorov–Smirnov test, each categorical feature by the
/// chi-squared test on its category counts, and a feature has drifted when its p-value is below α divided by the
/// number of features (Bonferroni). Every feature also gets its Population Stability Index.
/// </summary>
/// <remarks>
/// The reference is prepared once (columns sorted, PSI bins, category counts), so one detector can check many
/// windows. Instances are immutable and safe to share between threads.
/// </remarks>
public sealed class DriftDetector
{
    /// <summary>The default family-wise significance level.</summary>
    public const double DefaultAlpha = 0.05;

    private readonly string[] _names;
    private readonly ReferenceFeature[] _features;
    private readonly int _referenceRows;

    /// <summary>Prepares the reference.</summary>
    /// <param name="reference">The reference rows, one value per feature each; categorical values are category codes.</param>
    /// <param name="featureNames">The features' names, in column order.</param>
    /// <param name="categoricalFeatures">The column indices of the categorical features; the others are numeric.</param>
    /// <param name="alpha">The family-wise significance level, strictly between 0 and 1.</param>
    /// <param name="psiBins">How many quantile bins the numeric features' PSI uses.</param>
    /// <exception cref="ArgumentException">
    /// The reference is empty, a row's length differs from the number of names, a value is NaN, or a categorical
    /// index is out of range.
    /// </exception>
    public DriftDetector(
        double[][] reference,
        IReadOnlyList<string> featureNames,
        IEnumerable<int>? categoricalFeatures = null,
        double alpha = DefaultAlpha,
        int psiBins = PopulationStabilityIndex.DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(featureNames);
        if (featureNames.Count == 0)
        {
            throw new ArgumentException("There must be at least one feature.", nameof(featureNames));
        }

        _names = [.. featureNames];
        Threshold = Bonferroni.Threshold(alpha, _names.Length);
        Alpha = alpha;
        var categorical = new HashSet<int>(categoricalFeatures ?? []);
        foreach (int index in categorical)
        {
            if (index < 0 || index >= _names.Length)
            {
                throw new ArgumentException($"Categorical feature index {index} is not a column (0–{_names.Length - 1}).", nameof(categoricalFeatures));
            }
        }

        var columns = Columns(reference, _names.Length, nameof(reference));
        _referenceRows = reference.Length;
        _features = new ReferenceFeature[_names.Length];
        for (int f = 0; f < _names.Length; f++)
        {
            _features[f] = categorical.Contains(f)
                ? new ReferenceFeature(DriftTest.ChiSquared, null, null, CategoryCounts.Of(columns[f], nameof(reference)))
                : new ReferenceFeature(
                    DriftTest.KolmogorovSmirnov,
                    KolmogorovSmirnov.SortedCopy(columns[f], nameof(reference)),
                    PopulationStabilityIndex.FromReference(columns[f], psiBins),
                    null);
        }
    }

    /// <summary>The features' names, in column order.</summary>
    public IReadOnlyList<string> FeatureNames => _names;

    /// <summary>The family-wise significance level.</summary>
    public double Alpha { get; }

    /// <summary>The per-feature p-value threshold, α / number of features.</summary>
    public double Threshold { get; }

    /// <summary>Compares a window of current rows with the reference.</summary>
    /// <exception cref="ArgumentException">The window is empty, a row has the wrong length, or a value is NaN.</exception>
    public DriftReport Detect(double[][] current)
    {
        ArgumentNullException.ThrowIfNull(current);
        var columns = Columns(current, _names.Length, nameof(current));
        var features = new FeatureDrift[_names.Length];
        for (int f = 0; f < _names.Length; f++)
        {
            var reference = _features[f];
            double statistic, pValue, psi;
            DriftHistogram histogram;
            if (reference.Test == DriftTest.KolmogorovSmirnov)
            {
                var ks = KolmogorovSmirnov.TwoSampleSorted(reference.Sorted!, KolmogorovSmirnov.SortedCopy(columns[f], nameof(current)));
                (statistic, pValue) = (ks.Statistic, ks.PValue);
                double[] proportions = reference.Bins!.ProportionsOf(columns[f]);
                psi = PopulationStabilityIndex.FromProportions(reference.Bins.ReferenceProportions, proportions);
                histogram = new DriftHistogram(reference.Bins.BinLabels(), reference.Bins.ReferenceProportions, proportions);
            }
            else
            {
                var currentCounts = CategoryCounts.Of(columns[f], nameof(current));
                double[] categories = CategoryCounts.Union(reference.Counts!, currentCounts);
                var chi = ChiSquaredTest.Contingency(CategoryCounts.Table(reference.Counts!, currentCounts, categories));
                (statistic, pValue) = (chi.Statistic, chi.PValue);
                double[] referenceProportions = CategoryCounts.Proportions(reference.Counts!, categories);
                double[] currentProportions = CategoryCounts.Proportions(currentCounts, categories);
                psi = PopulationStabilityIndex.FromProportions(referenceProportions, currentProportions);
                histogram = new DriftHistogram(
                    [.. categories.Select(c => c.ToString("G", System.Globalization.CultureInfo.InvariantCulture))], referenceProportions, currentProportions);
            }

            features[f] = new FeatureDrift(_names[f], reference.Test, statistic, pValue, psi, Bonferroni.IsSignificant(pValue, Threshold), histogram);
        }

        return new DriftReport(features, Alpha, Threshold, features.Any(f => f.Drifted), _referenceRows, current.Length);
    }

    private static double[][] Columns(double[][] rows, int width, string name)
    {
        if (rows.Length == 0)
        {
            throw new ArgumentException("There are no rows.", name);
        }

        var columns = new double[width][];
        for (int f = 0; f < width; f++)
        {
            columns[f] = new double[rows.Length];
        }

        for (int r = 0; r < rows.Length; r++)
        {
            var row = rows[r] ?? throw new ArgumentException($"Row {r} is null.", name);
            if (row.Length != width)
            {
                throw new ArgumentException($"Row {r} has {row.Length} values; there are {width} features.", name);
            }

            for (int f = 0; f < width; f++)
            {
                columns[f][r] = row[f];
            }
        }

        return columns;
    }

    private sealed record ReferenceFeature(
        DriftTest Test,
        double[]? Sorted,
        PopulationStabilityIndex? Bins,
        Dictionary<double, long>? Counts);
}
