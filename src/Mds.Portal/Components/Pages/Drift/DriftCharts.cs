using Mds.Contracts.Api;
using Mds.Portal.Components.Shared;
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
        var series = Series(list, f => Math.Max(MinPValue, f.PValue), f => f.PValue < MinPValue, "p-value", "threshold (α ÷ features)", [.. list.Reports.Select(r => r.Threshold)]);
        double lowest = list.Reports.SelectMany(r => r.Features.Select(f => f.PValue).Append(r.Threshold)).DefaultIfEmpty(1).Min();
        var ticks = PowerTicks(Math.Max(MinPValue, lowest));
        // From the lowest tick (below every point and the threshold) to 1, a little past both so that markers show whole.
        double bottom = Math.Log10((double)ticks.Values[^1]);
        return series with { YTicks = ticks, YRange = [bottom - 0.3, 0.2] };
    }

    /// <summary>Each feature's PSI per report, and the line past which a shift is usually called marked.</summary>
    public static DriftSeries Psi(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return Series(list, f => f.Psi, _ => false, "PSI", $"PSI {list.PsiWarning:0.##}: marked shift", [.. list.Reports.Select(_ => list.PsiWarning)]);
    }

    /// <summary>
    /// A log axis's ticks from 1 down to <paramref name="lowest"/>, in one notation (10⁻⁴), at most about eight of them;
    /// the floor <see cref="MinPValue"/>, when reached, says that it is one: "&lt; 10⁻¹⁶".
    /// </summary>
    public static AxisTicks PowerTicks(double lowest)
    {
        int bottom = (int)Math.Floor(Math.Log10(Math.Clamp(lowest, MinPValue, 1)));
        int step = Math.Max(1, (int)Math.Ceiling(-bottom / 8.0));
        var values = new List<object>();
        var labels = new List<object>();
        for (int e = 0; ; e -= step)
        {
            values.Add(Math.Pow(10, e));
            labels.Add(e == 0 ? "1" : (e == -16 ? "< " : "") + "10" + Superscript(e));
            if (e <= bottom)
            {
                break; // the lowest tick is at or below every value
            }
        }

        return new AxisTicks(values, labels);
    }

    private static string Superscript(int exponent)
        => new([.. exponent.ToString(System.Globalization.CultureInfo.InvariantCulture).Select(c => c == '-' ? '⁻' : "⁰¹²³⁴⁵⁶⁷⁸⁹"[c - '0'])]);

    /// <summary>The features in the order the newest report lists them (the model's order).</summary>
    public static IReadOnlyList<string> Features(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return [.. list.Reports.Reverse().SelectMany(r => r.Features).Select(f => f.Feature).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// A feature's reference and current proportions per bin, as grouped bars. Numeric bins (<c>&lt; a</c>,
    /// <c>[a, b)</c>…, <c>≥ z</c>) are drawn side by side with their edges ticked between the bars, as a histogram reads
    /// (short labels that fit a narrow chart); categories are ticked by name.
    /// </summary>
    public static DriftHistogramChart Histogram(DriftHistogramDto histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        var edges = Edges(histogram.Bins);
        IList<object> x = edges is null ? [.. histogram.Bins.Cast<object>()] : [.. Enumerable.Range(0, histogram.Bins.Count).Select(i => (object)i)];
        IList<object> names = [.. histogram.Bins.Cast<object>()];
        var traces = new List<ITrace>
        {
            new Bar
            {
                Name = "reference",
                X = x,
                Y = [.. histogram.Reference.Select(p => (object)p)],
                CustomData = names,
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = "#94a3b8" },
                HoverTemplate = "reference %{customdata}: %{y:.1%}<extra></extra>",
            },
            new Bar
            {
                Name = "current",
                X = x,
                Y = [.. histogram.Current.Select(p => (object)p)],
                CustomData = names,
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = "#2563eb" },
                HoverTemplate = "current %{customdata}: %{y:.1%}<extra></extra>",
            },
        };
        var ticks = edges is null ? null
            : new AxisTicks([.. edges.Select((_, i) => (object)(i + 0.5))], [.. edges.Select(e => (object)e)]);
        return new DriftHistogramChart(traces, ticks, edges is null);
    }

    // The bin edges of numeric bins ("< a", "[a, b)", "≥ z"), as their labels print them; null for categories.
    private static List<string>? Edges(IReadOnlyList<string> bins)
    {
        if (bins.Count < 2 || !bins[0].StartsWith("< ", StringComparison.Ordinal) || !bins[^1].StartsWith("≥ ", StringComparison.Ordinal))
        {
            return null;
        }

        var edges = new List<string> { bins[0][2..].Trim() };
        for (int i = 1; i < bins.Count - 1; i++)
        {
            string bin = bins[i];
            int comma = bin.IndexOf(", ", StringComparison.Ordinal);
            if (!bin.StartsWith('[') || !bin.EndsWith(')') || comma < 0)
            {
                return null;
            }

            edges.Add(bin[(comma + 2)..^1].Trim());
        }

        return edges[^1] == bins[^1][2..].Trim() ? edges : null;
    }

    private static DriftSeries Series(
        DriftReportListDto list, Func<FeatureDriftDto, double> value, Func<FeatureDriftDto, bool> clipped, string measure, string lineName, IReadOnlyList<double> line)
    {
        var traces = new List<ITrace>();
        var reportIds = new List<IReadOnlyList<long>>();
        var features = Features(list);
        if (list.Reports.Count == 0)
        {
            return new DriftSeries(traces, reportIds);
        }

        // The axis fits the reports, with a margin either side (a lone report sits in the middle of twenty minutes).
        var first = list.Reports.Min(r => r.Time.UtcDateTime);
        var last = list.Reports.Max(r => r.Time.UtcDateTime);
        var span = TimeSpan.FromTicks(Math.Max((last - first).Ticks, TimeSpan.FromMinutes(20).Ticks));
        var from = first - (span * 0.06);
        var to = last + (span * 0.06);
        if (last - first < TimeSpan.FromMinutes(20))
        {
            var middle = first + ((last - first) / 2);
            (from, to) = (middle - (span * 0.56), middle + (span * 0.56));
        }

        // Features with the same value in a report would hide each other: each such point moves sideways a little
        // (1.2 % of the axis per neighbour, alternately right and left); its hover still says the report's time.
        var step = span * 0.012;
        var offsets = new Dictionary<(long Report, string Feature), TimeSpan>();
        foreach (var report in list.Reports)
        {
            var placed = new List<double>();
            foreach (var f in report.Features)
            {
                double y = value(f);
                int same = placed.Count(p => Same(p, y));
                placed.Add(y);
                offsets[(report.Id, f.Feature)] = same == 0 ? TimeSpan.Zero : step * ((same + 1) / 2) * (same % 2 == 1 ? 1 : -1);
            }
        }

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
                X = [.. points.Select(p => (object)(p.Report.Time.UtcDateTime + offsets[(p.Report.Id, feature)]))],
                Y = [.. points.Select(p => (object)value(p.Drift!))],
                TextArray = [.. points.Select(p => Hover(p.Drift!, measure, clipped(p.Drift!)))],
                CustomData = [.. points.Select(p => (object)Format.Time(p.Report.Time))],
                HoverTemplate = $"{feature}<br>%{{customdata}}<br>%{{text}}<extra></extra>",
                Line = new Line { Color = Palette[i % Palette.Length], Width = 2 },
                Marker = new Marker { Size = 8 },
                ClipOnAxis = false,
            });
            reportIds.Add([.. points.Select(p => p.Report.Id)]);
        }

        // The line spans the axis; it steps where the threshold changed (features added or removed).
        var times = new List<object> { from };
        var ys = new List<object> { line[0] };
        for (int r = 0; r < list.Reports.Count; r++)
        {
            times.Add(list.Reports[r].Time.UtcDateTime);
            ys.Add(line[r]);
        }

        times.Add(to);
        ys.Add(line[^1]);
        traces.Add(new Scatter
        {
            Name = lineName,
            Mode = ModeFlag.Lines,
            X = times,
            Y = ys,
            Line = new Line { Color = ThresholdColour, Width = 1.5m, Dash = "dash", Shape = Plotly.Blazor.Traces.ScatterLib.LineLib.ShapeEnum.Hv },
            HoverTemplate = $"{lineName}: %{{y:.3g}}<extra></extra>",
        });
        reportIds.Add([]);
        return new DriftSeries(traces, reportIds) { XRange = [from, to] };
    }

    // What a point's hover says: the value as reported (a p-value below the floor says where it is drawn) and the verdict.
    private static string Hover(FeatureDriftDto drift, string measure, bool clipped)
    {
        double value = measure == "PSI" ? drift.Psi : drift.PValue;
        string shown = value.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
        return $"{measure} {shown}{(clipped ? " (< 1e-16: drawn at the floor)" : "")} · {(drift.Drifted ? "drifted" : "no drift")}";
    }

    // Equal to the eye: within 1 % of each other (or both at the floor).
    private static bool Same(double a, double b) => a == b || Math.Abs(a - b) <= 0.01 * Math.Max(Math.Abs(a), Math.Abs(b));
}

