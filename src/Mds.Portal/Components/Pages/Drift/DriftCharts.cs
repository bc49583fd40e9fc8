using Mds.Contracts.Api;
using Plotly.Blazor;
using Plotly.Blazor.Traces;
using Plotly.Blazor.Traces.ScatterLib;

namespace Mds.Portal.Components.Pages.Drift;

/// <summary>
/// The drift page's charts from the backend's reports: each feature's p-value and PSI over time with the line past
/// which it counts as drifted, and one report's reference-versus-current histogram of a feature. No I/O: tested directly.
/// </summary>
public static class DriftCharts
{
    /// <summary>The smallest p-value drawn: a log axis cannot show 0, and below this the difference means nothing.</summary>
    public const double MinPValue = 1e-16;

    /// <summary>The colour of a threshold line.</summary>
    public const string ThresholdColour = "#dc2626";

    private static readonly string[] Palette = ["#2563eb", "#0d9488", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#ea580c", "#475569"];

    /// <summary>Each feature's p-value per report (log scale), and the Bonferroni threshold.</summary>
    public static DriftSeries PValues(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return Series(list, f => Math.Max(MinPValue, f.PValue), "p-value", "Bonferroni threshold (α ÷ features)", [.. list.Reports.Select(r => r.Threshold)]);
    }

    /// <summary>Each feature's PSI per report, and the line past which a shift is usually called marked.</summary>
    public static DriftSeries Psi(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return Series(list, f => f.Psi, "PSI", $"PSI {list.PsiWarning:0.##}: marked shift", [.. list.Reports.Select(_ => list.PsiWarning)]);
    }

    /// <summary>The features in the order the newest report lists them (the model's order).</summary>
    public static IReadOnlyList<string> Features(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return [.. list.Reports.Reverse().SelectMany(r => r.Features).Select(f => f.Feature).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>A feature's reference and current proportions per bin, as grouped bars.</summary>
    public static IList<ITrace> Histogram(DriftHistogramDto histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        return
        [
            new Bar
            {
                Name = "reference",
                X = [.. histogram.Bins.Cast<object>()],
                Y = [.. histogram.Reference.Select(p => (object)p)],
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = "#94a3b8" },
                HoverTemplate = "reference %{x}: %{y:.1%}<extra></extra>",
            },
            new Bar
            {
                Name = "current",
                X = [.. histogram.Bins.Cast<object>()],
                Y = [.. histogram.Current.Select(p => (object)p)],
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = "#2563eb" },
                HoverTemplate = "current %{x}: %{y:.1%}<extra></extra>",
            },
        ];
    }

    private static DriftSeries Series(DriftReportListDto list, Func<FeatureDriftDto, double> value, string measure, string lineName, IReadOnlyList<double> line)
    {
        var traces = new List<ITrace>();
        var reportIds = new List<IReadOnlyList<long>>();
        var features = Features(list);
        for (int i = 0; i < features.Count; i++)
        {
            string feature = features[i];
            var points = list.Reports
                .Select(r => (Report: r, Drift: r.Features.FirstOrDefault(f => string.Equals(f.Feature, feature, StringComparison.Ordinal))))
                .Where(p => p.Drift is not null)
                .ToList();
            traces.Add(new Scatter
            {
                Name = feature,
                Mode = ModeFlag.Lines | ModeFlag.Markers,
                X = [.. points.Select(p => (object)p.Report.Time.UtcDateTime)],
                Y = [.. points.Select(p => (object)value(p.Drift!))],
                TextArray = [.. points.Select(p => p.Drift!.Drifted ? "drifted" : "no drift")],
                HoverTemplate = $"{feature}<br>%{{x}}<br>{measure} %{{y:.3g}} (%{{text}})<extra></extra>",
                Line = new Line { Color = Palette[i % Palette.Length], Width = 2 },
                Marker = new Marker { Size = 8 },
            });
            reportIds.Add([.. points.Select(p => p.Report.Id)]);
        }

        if (list.Reports.Count > 0)
        {
            // One report is one moment: the line then spans an hour around it so that it reads as a line.
            var times = list.Reports.Count == 1
                ? new[] { list.Reports[0].Time.UtcDateTime.AddMinutes(-30), list.Reports[0].Time.UtcDateTime.AddMinutes(30) }
                : [.. list.Reports.Select(r => r.Time.UtcDateTime)];
            var ys = list.Reports.Count == 1 ? new[] { line[0], line[0] } : line;
            traces.Add(new Scatter
            {
                Name = lineName,
                Mode = ModeFlag.Lines,
                X = [.. times.Cast<object>()],
                Y = [.. ys.Select(y => (object)y)],
                Line = new Line { Color = ThresholdColour, Width = 1.5m, Dash = "dash" },
                HoverTemplate = $"{lineName}: %{{y:.3g}}<extra></extra>",
            });
            reportIds.Add([]);
        }

        return new DriftSeries(traces, reportIds);
    }
}

/// <summary>A time series chart's traces, and for each trace the report each of its points belongs to (none for a threshold line).</summary>
public sealed record DriftSeries(IList<ITrace> Traces, IReadOnlyList<IReadOnlyList<long>> ReportIds)
{
    /// <summary>The report of a clicked point, or null for a point of no report.</summary>
    public long? ReportAt(int trace, int point)
        => trace >= 0 && trace < ReportIds.Count && point >= 0 && point < ReportIds[trace].Count ? ReportIds[trace][point] : null;
}
