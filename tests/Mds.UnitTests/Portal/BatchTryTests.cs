using System.Net;
using Bunit;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Try;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using static Mds.UnitTests.Portal.BatchReaderTests;

namespace Mds.UnitTests.Portal;

/// <summary>Batch try against a fake backend: the portal's real clients, the component's real polling.</summary>
public class BatchTryTests
{
    private const string ListPath = "/api/batches?model=iris";
    private const string BatchPath = "/api/batches/7";
    private const string RowsPath = "/api/batches/7/rows?offset=0&limit=25";

    private static readonly ModelVersionDto IrisV1 = new(
        1, "iris", 1, "sha", 1306, null, ["onnx", "cpu"], null, 1, VersionStates.Ready, null, true, DateTimeOffset.UnixEpoch, "researcher@test.local",
        [new TensorMetadata("Features", "FP32", [-1, 4])],
        [new TensorMetadata("PredictedLabel", "BYTES", [-1, 1]), new TensorMetadata("Score", "FP32", [-1, 3])],
        [], FeatureNames: ["sepal_length", "sepal_width", "petal_length", "petal_width"], Classes: ["setosa", "versicolor", "virginica"]);

    private static readonly ModelDto Iris = new(1, "iris", null, 1, DateTimeOffset.UnixEpoch, [IrisV1], ["tabular"]);

    private static readonly BatchRowsDto TwoRows = new(
        Batch(BatchStates.Succeeded, 2, 2).Columns,
        [
            ["5.1", "3.5", "1.4", "0.2", "setosa", "setosa", "0.97222733", "0.027772352", "4.0252314E-07"],
            ["6.5", "2.9", "4.9", "1.2", "versicolor", "versicolor", "0.0032840616", "0.6777959", "0.31891996"],
        ],
        0, 2);

    private static IRenderedComponent<BatchTry> Render(BunitContext ctx, FakeBackend backend, int? version = null)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("analyst@test.local");
        ctx.Services.AddSingleton(TimeProvider.System);
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new BatchesClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new BatchUploadsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        return ctx.Render<BatchTry>(p => p
            .Add(c => c.Model, Iris)
            .Add(c => c.Version, version)
            .Add(c => c.SchemaVersion, IrisV1)
            .Add(c => c.FeatureNames, IrisV1.FeatureNames)
            .Add(c => c.PollInterval, TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public async Task A_queued_batch_is_checked_until_it_succeeds_and_then_its_rows_show_with_the_predictions_marked()
    {
        var states = new Queue<BatchDto>([Batch(BatchStates.Running, 1, 2), Batch(BatchStates.Succeeded, 2, 2, summary: "2 of 2 rows (100 %) match the label column 'species'")]);
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, ListPath, () => Array.Empty<BatchDto>())
            .OnJson(HttpMethod.Get, BatchPath, () => states.Count > 1 ? states.Dequeue() : states.Peek())
            .OnJson(HttpMethod.Get, RowsPath, () => TwoRows);
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend);

        await batchTry.InvokeAsync(() => batchTry.Instance.Open(Batch(BatchStates.Queued, 0, 2)));
        Assert.Equal("Waiting for a job to start on 2 rows.", batchTry.Find("[data-testid=batch-progress-text]").TextContent);

        batchTry.WaitForAssertion(() => Assert.Contains("0.9722", batchTry.Find("[data-testid=batch-rows]").TextContent, StringComparison.Ordinal));
        Assert.Equal(["PredictedLabel", "Score[setosa]", "Score[versicolor]", "Score[virginica]"],
            batchTry.FindAll("[data-testid=batch-predicted-column]").Select(th => th.TextContent.Trim()));
        Assert.Contains("4.025e-7", batchTry.Find("[data-testid=batch-rows]").TextContent, StringComparison.Ordinal);
        Assert.Equal("PredictedLabel", batchTry.Find("[data-predicted-class=true]").TextContent.Trim());
        Assert.Contains("match the label column 'species'", batchTry.Find("[data-testid=batch-summary]").TextContent, StringComparison.Ordinal);
        Assert.Equal("batches/7/result.csv", batchTry.Find("[data-testid=batch-download]").GetAttribute("href"));
        Assert.True(backend.Count(HttpMethod.Get, BatchPath) >= 2);
        Assert.True(backend.Count(HttpMethod.Get, ListPath) >= 2, "the list is read again once the batch has finished");
    }

