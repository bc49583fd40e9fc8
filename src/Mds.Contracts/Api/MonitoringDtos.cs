namespace Mds.Contracts.Api;

/// <summary>Reference and current distributions of one feature in a drift window, as proportions per bin.</summary>
/// <param name="Bins">Bin labels: <c>[lo, hi)</c> ranges for numeric features (the reference's deciles), the category values for categorical ones.</param>
/// <param name="Reference">The reference dataset's share of rows in each bin (sums to 1).</param>
/// <param name="Current">The window's share of rows in each bin (sums to 1).</param>
public sealed record DriftHistogramDto(IReadOnlyList<string> Bins, IReadOnlyList<double> Reference, IReadOnlyList<double> Current);

/// <summary>One feature's drift in one report.</summary>
/// <param name="Feature">The feature's name.</param>
/// <param name="Test"><c>ks</c> (two-sample Kolmogorov–Smirnov, numeric features) or <c>chi2</c> (chi-squared, categorical features).</param>
/// <param name="Statistic">The test statistic (KS D, or χ²).</param>
/// <param name="PValue">The test's p-value.</param>
/// <param name="Psi">Population stability index of the window against the reference.</param>
/// <param name="Drifted">Whether the p-value is below the report's Bonferroni-corrected threshold.</param>
/// <param name="Histogram">The two distributions; only on a single report (<c>GET .../drift/{id}</c>), null in lists.</param>
public sealed record FeatureDriftDto(string Feature, string Test, double Statistic, double PValue, double Psi, bool Drifted, DriftHistogramDto? Histogram);

/// <summary>The multivariate test of a report: maximum mean discrepancy with a permutation test.</summary>
/// <param name="Test"><c>mmd</c>.</param>
/// <param name="Statistic">MMD² (Gaussian kernel, median-heuristic bandwidth).</param>
/// <param name="PValue">The permutation test's p-value.</param>
/// <param name="Drifted">Whether the p-value is below the report's α.</param>
public sealed record MultivariateDriftDto(string Test, double Statistic, double PValue, bool Drifted);

/// <summary>A drift report: one model version's recent inputs compared with its reference dataset.</summary>
/// <param name="Id">The report's id.</param>
/// <param name="Model">The model.</param>
/// <param name="Version">The version.</param>
/// <param name="Time">When the report was computed.</param>
/// <param name="Trigger"><c>schedule</c> (the recurring job) or <c>manual</c> (someone asked).</param>
/// <param name="WindowFrom">Time of the oldest inference record in the window.</param>
/// <param name="WindowTo">Time of the newest inference record in the window.</param>
/// <param name="Records">Inference records in the window.</param>
/// <param name="Rows">Input rows in the window (a record may hold several).</param>
/// <param name="ReferenceRows">Rows of the reference dataset.</param>
/// <param name="Alpha">The family-wise significance level.</param>
/// <param name="Threshold">The per-feature p-value threshold: α ÷ number of features (Bonferroni).</param>
/// <param name="Drifted">The verdict: at least one feature drifted.</param>
/// <param name="Features">Per-feature results, in the model's feature order.</param>
/// <param name="Multivariate">The multivariate test, when the window was small enough to run it.</param>
public sealed record DriftReportDto(
    long Id, string Model, int Version, DateTimeOffset Time, string Trigger, DateTimeOffset WindowFrom, DateTimeOffset WindowTo,
    int Records, int Rows, int ReferenceRows, double Alpha, double Threshold, bool Drifted,
    IReadOnlyList<FeatureDriftDto> Features, MultivariateDriftDto? Multivariate);

/// <summary>A version's drift reports, oldest first (for a time series), with the settings that produce them.</summary>
/// <param name="Model">The model.</param>
/// <param name="Version">The version.</param>
/// <param name="Reports">The reports (features without histograms).</param>
/// <param name="PsiWarning">The PSI above which a feature is usually said to have shifted markedly (0.2), for the chart's line.</param>
/// <param name="WindowRows">How many recent input rows a report compares.</param>
/// <param name="MinRows">The fewest rows a report needs.</param>
/// <param name="Schedule">The recurring job's cron expression.</param>
public sealed record DriftReportListDto(
    string Model, int Version, IReadOnlyList<DriftReportDto> Reports, double PsiWarning, int WindowRows, int MinRows, string Schedule);

/// <summary>The newest drift verdict of a version, for badges: <c>GET /api/drift/status</c>.</summary>
/// <param name="Model">The model.</param>
/// <param name="Version">The version.</param>
/// <param name="ReportId">The newest report.</param>
/// <param name="Time">When it was computed.</param>
/// <param name="Drifted">Its verdict.</param>
/// <param name="DriftedFeatures">The features that drifted.</param>
public sealed record DriftStatusDto(string Model, int Version, long ReportId, DateTimeOffset Time, bool Drifted, IReadOnlyList<string> DriftedFeatures);