/// <summary>A feature's histogram: its bars, the x ticks (bin edges between numeric bins; null for categories), and whether the x axis is categories.</summary>
/// <param name="Traces">Reference and current bars.</param>
/// <param name="XTicks">The bin edges, ticked between the bars they separate; null for categories.</param>
/// <param name="Categories">The bins are category values.</param>
public sealed record DriftHistogramChart(IList<ITrace> Traces, AxisTicks? XTicks, bool Categories);

/// <summary>A time series chart's traces, and for each trace the report each of its points belongs to (none for a threshold line).</summary>
public sealed record DriftSeries(IList<ITrace> Traces, IReadOnlyList<IReadOnlyList<long>> ReportIds)
{
    /// <summary>The time axis, fitted to the reports with a margin either side; null with no reports.</summary>
    public IList<object>? XRange { get; init; }

    /// <summary>The y axis's ticks (the p-value chart's powers of ten); null for Plotly's own.</summary>
    public AxisTicks? YTicks { get; init; }

    /// <summary>The y axis's range (the p-value chart's, in powers of ten, down to its lowest tick); null for Plotly's own.</summary>
    public IList<object>? YRange { get; init; }

    /// <summary>The report of a clicked point, or null for a point of no report.</summary>
    public long? ReportAt(int trace, int point)
        => trace >= 0 && trace < ReportIds.Count && point >= 0 && point < ReportIds[trace].Count ? ReportIds[trace][point] : null;
}
