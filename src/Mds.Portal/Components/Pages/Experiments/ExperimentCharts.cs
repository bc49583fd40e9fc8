using Mds.Contracts.Api;
using Plotly.Blazor;
using Plotly.Blazor.Traces;
using Plotly.Blazor.Traces.ScatterLib;

namespace Mds.Portal.Components.Pages.Experiments;

/// <summary>
/// An experiment page's charts from its results: requests and errors per minute per candidate, latency percentiles
/// per candidate, each candidate's accuracy (or mean absolute error) with its 95 % interval as error bars, and the same
/// over time with the interval as a shaded band. One colour per candidate throughout. No I/O: tested directly.
/// </summary>
public static class ExperimentCharts
{
    private static readonly string[] Palette = ["#2563eb", "#d97706", "#0d9488", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#475569"];

    /// <summary>The colour of the <paramref name="index"/>th candidate.</summary>
    public static string Colour(int index) => Palette[((index % Palette.Length) + Palette.Length) % Palette.Length];

    /// <summary>The candidates in the order the experiment lists them, then any that only the traffic names.</summary>
    public static IReadOnlyList<string> Candidates(ExperimentResultsDto results, ExperimentDto? experiment = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        return
        [
            .. (experiment?.Candidates.Select(c => c.Key) ?? [])
                .Concat(results.Candidates.Select(c => c.Candidate))
                .Concat(results.Traffic.Select(t => t.Candidate))
                .Distinct(StringComparer.Ordinal),
        ];
    }

    /// <summary>Requests per minute, one line per candidate.</summary>
    public static IList<ITrace> Requests(ExperimentResultsDto results, IReadOnlyList<string> candidates)
        => PerMinute(results, candidates, t => t.Requests, "requests");

    /// <summary>Errors per minute, one line per candidate.</summary>
    public static IList<ITrace> Errors(ExperimentResultsDto results, IReadOnlyList<string> candidates)
        => PerMinute(results, candidates, t => t.Errors, "errors");

    /// <summary>Latency p50 (solid), p95 (dashed) and p99 (dotted) per minute, in each candidate's colour.</summary>
    public static IList<ITrace> Latency(ExperimentResultsDto results, IReadOnlyList<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(candidates);
        var traces = new List<ITrace>();
        for (int i = 0; i < candidates.Count; i++)
        {
            string candidate = candidates[i];
            var points = Points(results, candidate);
            if (points.Count == 0)
            {
                continue;
            }

            foreach (var (label, dash, value) in new (string, string, Func<ExperimentTrafficPointDto, double>)[]
                     {
                         ("p50", "solid", p => p.P50Ms), ("p95", "dash", p => p.P95Ms), ("p99", "dot", p => p.P99Ms),
                     })
            {
                traces.Add(new Scatter
                {
                    Name = $"{candidate} {label}",
                    Mode = ModeFlag.Lines | ModeFlag.Markers,
                    X = [.. points.Select(p => (object)p.Minute.UtcDateTime)],
                    Y = [.. points.Select(p => (object)value(p))],
                    HoverTemplate = $"{candidate} {label}<br>%{{x}}: %{{y:.1f}} ms<extra></extra>",
                    Line = new Line { Color = Colour(i), Width = 2, Dash = dash },
                    Marker = new Marker { Size = 5 },
                });
            }
        }

        return traces;
    }

    /// <summary>True when some candidate has an accuracy (classifiers with feedback).</summary>
    public static bool HasAccuracy(ExperimentResultsDto results)
        => results?.Candidates.Any(c => c.Accuracy is not null) == true;

    /// <summary>True when some candidate has a mean absolute error (regressors with feedback).</summary>
    public static bool HasMae(ExperimentResultsDto results)
        => results?.Candidates.Any(c => c.Mae is not null) == true;

    /// <summary>Each candidate's accuracy in percent, with its 95 % interval as error bars.</summary>
    public static IList<ITrace> Accuracy(ExperimentResultsDto results, IReadOnlyList<string> candidates)
        => Estimates(results, candidates, c => c.Accuracy, 100, "accuracy", "%{y:.1f} %");

    /// <summary>Each candidate's mean absolute error, with its 95 % interval as error bars.</summary>
    public static IList<ITrace> Mae(ExperimentResultsDto results, IReadOnlyList<string> candidates)
        => Estimates(results, candidates, c => c.Mae, 1, "MAE", "%{y:.4g}");

    private static IList<ITrace> Estimates(ExperimentResultsDto results, IReadOnlyList<string> candidates, Func<CandidateResultsDto, EstimateDto?> estimate, double scale, string measure, string format)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(candidates);
        var rows = candidates
            .Select((key, i) => (Key: key, Index: i, Result: results.Candidates.FirstOrDefault(c => string.Equals(c.Candidate, key, StringComparison.Ordinal))))
            .Where(r => r.Result is not null && estimate(r.Result) is not null)
            .Select(r => (r.Key, r.Index, Estimate: estimate(r.Result!)!, r.Result!.Feedback))
            .ToList();
        if (rows.Count == 0)
        {
            return [];
        }

        return
        [
            new Bar
            {
                Name = measure,
                X = [.. rows.Select(r => (object)r.Key)],
                Y = [.. rows.Select(r => (object)(r.Estimate.Value * scale))],
                TextArray = [.. rows.Select(r => $"95 % CI {ExperimentText.Tidy(r.Estimate.Low * scale, 3):0.###}–{ExperimentText.Tidy(r.Estimate.High * scale, 3):0.###} · {r.Feedback} feedback")],
                HoverTemplate = $"%{{x}}: {format}<br>%{{text}}<extra></extra>",
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { ColorArray = [.. rows.Select(r => (object)Colour(r.Index))] },
                ErrorY = new Plotly.Blazor.Traces.BarLib.ErrorY
                {
                    Type = Plotly.Blazor.Traces.BarLib.ErrorYLib.TypeEnum.Data,
                    Symmetric = false,
                    Array = [.. rows.Select(r => (object)Math.Max(0, (r.Estimate.High - r.Estimate.Value) * scale))],
                    ArrayMinus = [.. rows.Select(r => (object)Math.Max(0, (r.Estimate.Value - r.Estimate.Low) * scale))],
                    Color = "#64748b",
                    Thickness = 1.5m,
                    Width = 8,
                },
            },
        ];
    }

