using System.Net;
using System.Text.Json;
using Bunit;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Drift;
using Mds.Portal.Components.Pages.Records;
using Mds.Portal.Components.Pages.Try;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Plotly.Blazor.Traces;
using static Mds.UnitTests.Portal.MonitoringChartsTests;

namespace Mds.UnitTests.Portal;

/// <summary>The audit log, record, drift and try pages against a fake backend, through the portal's real clients.</summary>
public class MonitoringPagesTests
{
    private static readonly Guid RecordId = Guid.Parse("0b7f6a52-8d1c-4c35-9a55-3f0e7c1f2a10");
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    private static readonly ModelVersionDto IrisV1 = new(
        1, "iris", 1, "sha", 1306, null, ["onnx", "cpu"], null, 1, VersionStates.Ready, null, true, DateTimeOffset.UnixEpoch, "researcher@test.local",
        [new TensorMetadata("Features", "FP32", [-1, 4])],
        [new TensorMetadata("PredictedLabel", "BYTES", [-1, 1]), new TensorMetadata("Score", "FP32", [-1, 3])],
        [], FeatureNames: IrisFeatures, Classes: ["setosa", "versicolor", "virginica"]);

    private static readonly ModelDto Iris = new(1, "iris", null, 1, DateTimeOffset.UnixEpoch, [IrisV1], []);

    private static readonly InferenceRecordSummaryDto OkRecord = new(
        RecordId, T0, "req-0001", "iris", 1, "worker-0", 200, 3.2, "analyst@test.local", "4bf92f3577b34da6a3ce929d0e0e4736", null, 4.7, true);

