using System.Text.Json;
using Mds.Analytics.Drift;
using Mds.Backend.Audit;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Explanations;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Drift;

/// <summary>
/// Computes and stores one drift report for a version: the newest <see cref="DriftOptions.WindowRows"/> input rows of
/// its successful inference records (no older than <see cref="DriftOptions.MaxWindowAge"/>; the explainer's own calls
/// left out) against its reference dataset — Kolmogorov–Smirnov or chi-squared per feature with Bonferroni, PSI and
/// histograms per feature, and optionally the multivariate MMD test on standardised features.
/// </summary>
public sealed class DriftRunner(MdsDbContext db, ReferenceSamples samples, DriftMetrics metrics, IOptions<DriftOptions> options, TimeProvider clock)
{
    public const string Scheduled = "schedule", Manual = "manual";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Runs the check; the stored report, or why there is none (no usable dataset, too few rows).</summary>
    public async Task<(DriftReportRecord? Report, string? Error)> RunAsync(ModelVersion version, string trigger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(version);
        var o = options.Value;
        var (sample, error) = await samples.GetAsync(db, version, ct);
        if (sample is null)
        {
            return (null, error);
        }

        string model = version.Model.Name;
        int number = version.Version;
        var now = clock.GetUtcNow();
        var since = now - o.MaxWindowAge;
        var records = await db.Set<InferenceRecord>().AsNoTracking()
            .Where(r => r.ModelName == model && r.Version == number && r.Status < 400 && r.Time >= since
                && (r.Caller == null || !r.Caller.StartsWith(Explainer.CallerPrefix)))
            .OrderByDescending(r => r.Time).Take(o.WindowRows)
            .Select(r => new { r.Time, r.Request })
            .ToListAsync(ct);

        var codec = sample.NewCodec();
        var rows = new List<double[]>(o.WindowRows);
        int used = 0;
        DateTimeOffset from = now, to = now;
        foreach (var r in records)
        {
            var recordRows = sample.RowsOf(r.Request, codec);
            if (recordRows.Count == 0)
            {
                continue;
            }

            used++;
            to = used == 1 ? r.Time : to;
            from = r.Time;
            rows.AddRange(recordRows.Take(o.WindowRows - rows.Count));
            if (rows.Count >= o.WindowRows)
            {
                break;
            }
        }

        if (rows.Count < o.MinRows)
        {
            return (null, $"model '{model}' version {number} has {rows.Count} readable input row{(rows.Count == 1 ? "" : "s")} " +
                $"in the last {Describe(o.MaxWindowAge)}; a drift check needs at least {o.MinRows}");
        }

        double[][] window = [.. rows];
        window.AsSpan().Reverse(); // oldest first, as the rows arrived
        var result = sample.Drift(o.Alpha, o.PsiBins).Detect(window);
        var features = result.Features.Select(f => new FeatureDriftDto(
            f.Name, f.Test == DriftTest.ChiSquared ? "chi2" : "ks", f.Statistic, f.PValue, f.Psi, f.Drifted,
            f.Histogram is { } h ? new DriftHistogramDto(Bins(sample, codec, f.Name, h.Bins), h.Reference, h.Current) : null)).ToList();
        var multivariate = o.Multivariate ? Multivariate(sample, window, o) : null;
        var report = new DriftReportRecord
        {
            ModelVersionId = version.Id,
            Time = now,
            Trigger = trigger,
            WindowFrom = from,
            WindowTo = to,
            Records = used,
            Rows = window.Length,
            ReferenceRows = sample.Rows.Length,
            Alpha = o.Alpha,
            Threshold = result.Threshold,
            Drifted = result.Drifted,
            FeaturesJson = JsonSerializer.Serialize(features, Json),
            MultivariateJson = multivariate is null ? null : JsonSerializer.Serialize(multivariate, Json),
        };
        db.Add(report);
        await db.SaveChangesAsync(ct);
        metrics.Observe(model, number, now, result.Drifted, features);
        metrics.CountRun(model, number, result.Drifted ? "drift" : "no_drift");
        return (report, null);
    }

    // A text column's categories are codes to the detector: the report shows the text they stand for.
    private static IReadOnlyList<string> Bins(ReferenceSample sample, RowCodec codec, string feature, IReadOnlyList<string> bins)
    {
        int column = Enumerable.Range(0, sample.Features.Count).FirstOrDefault(i => sample.Features[i] == feature, -1);
        return column >= 0 && codec.IsText(column)
            ? [.. bins.Select(b => double.TryParse(b, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double code) ? codec.Cell(column, code) : b)]
            : bins;
    }

    // MMD on features standardised by the reference's mean and deviation (raw features on different scales would let
    // the widest dominate the kernel), both samples spread-subsampled to MultivariateRows; seeded for repeatable p-values.
    // Text columns (codes, not quantities) are left out of it.
    private static MultivariateDriftDto? Multivariate(ReferenceSample sample, double[][] window, DriftOptions o)
    {
        int width = sample.NumericColumns.Count;
        if (width == 0)
        {
            return null;
        }

        var referenceRows = sample.Rows.Select(sample.Numeric).ToArray();
        var mean = new double[width];
        var scale = new double[width];
        for (int f = 0; f < width; f++)
        {
            mean[f] = referenceRows.Average(r => r[f]);
            double variance = referenceRows.Average(r => (r[f] - mean[f]) * (r[f] - mean[f]));
            scale[f] = variance > 0 ? 1 / Math.Sqrt(variance) : 1;
        }

        double[][] Standardise(double[][] rows) => [.. ReferenceSample.Spread(rows, o.MultivariateRows).Select(r => sample.Numeric(r).Select((v, f) => (v - mean[f]) * scale[f]).ToArray())];
        var reference = Standardise(sample.Rows);
        var current = Standardise(window);
        if (reference.Length < 2 || current.Length < 2)
        {
            return null;
        }

        try
        {
            var test = MaximumMeanDiscrepancy.Test(reference, current, o.Permutations, new Random(17));
            return new MultivariateDriftDto("mmd", test.Statistic, test.PValue, test.PValue < o.Alpha);
        }
        catch (ArgumentException)
        {
            return null; // every reference row the same: the kernel has no bandwidth, and the per-feature tests say enough
        }
    }

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.TotalDays == Math.Floor(span.TotalDays) ? (span.TotalDays == 1 ? "24 hours" : $"{span.TotalDays:0} days")
        : span.TotalHours >= 1 ? $"{span.TotalHours:0.#} hours" : $"{span.TotalMinutes:0.#} minutes";
}
