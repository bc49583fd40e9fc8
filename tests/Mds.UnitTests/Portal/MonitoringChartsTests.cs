using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Pages.Drift;
using Mds.Portal.Components.Pages.Models;
using Mds.Portal.Components.Pages.Records;
using Mds.Portal.Components.Shared;
using Plotly.Blazor.Traces;

namespace Mds.UnitTests.Portal;

/// <summary>The monitoring pages' pure parts: chart traces, tensors of a stored body, badges' verdicts, the records query.</summary>
public class MonitoringChartsTests
{
    internal static readonly string[] IrisFeatures = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

    internal static DriftReportDto Report(long id, DateTimeOffset time, bool drifted, double[] pValues, double[]? psi = null, bool histograms = false)
        => new(id, "iris", 1, time, "manual", time.AddHours(-1), time, 40, 40, 150, 0.05, 0.0125, drifted,
            [.. IrisFeatures.Select((f, i) => new FeatureDriftDto(f, "ks", 0.1 * (i + 1), pValues[i], psi?[i] ?? 0.05, pValues[i] < 0.0125,
                histograms ? new DriftHistogramDto(["[4.3, 5.1)", "[5.1, 5.8)", "[5.8, 7.9]"], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]) : null))],
            null);

    internal static DriftReportListDto List(params DriftReportDto[] reports) => new("iris", 1, reports, 0.2, 1000, 30, "0 * * * *");

    [Fact]
    public void The_p_value_chart_has_one_trace_per_feature_and_the_threshold_line_and_clamps_zero_for_the_log_axis()
    {
        var t0 = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);
        var list = List(Report(1, t0, false, [0.5, 0.4, 0.3, 0.2]), Report(2, t0.AddHours(1), true, [0.6, 0.5, 0, 0.001]));

        var series = DriftCharts.PValues(list);

        Assert.Equal(5, series.Traces.Count);
        var petalLength = Assert.IsType<Scatter>(series.Traces[2]);
        Assert.Equal("petal_length", petalLength.Name);
        Assert.Equal([0.3, DriftCharts.MinPValue], petalLength.Y.Cast<double>());
        var threshold = Assert.IsType<Scatter>(series.Traces[4]);
        Assert.All(threshold.Y.Cast<double>(), y => Assert.Equal(0.0125, y));
        Assert.Equal(series.XRange, [threshold.X[0], threshold.X[^1]]);
        Assert.Equal(2L, series.ReportAt(2, 1));
        Assert.Null(series.ReportAt(4, 0));
    }

    [Fact]
    public void A_single_report_sits_in_the_middle_of_an_axis_fitted_to_it_with_its_threshold_across()
    {
        var t0 = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

        var series = DriftCharts.Psi(List(Report(7, t0, false, [0.5, 0.4, 0.3, 0.2])));

        var range = series.XRange!.Cast<DateTime>().ToList();
        Assert.Equal(t0.UtcDateTime, range[0] + ((range[1] - range[0]) / 2));
        Assert.InRange(range[1] - range[0], TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30));
        var line = Assert.IsType<Scatter>(series.Traces[^1]);
        Assert.All(line.Y.Cast<double>(), y => Assert.Equal(0.2, y));
        Assert.Equal(range[0], line.X.Cast<DateTime>().First());
        Assert.Equal(range[1], line.X.Cast<DateTime>().Last());
        Assert.Equal(7L, series.ReportAt(0, 0));
    }

    [Fact]
    public void A_p_value_below_the_floor_is_drawn_at_it_and_says_so_on_the_axis_and_in_its_hover()
    {
        var t0 = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

        var series = DriftCharts.PValues(List(Report(1, t0, true, [0.5, 1.95e-70, 0.3, 0.2])));

        var sepalWidth = Assert.IsType<Scatter>(series.Traces[1]);
        Assert.Equal(DriftCharts.MinPValue, Assert.Single(sepalWidth.Y.Cast<double>()));
        Assert.Contains("1.95E-70 (< 1e-16: drawn at the floor)", Assert.Single(sepalWidth.TextArray), StringComparison.Ordinal);
        Assert.Equal("< 10⁻¹⁶", series.YTicks!.Labels[^1]);
        Assert.Equal(DriftCharts.MinPValue, (double)series.YTicks.Values[^1], 1e-30);
        Assert.All(series.YTicks.Labels.Skip(1), l => Assert.Contains("10", (string)l, StringComparison.Ordinal));
        Assert.InRange(series.YTicks.Values.Count, 5, 10);
    }

    [Fact]
    public void Features_with_the_same_p_value_in_a_report_are_moved_apart_so_that_none_hides_another()
    {
        var t0 = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

        var series = DriftCharts.PValues(List(Report(1, t0, true, [1e-20, 1e-30, 0.5, 1e-25])));

        var xs = series.Traces.Take(4).Cast<Scatter>().Select(t => (DateTime)t.X.Single()).ToList();
        Assert.Equal(t0.UtcDateTime, xs[0]);
        Assert.Equal(t0.UtcDateTime, xs[2]);
        Assert.Equal(3, xs.Where((_, i) => i != 2).Distinct().Count());
        Assert.Equal("1", series.YTicks!.Labels[0]);
    }

    [Fact]
    public void A_numeric_histogram_ticks_its_bin_edges_between_the_bars_and_a_categorical_one_its_categories()
    {
        var numeric = DriftCharts.Histogram(new DriftHistogramDto(["< 4.8", "[4.8, 5.6)", "[5.6, 6.3)", "≥ 6.3"], [0.2, 0.3, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4]));

        Assert.Equal(["reference", "current"], numeric.Traces.Cast<Bar>().Select(b => b.Name));
        Assert.Equal([0, 1, 2, 3], ((Bar)numeric.Traces[0]).X.Cast<int>());
        Assert.Equal([0.5, 1.5, 2.5], numeric.XTicks!.Values.Cast<double>());
        Assert.Equal(["4.8", "5.6", "6.3"], numeric.XTicks.Labels.Cast<string>());
        Assert.False(numeric.Categories);

        var categorical = DriftCharts.Histogram(new DriftHistogramDto(["a", "b"], [0.5, 0.5], [0.9, 0.1]));
        Assert.All(categorical.Traces.Cast<Bar>(), b => Assert.Equal(["a", "b"], b.X.Cast<string>()));
        Assert.Equal([0.9, 0.1], ((Bar)categorical.Traces[1]).Y.Cast<double>());
        Assert.Null(categorical.XTicks);
        Assert.True(categorical.Categories);
    }

    [Fact]
    public void Attributions_are_drawn_largest_on_top_with_positive_and_negative_in_their_own_colours()
    {
        var explanation = Explanation([("a", 1, 0.05), ("b", 2, -0.4), ("c", 3, 0.2), ("d", 4, -0.01)]);

        var bar = Assert.IsType<Bar>(Assert.Single(AttributionChart.Traces(explanation)));

        Assert.Equal(["d = 4", "a = 1", "c = 3", "b = 2"], bar.Y.Cast<string>());
        Assert.Equal([-0.01, 0.05, 0.2, -0.4], bar.X.Cast<double>());
        Assert.Equal([AttributionChart.Negative, AttributionChart.Positive, AttributionChart.Positive, AttributionChart.Negative],
            ((IEnumerable<object>)bar.Marker.Color).Cast<string>());
    }

    [Fact]
    public void A_text_column_is_labelled_with_its_text_and_a_large_number_in_full()
    {
        Assert.Equal("city = lima", AttributionChart.Label(new AttributionDto("city", 2, 0.1, "lima")));
        Assert.Equal("income = 32000", AttributionChart.Label(new AttributionDto("income", 32000, -0.2)));
        Assert.Equal("petal_length = 1.4", AttributionChart.Label(new AttributionDto("petal_length", 1.4, 0.3)));
    }

    [Fact]
    public void A_stored_v2_body_gives_its_tensors_with_their_values_flattened()
    {
        using var json = JsonDocument.Parse("""
            {"id":"r1","inputs":[{"name":"Features","datatype":"FP32","shape":[2,2],"data":[[5.1,3.5],[6.5,2.9]]}]}
            """);

        var tensors = RecordTensors.Read(json.RootElement, "inputs");

        var input = Assert.Single(tensors.Tensors);
        Assert.Equal(("Features", "FP32"), (input.Name, input.Datatype));
        Assert.Equal([2L, 2L], input.Shape);
        Assert.Equal("5.1, 3.5, 6.5, 2.9", Assert.Single(tensors.Values));
        Assert.False(tensors.Truncated);
        Assert.Equal(2, RecordTensors.Rows(json.RootElement));
    }

    [Fact]
    public void A_body_kept_only_in_summary_gives_shapes_and_says_so()
    {
        using var json = JsonDocument.Parse("""
            {"truncated":true,"bytes":2000000,"tensors":[{"name":"image","datatype":"FP32","shape":[1,3,224,224]}]}
            """);

        var tensors = RecordTensors.Read(json.RootElement, "inputs");

        Assert.True(tensors.Truncated);
        Assert.Equal(2_000_000, tensors.TruncatedBytes);
        Assert.Equal("image", Assert.Single(tensors.Tensors).Name);
        Assert.Equal("(not kept)", Assert.Single(tensors.Values));
        Assert.Equal(RecordTensors.None, RecordTensors.Read(null, "outputs"));
    }

    [Fact]
    public void Long_data_is_cut_after_the_first_values_with_the_rest_counted()
    {
        using var json = JsonDocument.Parse($$"""{"outputs":[{"name":"y","datatype":"INT64","shape":[100],"data":[{{string.Join(",", Enumerable.Range(0, 100))}}]}]}""");

        string values = Assert.Single(RecordTensors.Read(json.RootElement, "outputs").Values);

        Assert.StartsWith("0, 1, 2", values, StringComparison.Ordinal);
        Assert.EndsWith("63, … 36 more", values, StringComparison.Ordinal);
    }

    [Fact]
    public void The_catalog_badge_follows_the_live_versions_newest_report()
    {
        var model = Model(live: 2, versions: [1, 2]);
        var t0 = DateTimeOffset.UnixEpoch;
        DriftStatusDto[] statuses =
        [
            new("iris", 1, 1, t0, true, ["petal_length"]),
            new("iris", 2, 2, t0, false, []),
            new("iris", 2, 3, t0.AddHours(1), true, ["petal_width", "petal_length"]),
            new("other", 2, 4, t0.AddHours(2), false, []),
        ];

        var status = ModelSummary.Drift(model, statuses);

        Assert.Equal(3, status?.ReportId);
        Assert.Equal("Drifted: petal_width, petal_length (v2, report of 1970-01-01 01:00 UTC)", DriftBadge.Tooltip(status!));
        Assert.Null(ModelSummary.Drift(Model(live: 3, versions: [3]), statuses));
    }

    [Theory]
    [InlineData(null, null, null, null, false, 0, "api/records?skip=0&take=50")]
    [InlineData("iris", 2, "error", null, false, 50, "api/records?model=iris&version=2&status=error&skip=50&take=50")]
    [InlineData("my model", null, "503", "r 1", true, 0, "api/records?model=my%20model&status=503&requestId=r%201&outliers=true&skip=0&take=50")]
    public void The_records_search_says_only_what_is_asked(string? model, int? version, string? status, string? requestId, bool outliers, int skip, string query)
        => Assert.Equal(query, new RecordFilter(model, version, status, null, null, requestId, outliers, skip).ToQuery());

    [Fact]
    public void An_experiment_and_candidate_filter_is_sent_escaped()
        => Assert.Equal(
            "api/records?experiment=ab&candidate=iris%402&skip=0&take=50",
            new RecordFilter(Experiment: " ab ", Candidate: "iris@2").ToQuery());

    [Fact]
    public void A_time_range_is_sent_as_round_trip_utc()
        => Assert.Equal(
            "api/records?from=2026-11-03T00%3A00%3A00.0000000%2B00%3A00&to=2026-11-04T00%3A00%3A00.0000000%2B00%3A00&skip=0&take=50",
            new RecordFilter(From: new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero), To: new DateTimeOffset(2026, 11, 4, 0, 0, 0, TimeSpan.Zero)).ToQuery());

    internal static ExplanationDto Explanation((string Feature, double Value, double Attribution)[] attributions, Guid? recordId = null)
        => new("iris", 1, recordId, 0, "Score", 0, "setosa", 0.33, 0.33 + attributions.Sum(a => a.Attribution),
            [.. attributions.Select(a => new AttributionDto(a.Feature, a.Value, a.Attribution))], 16, true, 100, DateTimeOffset.UnixEpoch, 1.2, false);

    private static ModelDto Model(int live, int[] versions)
        => new(1, "iris", null, live, DateTimeOffset.UnixEpoch,
            [.. versions.Select(v => new ModelVersionDto(v, "iris", v, "sha", 1, null, [], null, 1, VersionStates.Ready, null, v == live, DateTimeOffset.UnixEpoch, null, [], [], []))], []);
}