    internal static BunitContext Context(FakeBackend backend)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("analyst@test.local");
        ctx.Services.AddSingleton(TimeProvider.System);
        ctx.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(new PortalOptions { BackendUrl = FakeBackend.BaseAddress }));
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new ModelsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new RecordsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new DriftClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new OutliersClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new ExplanationsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new DatasetsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new FeedbackClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new InferenceClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new ImagesClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        return ctx;
    }

    [Fact]
    public async Task The_audit_log_searches_what_the_address_asks_and_pages_to_older_records()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/models", () => new[] { Iris })
            .OnJson(HttpMethod.Get, "/api/records?model=iris&outliers=true&skip=0&take=50", () => new InferenceRecordPageDto(
                [OkRecord, .. Enumerable.Range(2, 49).Select(i => OkRecord with { Id = Guid.NewGuid(), RequestId = $"req-{i:0000}" })], 0, true, "cursor-50"))
            // Older pages go by the cursor the page before gave (the backend refuses deep skips).
            .OnJson(HttpMethod.Get, "/api/records?model=iris&outliers=true&skip=0&take=50&before=cursor-50", () => new InferenceRecordPageDto([OkRecord with { RequestId = "req-older" }], 0, false));
        await using var ctx = Context(backend);
        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo("records?model=iris&outliers=true");

        var page = ctx.Render<RecordList>();

        page.WaitForAssertion(() => Assert.Contains("req-0001", page.Find("[data-testid=records-table]").TextContent, StringComparison.Ordinal));
        Assert.Equal("Outliers", page.Find("h1").TextContent);
        Assert.Equal(RecordList.PageSize, page.FindAll("[data-testid=records-table] tbody tr").Count);
        Assert.Contains("outlier · score 4.7", page.FindAll("[data-testid=outlier-chip]")[0].TextContent, StringComparison.Ordinal);
        Assert.Equal($"records/{RecordId}", page.Find("[data-testid=record-link]").GetAttribute("href"));
        Assert.True(page.Find("[data-testid=records-newer]").HasAttribute("disabled"));

        await page.Find("[data-testid=records-older]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Contains("req-older", page.Find("[data-testid=records-table]").TextContent, StringComparison.Ordinal));
        Assert.True(page.Find("[data-testid=records-older]").HasAttribute("disabled"));
        Assert.Contains("51–51", page.Find("[data-testid=records-pager]").TextContent, StringComparison.Ordinal);
        Assert.False(page.Find("[data-testid=records-newer]").HasAttribute("disabled"));
    }

    [Fact]
    public async Task The_audit_log_shows_each_record_s_experiment_and_candidate_marks_mirror_copies_and_filters_by_experiment()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/models", () => new[] { Iris })
            .OnJson(HttpMethod.Get, "/api/records?experiment=iris-ab&candidate=iris%402&skip=0&take=50", () => new InferenceRecordPageDto(
            [
                OkRecord with { Experiment = "iris-ab", Candidate = "iris@2" },
                OkRecord with { Id = Guid.NewGuid(), RequestId = "req-0001.mirror", Experiment = "iris-ab", Candidate = "iris@2", Mirror = true },
            ], 0, false));
        await using var ctx = Context(backend);
        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo("records?experiment=iris-ab&candidate=iris@2");

        var page = ctx.Render<RecordList>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=record-experiment]").Count));
        Assert.All(page.FindAll("[data-testid=record-experiment]"), cell => Assert.Contains("iris-ab:iris@2", cell.TextContent, StringComparison.Ordinal));
        Assert.Single(page.FindAll("[data-testid=record-mirror]"));
        Assert.Contains("mirror", page.FindAll("[data-testid=record-experiment]")[1].TextContent, StringComparison.Ordinal);
        Assert.Contains("iris@2", page.Find("[data-testid=records-candidate]").TextContent, StringComparison.Ordinal);
        Assert.Equal(1, backend.Count(HttpMethod.Get, "/api/records?experiment=iris-ab&candidate=iris%402&skip=0&take=50"));
    }

    [Fact]
    public async Task A_record_shows_its_tensors_and_feedback_and_is_explained_on_request()
    {
        var record = new InferenceRecordDto(OkRecord,
            Json("""{"id":"req-0001","inputs":[{"name":"Features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}"""),
            Json("""{"model_name":"iris","outputs":[{"name":"PredictedLabel","datatype":"BYTES","shape":[1,1],"data":["setosa"]}]}"""),
            [new FeedbackDto(1, "iris", 1, "req-0001", false, "setosa", "versicolor", null, "looked wrong", "analyst@test.local", T0)]);
        string explanationPath = $"/api/records/{RecordId}/explanation?row=0";
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, $"/api/records/{RecordId}", () => record)
            .On(HttpMethod.Get, explanationPath, _ => FakeBackend.Problem(HttpStatusCode.NotFound, "Not explained yet."))
            .OnJson(HttpMethod.Post, explanationPath, () => Explanation([("sepal_length", 5.1, 0.01), ("sepal_width", 3.5, 0.02), ("petal_length", 1.4, 0.3), ("petal_width", 0.2, 0.2)], RecordId));
        await using var ctx = Context(backend);

        var page = ctx.Render<RecordDetail>(p => p.Add(c => c.Id, RecordId));

        var explain = page.WaitForElement("[data-testid=record-explain]");
        Assert.Contains("5.1, 3.5, 1.4, 0.2", page.Find("[data-testid=record-inputs]").TextContent, StringComparison.Ordinal);
        Assert.Contains("setosa", page.Find("[data-testid=record-outputs]").TextContent, StringComparison.Ordinal);
        Assert.Contains("should have been versicolor", page.Find("[data-testid=record-feedback]").TextContent, StringComparison.Ordinal);
        Assert.Contains("4bf92f3577b34da6a3ce929d0e0e4736", page.Find("[data-testid=record-facts]").TextContent, StringComparison.Ordinal);
        Assert.Empty(page.FindComponents<ExplanationView>());

        await explain.ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Single(page.FindComponents<ExplanationView>()));
        var bar = Assert.IsType<Bar>(Assert.Single(page.FindComponent<ExplanationView>().FindComponent<Chart>().Instance.Data));
        Assert.Equal(4, bar.X.Count);
        Assert.Contains("class setosa", page.Find("[data-testid=explanation-subject]").TextContent, StringComparison.Ordinal);
        Assert.Equal(1, backend.Count(HttpMethod.Post, explanationPath));
    }

    [Fact]
    public async Task A_record_that_cannot_be_explained_says_why()
    {
        string explanationPath = $"/api/records/{RecordId}/explanation?row=0";
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, $"/api/records/{RecordId}", () => new InferenceRecordDto(OkRecord, null, null, []))
            .On(HttpMethod.Get, explanationPath, _ => FakeBackend.Problem(HttpStatusCode.NotFound, "Not explained yet."))
            .On(HttpMethod.Post, explanationPath, _ => FakeBackend.Problem(HttpStatusCode.BadRequest, "iris v1 has no reference dataset to explain against."));
        await using var ctx = Context(backend);
        var page = ctx.Render<RecordDetail>(p => p.Add(c => c.Id, RecordId));

        await page.WaitForElement("[data-testid=record-explain]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Equal("It cannot be explained: iris v1 has no reference dataset to explain against.",
            page.Find("[data-testid=record-explain-error]").TextContent.Trim()));
    }

    [Fact]
    public async Task The_drift_page_charts_every_report_opens_the_newest_and_says_why_a_check_was_refused()
    {
        var list = List(Report(1, T0, false, [0.5, 0.4, 0.3, 0.2]), Report(2, T0.AddHours(1), true, [0.6, 0.5, 1e-6, 0.001], psi: [0.01, 0.02, 0.6, 0.3]));
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1/drift?take=100", () => list)
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1/drift/2", () => Report(2, T0.AddHours(1), true, [0.6, 0.5, 1e-6, 0.001], histograms: true))
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1/drift/1", () => Report(1, T0, false, [0.5, 0.4, 0.3, 0.2], histograms: true))
            .On(HttpMethod.Post, "/api/models/iris/versions/1/drift", _ => FakeBackend.Problem(HttpStatusCode.BadRequest, "Only 12 input rows since the last report; a report needs 30."));
        await using var ctx = Context(backend);

        var page = ctx.Render<DriftReports>(p => p.Add(c => c.Name, "iris").Add(c => c.Version, 1));

        page.WaitForAssertion(() => Assert.Equal(4, page.FindAll("[data-testid=drift-feature]").Count));
        Assert.Equal("Drift: petal_length, petal_width differ from the reference dataset.", page.Find("[data-testid=drift-verdict]").TextContent.Trim());
        Assert.Equal(["no drift", "no drift", "drifted", "drifted"], page.FindAll("[data-testid=drift-feature-chip]").Select(c => c.TextContent.Trim()));
        var charts = page.FindComponents<Chart>();
        var pValues = charts.Single(c => c.Instance.TestId == "drift-pvalues").Instance;
        Assert.True(pValues.YLog);
        Assert.Equal(5, pValues.Data.Count);
        Assert.Equal(4, charts.Count(c => c.Instance.TestId == "drift-histogram"));
        Assert.Contains("newest 1,000 input rows", page.Find("[data-testid=drift-settings]").TextContent, StringComparison.Ordinal);
        Assert.Contains("0 * * * *", page.Find("[data-testid=drift-settings]").TextContent, StringComparison.Ordinal);

        // A click on the first report's point of petal_length opens that report.
        await page.InvokeAsync(() => pValues.OnPointClick.InvokeAsync(new ChartPoint(2, 0)));
        page.WaitForAssertion(() => Assert.StartsWith("No drift", page.Find("[data-testid=drift-verdict]").TextContent.Trim(), StringComparison.Ordinal));

        await page.Find("[data-testid=drift-run]").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Contains("Only 12 input rows since the last report; a report needs 30.",
            page.Find("[data-testid=drift-run-error]").TextContent, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_version_without_reports_says_how_the_first_one_comes()
    {
        var backend = new FakeBackend().OnJson(HttpMethod.Get, "/api/models/iris/versions/1/drift?take=100", () => List());
        await using var ctx = Context(backend);

        var page = ctx.Render<DriftReports>(p => p.Add(c => c.Name, "iris").Add(c => c.Version, 1));

        page.WaitForAssertion(() => Assert.Contains("once 30 rows have arrived", page.Find("[data-testid=drift-empty]").TextContent, StringComparison.Ordinal));
        Assert.Empty(page.FindComponents<Chart>());
    }

    [Fact]
    public async Task Try_scores_the_row_for_outliers_and_explains_the_prediction()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/models/iris", () => Iris)
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1", () => IrisV1)
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1/dataset", () => new DatasetDto("iris", 1, "train.csv", 4000, 150, ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"], "species", T0, "researcher@test.local"))
            .OnJson(HttpMethod.Get, "/api/models/iris/versions/1/dataset/preview?rows=20", () => new DatasetPreviewDto(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"], [["5.1", "3.5", "1.4", "0.2", "setosa"]], 150))
            .On(HttpMethod.Post, "/v2/models/iris/infer", _ => new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("""{"model_name":"iris","model_version":"1","outputs":[{"name":"PredictedLabel","datatype":"BYTES","shape":[1,1],"data":["setosa"]},{"name":"Score","datatype":"FP32","shape":[1,3],"data":[0.97,0.02,0.01]}]}""",
                    System.Text.Encoding.UTF8, "application/json"),
            })
            .OnJson(HttpMethod.Post, "/api/models/iris/versions/1/outliers/score", () => new OutlierScoresDto([5.2], [true], 3.4))
            .OnJson(HttpMethod.Post, "/api/models/iris/versions/1/explain", () => Explanation([("sepal_length", 5.1, 0.01), ("sepal_width", 3.5, -0.02), ("petal_length", 1.4, 0.3), ("petal_width", 0.2, 0.2)]));
        await using var ctx = Context(backend);
        var page = ctx.Render<TryModel>(p => p.Add(c => c.Name, "iris"));
        page.WaitForElement("[data-testid=try-reference-row]");
        var fill = page.FindComponents<MudSelect<int?>>().Single(s => s.Instance.Label == "Fill from a reference row");
        await page.InvokeAsync(() => fill.Instance.ValueChanged.InvokeAsync(0));

        await page.Find("[data-testid=try-send]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Contains("this row lies far from the reference dataset", page.Find("[data-testid=try-outlier]").TextContent, StringComparison.Ordinal));
        Assert.Equal("true", page.Find("[data-testid=try-result] [data-testid=outlier-chip]").GetAttribute("data-outlier"));
        Assert.Equal("""{"rows":[[5.1,3.5,1.4,0.2]]}""", backend.Bodies.Last());

        await page.Find("[data-testid=try-explain]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Single(page.FindComponents<ExplanationView>()));
        var bar = Assert.IsType<Bar>(Assert.Single(page.FindComponent<ExplanationView>().FindComponent<Chart>().Instance.Data));
        Assert.Equal(4, bar.Y.Count);
        Assert.Equal("""{"rows":[[5.1,3.5,1.4,0.2]]}""", backend.Bodies.Last());
        Assert.Empty(page.FindAll("[data-testid=try-explain]"));
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