/// <summary>Rows to score for outliers or explain: <c>POST .../outliers/score</c>, <c>POST .../explain</c>.</summary>
/// <param name="Rows">Feature rows, each as many values as the model has features.</param>
public sealed record FeatureRowsDto(IReadOnlyList<IReadOnlyList<double>> Rows);

/// <summary>A version's outlier detector (Mahalanobis distance fitted on its reference dataset).</summary>
/// <param name="Method"><c>mahalanobis</c>.</param>
/// <param name="Threshold">Scores above this are outliers: the reference's own scores' <paramref name="Quantile"/>.</param>
/// <param name="Quantile">The quantile of the reference's scores the threshold sits at (0.99).</param>
/// <param name="ReferenceRows">Rows it was fitted on.</param>
/// <param name="Features">The numeric features it reads (and a scored row holds), in order.</param>
/// <param name="SkippedFeatures">The text (categorical) columns, which the detector does not read; empty for an all-numeric model.</param>
public sealed record OutlierDetectorDto(string Method, double Threshold, double Quantile, int ReferenceRows, IReadOnlyList<string> Features, IReadOnlyList<string>? SkippedFeatures = null);

/// <summary>Outlier scores of the rows sent, in order.</summary>
/// <param name="Scores">Each row's Mahalanobis distance from the reference.</param>
/// <param name="IsOutlier">Whether each row's score is above the threshold.</param>
/// <param name="Threshold">The detector's threshold.</param>
public sealed record OutlierScoresDto(IReadOnlyList<double> Scores, IReadOnlyList<bool> IsOutlier, double Threshold);

/// <summary>One feature's attribution.</summary>
/// <param name="Feature">The feature's name.</param>
/// <param name="Value">The instance's value of it.</param>
/// <param name="Attribution">Its SHAP value: how much it moved the output from the base value.</param>
/// <param name="Text">For a text column, the instance's value (then <paramref name="Value"/> is its code in the reference's vocabulary); null for a numeric one.</param>
public sealed record AttributionDto(string Feature, double Value, double Attribution, string? Text = null);

/// <summary><c>POST .../explain</c>: the row to explain.</summary>
/// <param name="Rows">One row: a cell a column, in the model's column order; numbers as JSON numbers (or text), text columns as strings.</param>
public sealed record ExplainRowsDto(IReadOnlyList<IReadOnlyList<System.Text.Json.JsonElement>> Rows);

/// <summary>A KernelSHAP explanation of one prediction (of a stored record's row, or of a row sent).</summary>
/// <param name="Model">The model.</param>
/// <param name="Version">The version.</param>
/// <param name="RecordId">The inference record explained; null for a row sent to <c>.../explain</c>.</param>
/// <param name="Row">Which of the record's rows (0 for the first).</param>
/// <param name="Output">The output tensor explained.</param>
/// <param name="ClassIndex">For a classifier, the index of the predicted class, whose probability is explained; null for a regressor.</param>
/// <param name="ClassLabel">That class's name, when the model names its classes.</param>
/// <param name="BaseValue">E[f] over the background sample.</param>
/// <param name="Prediction">f(x); the attributions sum to Prediction − BaseValue.</param>
/// <param name="Attributions">One per feature, in the model's feature order.</param>
/// <param name="Coalitions">Feature coalitions evaluated.</param>
/// <param name="Exact">Whether every coalition was evaluated (exact Shapley values) rather than a sample.</param>
/// <param name="BackgroundRows">Rows of the reference dataset used as background.</param>
/// <param name="CreatedAt">When it was computed (explanations of records are kept).</param>
/// <param name="OutlierScore">The row's outlier score, when the version has a reference dataset.</param>
/// <param name="IsOutlier">Whether that score is above the threshold.</param>
/// <param name="Explained">
/// What the explained value is, for wording it: <c>probability</c> (a classifier's class probability, or scores that are
/// one: each in [0, 1], summing to 1), <c>score</c> (the highest of a row's scores, not a probability), <c>value</c> (a
/// regressor's one output); null in explanations kept before it was recorded.
/// </param>
public sealed record ExplanationDto(
    string Model, int Version, Guid? RecordId, int Row, string Output, int? ClassIndex, string? ClassLabel,
    double BaseValue, double Prediction, IReadOnlyList<AttributionDto> Attributions, int Coalitions, bool Exact, int BackgroundRows,
    DateTimeOffset CreatedAt, double? OutlierScore, bool? IsOutlier, string? Explained = null);
