using System.Net;
using Bunit;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Components.Pages.Try;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;
using Plotly.Blazor.Traces;

namespace Mds.UnitTests.Portal;

/// <summary>
/// The Try page on classifiers as exporters write them, against a fake backend through the portal's real clients: the
/// predicted class is the label output's value wherever the outputs stand and whatever they are called, and feedback
/// records that same prediction.
/// </summary>
public class ClassifierTryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    // Scores first, then an INT64 label: the order an exporter may well choose, and the one feedback used to get wrong.
    private static readonly ModelVersionDto ScoresFirstV1 = new(
        1, "clf", 1, "sha", 900, null, ["onnx", "cpu"], null, 1, VersionStates.Ready, null, true, DateTimeOffset.UnixEpoch, "researcher@test.local",
        [new TensorMetadata("x", "FP32", [-1, 3])],
        [new TensorMetadata("scores", "FP32", [-1, 3]), new TensorMetadata("label", "INT64", [-1])],
        []);

    private static readonly ModelDto ScoresFirst = new(1, "clf", null, 1, DateTimeOffset.UnixEpoch, [ScoresFirstV1], []);

    private static FakeBackend Backend(string inferResponse) => new FakeBackend()
        .OnJson(HttpMethod.Get, "/api/models/clf", () => ScoresFirst)
        .OnJson(HttpMethod.Get, "/api/models/clf/versions/1", () => ScoresFirstV1)
        .On(HttpMethod.Post, "/v2/models/clf/infer", _ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(inferResponse, System.Text.Encoding.UTF8, "application/json"),
        })
        .OnJson(HttpMethod.Post, "/api/feedback", () => new FeedbackDto(11, "clf", 1, "r", true, "2", null, null, null, "analyst@test.local", T0));

    [Fact]
    public async Task Feedback_on_an_int64_label_after_a_scores_output_records_the_label_not_the_first_score()
    {
        var backend = Backend("""{"model_name":"clf","model_version":"1","outputs":[{"name":"scores","datatype":"FP32","shape":[1,3],"data":[-2.0,0.5,3.0]},{"name":"label","datatype":"INT64","shape":[1],"data":[2]}]}""");
        await using var ctx = MonitoringPagesTests.Context(backend);
        var page = ctx.Render<TryModel>(p => p.Add(c => c.Name, "clf"));
        page.WaitForElement("[data-testid=try-fields]");
        var fields = page.FindComponents<MudNumericField<double?>>();
        Assert.Equal(3, fields.Count);
        foreach (var field in fields)
        {
            await page.InvokeAsync(() => field.Instance.ValueChanged.InvokeAsync(1.5));
        }

        await page.Find("[data-testid=try-send]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Equal("2", page.Find("[data-testid=try-predicted]").TextContent.Trim()));
        var bar = Assert.IsType<Bar>(Assert.Single(page.FindComponent<Chart>().Instance.Data));
        Assert.Equal(["class 0", "class 1", "class 2"], bar.X.Select(x => x.ToString()));

        var verdict = page.FindComponent<MudToggleGroup<bool?>>();
        await page.InvokeAsync(() => verdict.Instance.ValueChanged.InvokeAsync(true));
        await page.Find("[data-testid=feedback-send]").ClickAsync(new MouseEventArgs());

        page.WaitForElement("[data-testid=feedback-saved]");
        string feedback = backend.Bodies.Last();
        Assert.Contains("\"predicted\":\"2\"", feedback, StringComparison.Ordinal);
    }
}
