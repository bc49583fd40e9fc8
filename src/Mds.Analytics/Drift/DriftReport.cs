namespace Mds.Analytics.Drift;

/// <summary>Which test a feature was checked with.</summary>
public enum DriftTest
{
    /// <summary>The two-sample Kolmogorov–Smirnov test, for numeric features.</summary>
    KolmogorovSmirnov,

    /// <summary>Pearson's chi-squared test on category counts, for categorical features.</summary>
    ChiSquared,
}

/// <summary>One feature's drift between the reference and a window of current rows.</summary>
/// <param name="Name">The feature's name.</param>
/// <param name="Test">The test that produced <paramref name="Statistic"/> and <paramref name="PValue"/>.</param>
/// <param name="Statistic">The Kolmogorov–Smirnov D for a numeric feature, the chi-squared statistic for a categorical one.</param>
/// <param name="PValue">The test's p-value.</param>
/// <param name="Psi">
/// The Population Stability Index: over the reference's quantile bins for a numeric feature, over the categories
/// seen in either sample for a categorical one. Informative only; it does not decide <paramref name="Drifted"/>.
/// </param>
/// <param name="Drifted">Whether <paramref name="PValue"/> is below the report's Bonferroni-corrected threshold.</param>
/// <param name="Histogram">The reference's and the window's distributions over the bins the PSI used.</param>
public sealed record FeatureDrift(string Name, DriftTest Test, double Statistic, double PValue, double Psi, bool Drifted, DriftHistogram? Histogram = null);

/// <summary>Two distributions of one feature over the same bins, as proportions.</summary>
/// <param name="Bins">Bin labels: value ranges for a numeric feature, category values for a categorical one.</param>
/// <param name="Reference">The reference's proportion in each bin.</param>
/// <param name="Current">The window's proportion in each bin.</param>
public sealed record DriftHistogram(IReadOnlyList<string> Bins, IReadOnlyList<double> Reference, IReadOnlyList<double> Current);

/// <summary>The per-feature drift of a window of current rows against the reference, as Alibi Detect's TabularDrift reports it.</summary>
/// <param name="Features">One entry per feature, in the reference's column order.</param>
/// <param name="Alpha">The family-wise significance level asked for.</param>
/// <param name="Threshold">The per-feature threshold after the Bonferroni correction, α / number of features.</param>
/// <param name="Drifted">Whether any feature drifted.</param>
/// <param name="ReferenceRows">How many reference rows the tests used.</param>
/// <param name="CurrentRows">How many current rows the tests used.</param>
public sealed record DriftReport(
    IReadOnlyList<FeatureDrift> Features,
    double Alpha,
    double Threshold,
    bool Drifted,
    int ReferenceRows,
    int CurrentRows);