    /// <summary>
    /// Accuracy in percent (or MAE) over time, cumulative: per candidate an invisible upper-bound trace, the lower bound
    /// filled up to it (<c>fill: tonexty</c>, the band, in the candidate's colour made translucent so it reads on light and
    /// dark backgrounds), then the estimate as markers and lines. A candidate with one point gets a band one bucket wide
    /// centred on it, so it shows as a band and not as a lone dot. Markers are not clipped at the axes (100 % sits on the
    /// top edge).
    /// </summary>
    public static IList<ITrace> OverTime(ExperimentResultsDto results, IReadOnlyList<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(candidates);
        var traces = new List<ITrace>();
        if (results.Series is not { } series)
        {
            return traces;
        }

        bool mae = series.Metric == "absolute-error";
        double scale = mae ? 1 : 100;
        string format = mae ? "%{y:.4g}" : "%{y:.1f} %";
        var half = TimeSpan.FromTicks(BucketLength(series.Bucket).Ticks / 2);
        for (int i = 0; i < candidates.Count; i++)
        {
            string candidate = candidates[i];
            var points = series.Points
                .Where(p => string.Equals(p.Candidate, candidate, StringComparison.Ordinal) && (mae ? p.Mae : p.Accuracy) is not null)
                .OrderBy(p => p.Start)
                .Select(p => (p.Start.UtcDateTime, p.Total, Estimate: (mae ? p.Mae : p.Accuracy)!))
                .ToList();
            if (points.Count == 0)
            {
                continue;
            }

            var band = points.Count == 1
                ? [(points[0].UtcDateTime - half, points[0].Estimate), (points[0].UtcDateTime + half, points[0].Estimate)]
                : points.Select(p => (p.UtcDateTime, p.Estimate)).ToList();
            string colour = Colour(i);
            traces.Add(new Scatter
            {
                Name = $"{candidate} 95 % upper",
                LegendGroup = candidate,
                ShowLegend = false,
                Mode = ModeFlag.Lines,
                X = [.. band.Select(b => (object)b.Item1)],
                Y = [.. band.Select(b => (object)(ExperimentText.Tidy(b.Item2.High * scale, 6)))],
                Line = new Line { Color = colour, Width = 0 },
                HoverInfo = HoverInfoFlag.Skip,
            });
            traces.Add(new Scatter
            {
                Name = $"{candidate} 95 % interval",
                LegendGroup = candidate,
                ShowLegend = false,
                Mode = ModeFlag.Lines,
                X = [.. band.Select(b => (object)b.Item1)],
                Y = [.. band.Select(b => (object)(ExperimentText.Tidy(b.Item2.Low * scale, 6)))],
                Line = new Line { Color = colour, Width = 0 },
                Fill = FillEnum.ToNextY,
                FillColor = Translucent(colour, 0.2),
                HoverInfo = HoverInfoFlag.Skip,
            });
            traces.Add(new Scatter
            {
                Name = candidate,
                LegendGroup = candidate,
                Mode = ModeFlag.Lines | ModeFlag.Markers,
                X = [.. points.Select(p => (object)p.UtcDateTime)],
                Y = [.. points.Select(p => (object)(ExperimentText.Tidy(p.Estimate.Value * scale, 6)))],
                TextArray = [.. points.Select(p => mae
                    ? $"95 % CI {ExperimentText.Tidy(p.Estimate.Low, 4):0.####}–{ExperimentText.Tidy(p.Estimate.High, 4):0.####} · {p.Total} feedback so far"
                    : $"95 % CI {ExperimentText.Tidy(p.Estimate.Low * 100, 1):0.0}–{ExperimentText.Tidy(p.Estimate.High * 100, 1):0.0} % · {p.Total} feedback so far")],
                HoverTemplate = $"{candidate}<br>%{{x}}: {format}<br>%{{text}}<extra></extra>",
                Line = new Line { Color = colour, Width = 2 },
                Marker = new Marker { Size = 7, Color = colour },
                ClipOnAxis = false,
            });
        }

        return traces;
    }

