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
        Assert.Equal([0.0125, 0.0125], threshold.Y.Cast<double>());
        Assert.Equal(2L, series.ReportAt(2, 1));
        Assert.Null(series.ReportAt(4, 0));
    }

    [Fact]
    public void A_single_report_still_draws_its_threshold_as_a_line_around_it()
    {
        var t0 = new DateTimeOffset(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

        var series = DriftCharts.Psi(List(Report(7, t0, false, [0.5, 0.4, 0.3, 0.2])));

        var line = Assert.IsType<Scatter>(series.Traces[^1]);
        Assert.Equal([0.2, 0.2], line.Y.Cast<double>());
        Assert.Equal([t0.UtcDateTime.AddMinutes(-30), t0.UtcDateTime.AddMinutes(30)], line.X.Cast<DateTime>());
        Assert.Equal(7L, series.ReportAt(0, 0));
    }

    [Fact]
    public void A_histogram_is_reference_and_current_bars_over_the_same_bins()
    {
        var traces = DriftCharts.Histogram(new DriftHistogramDto(["a", "b"], [0.5, 0.5], [0.9, 0.1]));

        Assert.Equal(["reference", "current"], traces.Cast<Bar>().Select(b => b.Name));
        Assert.All(traces.Cast<Bar>(), b => Assert.Equal(["a", "b"], b.X.Cast<string>()));
        Assert.Equal([0.9, 0.1], ((Bar)traces[1]).Y.Cast<double>());
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
