using Bunit;
using Mds.Contracts.Api;
using Mds.Portal.Components.Pages.Admin;
using Mds.Portal.Components.Pages.Feedback;
using Mds.Portal.Components.Shared;
using MudBlazor.Services;
using Plotly.Blazor.Traces;
using static Mds.UnitTests.Portal.MonitoringChartsTests;

namespace Mds.UnitTests.Portal;

/// <summary>What issue 18's walk through the portal found misleading: wording and charts that said more, or less, than the data.</summary>
public sealed class PortalPolishTests
{
    [Theory]
    [InlineData("probability", "the probability it did")]
    [InlineData("score", "the score it did (a score, not a probability)")]
    [InlineData(null, "the value it did")]
    public async Task An_explanation_calls_the_explained_value_a_probability_only_when_it_is_one(string? explained, string wording)
    {
        await using var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        var explanation = Explanation([("a", 1, 0.05), ("b", 2, -0.4)]) with { Explained = explained };

        var view = ctx.Render<ExplanationView>(p => p.Add(c => c.Explanation, explanation));

        string subject = view.Find("[data-testid=explanation-subject]").TextContent;
        Assert.Contains("class setosa " + wording, subject, StringComparison.Ordinal);
        Assert.Equal(explained == "probability", subject.Contains("probability it did", StringComparison.Ordinal));
    }

    [Fact]
    public void Sparse_traffic_is_said_in_words_so_that_a_chart_never_looks_empty_by_accident()
    {
        var minute = new DateTimeOffset(2026, 11, 3, 10, 42, 0, TimeSpan.Zero);
        TrafficPointDto Point(DateTimeOffset at, int requests) => new(at, "iris", requests, 0, 1, 2, 3);

        Assert.Equal("No requests in the last hour.", Dashboard.TrafficSummary([]));
        Assert.StartsWith("1 request in the last hour, all in the minute at ", Dashboard.TrafficSummary([Point(minute, 1)]), StringComparison.Ordinal);
        Assert.Equal("7 requests in the last hour, over 2 minutes.", Dashboard.TrafficSummary([Point(minute, 3), Point(minute.AddMinutes(5), 4)]));
    }

    [Fact]
    public void One_day_of_accuracy_is_a_whole_point_in_the_middle_of_its_axis_not_half_a_dot_in_a_corner()
    {
        var day = new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero);

        var (traces, range, ticks) = ModelFeedback.AccuracyChart([new AccuracyPointDto(day, 4, 4, 1.0)], "day");

        var point = Assert.IsType<Scatter>(Assert.Single(traces));
        var at = (DateTime)Assert.Single(point.X);
        Assert.Equal(at, (DateTime)range![0] + (((DateTime)range[1] - (DateTime)range[0]) / 2));
        Assert.Equal(["Nov 2", "Nov 3", "Nov 4"], ticks!.Labels.Cast<string>());
        Assert.False(point.ClipOnAxis); // a point at 100 % is drawn whole on the axis's top edge
        Assert.Equal(100.0, (double)Assert.Single(point.Y));
    }
}