    /// <summary>
    /// The x range that fits the series: from the first bucket to the last, padded by one bucket each side (a single
    /// bucket sits in the middle, not in a corner); null without points.
    /// </summary>
    public static IList<object>? OverTimeRange(ExperimentResultsDto results)
    {
        if (results?.Series is not { Points.Count: > 0 } series)
        {
            return null;
        }

        var pad = BucketLength(series.Bucket);
        var first = series.Points.Min(p => p.Start).UtcDateTime;
        var last = series.Points.Max(p => p.Start).UtcDateTime;
        return [first - pad, last + pad];
    }

    private static TimeSpan BucketLength(string bucket) => bucket switch
    {
        "day" => TimeSpan.FromDays(1),
        "hour" => TimeSpan.FromHours(1),
        _ => TimeSpan.FromMinutes(1),
    };

    // "#2563eb" → "rgba(37,99,235,0.2)".
    private static string Translucent(string hex, double alpha)
    {
        int rgb = int.Parse(hex.AsSpan(1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"rgba({(rgb >> 16) & 0xff},{(rgb >> 8) & 0xff},{rgb & 0xff},{alpha})");
    }

    private static List<ITrace> PerMinute(ExperimentResultsDto results, IReadOnlyList<string> candidates, Func<ExperimentTrafficPointDto, int> value, string measure)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(candidates);
        var traces = new List<ITrace>();
        for (int i = 0; i < candidates.Count; i++)
        {
            string candidate = candidates[i];
            var points = Points(results, candidate);
            if (points.Count == 0)
            {
                continue;
            }

            traces.Add(new Scatter
            {
                Name = candidate,
                Mode = ModeFlag.Lines | ModeFlag.Markers,
                X = [.. points.Select(p => (object)p.Minute.UtcDateTime)],
                Y = [.. points.Select(p => (object)value(p))],
                HoverTemplate = $"{candidate}<br>%{{x}}: %{{y}} {measure}<extra></extra>",
                Line = new Line { Color = Colour(i), Width = 2 },
                Marker = new Marker { Size = 6 },
            });
        }

        return traces;
    }

    private static List<ExperimentTrafficPointDto> Points(ExperimentResultsDto results, string candidate)
        => [.. results.Traffic.Where(t => string.Equals(t.Candidate, candidate, StringComparison.Ordinal)).OrderBy(t => t.Minute)];
}