    [Fact]
    public async Task A_failed_batch_shows_its_error_in_words_and_is_no_longer_checked()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, ListPath, () => Array.Empty<BatchDto>())
            .OnJson(HttpMethod.Get, BatchPath, () => Batch(BatchStates.Failed, 1, 2, error: "the model refused row 2: petal_width is not a number"));
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend);

        await batchTry.InvokeAsync(() => batchTry.Instance.Open(Batch(BatchStates.Running, 1, 2)));

        batchTry.WaitForAssertion(() => Assert.Contains("the model refused row 2: petal_width is not a number",
            batchTry.Find("[data-testid=batch-failed]").TextContent, StringComparison.Ordinal));
        int checks = backend.Count(HttpMethod.Get, BatchPath);
        await Task.Delay(200);
        Assert.Equal(checks, backend.Count(HttpMethod.Get, BatchPath));
        Assert.Empty(batchTry.FindAll("[data-testid=batch-download]"));
    }

    [Fact]
    public async Task A_small_file_is_scored_at_once_with_the_chosen_version_and_its_result_shows()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, ListPath, () => Array.Empty<BatchDto>())
            .OnJson(HttpMethod.Post, "/api/models/iris/batches", () => Batch(BatchStates.Succeeded, 2, 2), HttpStatusCode.Created)
            .OnJson(HttpMethod.Get, RowsPath, () => TwoRows);
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend, version: 1);

        batchTry.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromText("sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n", "iris.csv"));
        batchTry.WaitForAssertion(() => Assert.Equal("iris.csv", batchTry.Find("[data-testid=batch-file-name]").TextContent));
        await batchTry.Find("[data-testid=batch-submit]").ClickAsync(new MouseEventArgs());

        batchTry.WaitForAssertion(() => Assert.Contains("versicolor", batchTry.Find("[data-testid=batch-rows]").TextContent, StringComparison.Ordinal));
        string form = Assert.Single(backend.Bodies);
        Assert.Contains("name=version", form, StringComparison.Ordinal);
        Assert.Contains("5.1,3.5,1.4,0.2,setosa", form, StringComparison.Ordinal);
        Assert.Equal(0, backend.Count(HttpMethod.Get, BatchPath));
    }

    [Fact]
    public async Task A_file_the_backend_refuses_shows_the_problems_detail_not_json()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, ListPath, () => Array.Empty<BatchDto>())
            .On(HttpMethod.Post, "/api/models/iris/batches", _ => FakeBackend.Problem(HttpStatusCode.BadRequest,
                "The file does not fit the model: row 1 holds 'wide' in petal_width, which takes numbers."));
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend);

        batchTry.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromText("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,wide\n", "bad.csv"));
        batchTry.WaitForAssertion(() => Assert.Equal("bad.csv", batchTry.Find("[data-testid=batch-file-name]").TextContent));
        await batchTry.Find("[data-testid=batch-submit]").ClickAsync(new MouseEventArgs());

        var error = batchTry.WaitForElement("[data-testid=batch-upload-error]");
        Assert.Contains("“bad.csv” does not fit the model: The file does not fit the model: row 1 holds 'wide' in petal_width, which takes numbers.", error.TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("{", error.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_without_a_column_the_model_matches_by_name_is_refused_before_it_is_sent()
    {
        var backend = new FakeBackend().OnJson(HttpMethod.Get, ListPath, () => Array.Empty<BatchDto>());
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend);

        batchTry.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromText("sepal_length,sepal_width\n5.1,3.5\n", "short.csv"));

        var error = batchTry.WaitForElement("[data-testid=batch-upload-error]");
        Assert.Contains("“short.csv” has no column petal_length, petal_width", error.TextContent, StringComparison.Ordinal);
        Assert.True(batchTry.Find("[data-testid=batch-submit]").HasAttribute("disabled"));
        Assert.Equal(0, backend.Count(HttpMethod.Post, "/api/models/iris/batches"));
    }

    [Fact]
    public async Task The_recent_batches_are_listed_with_their_state_and_rows()
    {
        var backend = new FakeBackend()
            .OnJson(HttpMethod.Get, ListPath, () => new[] { Batch(BatchStates.Running, 1200, 5000), Batch(BatchStates.Succeeded, 150, 150) with { Id = 6, FileName = "older.csv" } });
        await using var ctx = new BunitContext();
        var batchTry = Render(ctx, backend);

        batchTry.WaitForAssertion(() => Assert.Equal(2, batchTry.FindAll("[data-testid=batch-list] tbody tr").Count));
        string list = batchTry.Find("[data-testid=batch-list]").TextContent;
        Assert.Contains("1,200 / 5,000", list, StringComparison.Ordinal);
        Assert.Contains("older.csv", list, StringComparison.Ordinal);
        Assert.Single(batchTry.FindAll("[data-testid=batch-list] a[href='batches/6/result.csv']"));
    }
}
