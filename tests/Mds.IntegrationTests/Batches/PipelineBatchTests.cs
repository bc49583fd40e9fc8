using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Batches;

/// <summary>Batch predictions through a pipeline: the same CSV upload, answers and reads as a model's, each chunk a pipeline run.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PipelineBatchTests(MdsCluster cluster)
{
    private const string Model = "pl-batch-iris";
    private static readonly string IrisCsv = Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv");

    /// <summary>One step over iris, its label renamed: the pipeline's inputs are iris's Features FP32 [-1,4].</summary>
    private static string TabularSpec(string name) => """
        name: NAME
        steps:
        - {name: classify, model: MODEL}
        output: {steps: [classify.outputs.PredictedLabel, classify.outputs.Score], tensorMap: {classify.outputs.PredictedLabel: label}}
        """.Replace("NAME", name, StringComparison.Ordinal).Replace("MODEL", Model, StringComparison.Ordinal);

    [Fact]
    public async Task A_small_csv_is_scored_at_once_with_the_answers_of_the_pipeline_called_row_by_row()
    {
        await ApplyLiveAsync(TabularSpec("pl-batch-small"));
        string[] lines = (await File.ReadAllTextAsync(IrisCsv)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string csv = string.Join('\n', lines.Take(21)) + "\n";
        var response = await PostBatchAsync("pl-batch-small", csv, Roles.Analyst, labelColumn: "species");
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal((BatchStates.Succeeded, 20, 20, "species"), (batch.State, batch.TotalRows, batch.DoneRows, batch.LabelColumn));
        Assert.Equal(("pl-batch-small", "pl-batch-small.pipeline", 1), (batch.Pipeline, batch.ModelName, batch.Version));
        Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width", "species", "predicted", "label", "Score[0]", "Score[1]", "Score[2]"], batch.Columns);
        Assert.EndsWith("match the label column 'species'", batch.Summary, StringComparison.Ordinal);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string[] result = (await analyst.GetStringAsync($"/api/batches/{batch.Id}/result.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(21, result.Length);
        Assert.Equal(string.Join(',', batch.Columns), result[0]);
        for (int r = 0; r < 20; r++)
        {
            string[] cells = result[r + 1].Split(',');
            Assert.Equal(lines[r + 1].Trim().Split(','), cells.Take(5));
            float[] features = [.. cells.Take(4).Select(c => float.Parse(c, CultureInfo.InvariantCulture))];
            var alone = await analyst.PostAsync("/v2/pipelines/pl-batch-small/infer", V2Json.Request("Features", [1, 4], "FP32", features));
            Assert.True(alone.IsSuccessStatusCode, await alone.Content.ReadAsStringAsync());
            var answer = (await alone.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal((string)V2Json.Output(answer, "label")["data"]![0]!, cells[5]);
            Assert.Equal(cells[5], cells[6]); // the predicted class is the label output's value
            double[] scores = [.. V2Json.Output(answer, "Score")["data"]!.AsArray().Select(v => (double)v!)];
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(scores[i], double.Parse(cells[7 + i], CultureInfo.InvariantCulture), 1e-5);
            }
        }

        // Each chunk was an ordinary pipeline run, named after the batch.
        using var admin = await cluster.ClientAsync(Roles.Admin);
        await Eventually.TrueAsync(async () =>
        {
            var runs = await admin.GetFromJsonAsync<List<PipelineRunDto>>($"/api/pipelines/pl-batch-small/runs?requestId=batch-{batch.Id}-0");
            return runs!.Count == 1 && runs[0].Status == 200 && runs[0].Caller!.StartsWith($"batch {batch.Id} by ", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), $"the run record of batch {batch.Id}'s first chunk");

        // Read, listed and filtered like any batch.
        var page = (await analyst.GetFromJsonAsync<BatchRowsDto>($"/api/batches/{batch.Id}/rows?offset=5&limit=3"))!;
        Assert.Equal(result[6].Split(','), page.Rows[0]);
        Assert.Contains((await analyst.GetFromJsonAsync<List<BatchDto>>("/api/batches?pipeline=pl-batch-small"))!, b => b.Id == batch.Id);
        Assert.DoesNotContain((await analyst.GetFromJsonAsync<List<BatchDto>>($"/api/batches?model={Model}"))!, b => b.Id == batch.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await analyst.DeleteAsync($"/api/batches/{batch.Id}")).StatusCode);
    }

    [Fact]
    public async Task A_large_csv_becomes_a_job_that_ends_with_every_row_scored()
    {
        await ApplyLiveAsync(TabularSpec("pl-batch-large"));
        string csv = await File.ReadAllTextAsync(IrisCsv); // 150 rows
        Assert.True(150 > MdsCluster.BatchSyncMaxRows);
        var response = await PostBatchAsync("pl-batch-large", csv, Roles.Researcher);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var queued = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal((150, "pl-batch-large"), (queued.TotalRows, queued.Pipeline));
        Assert.Equal($"/api/batches/{queued.Id}", response.Headers.Location!.OriginalString);

        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        BatchDto? last = null;
        await Eventually.TrueAsync(async () =>
        {
            last = await researcher.GetFromJsonAsync<BatchDto>($"/api/batches/{queued.Id}");
            Assert.NotEqual(BatchStates.Failed, last!.State);
            return last.State == BatchStates.Succeeded;
        }, TimeSpan.FromSeconds(60), $"batch {queued.Id} to succeed (last: {last?.State} {last?.DoneRows}/{last?.TotalRows} {last?.Error})");

        Assert.Equal((150, "pl-batch-large"), (last!.DoneRows, last.Pipeline));
        Assert.Matches("^[0-9]+ of 150 rows", last.Summary!);
        string download = await researcher.GetStringAsync($"/api/batches/{queued.Id}/result.csv");
        Assert.Equal(151, download.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task A_pipeline_that_is_not_tabular_is_refused_with_the_reason()
    {
        // Two inputs (x and y), each feeding its own step: not one [rows, features] tensor.
        await ApplyLiveAsync("""
            name: pl-batch-two-inputs
            steps:
            - {name: a, model: MODEL, inputs: [pipeline.inputs.x], tensorMap: {pipeline.inputs.x: Features}}
            - {name: b, model: MODEL, inputs: [pipeline.inputs.y], tensorMap: {pipeline.inputs.y: Features}}
            output: {steps: [a.outputs.Score, b.outputs.PredictedLabel]}
            """.Replace("MODEL", Model, StringComparison.Ordinal));
        var response = await PostBatchAsync("pl-batch-two-inputs", "a,b,c,d\n1,2,3,4\n", Roles.Analyst);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string detail = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!;
        Assert.Contains("tabular", detail, StringComparison.Ordinal);
        Assert.Contains("x FP32 [-1,4], y FP32 [-1,4]", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_pipelines_and_anonymous_callers_are_refused()
    {
        await ApplyLiveAsync(TabularSpec("pl-batch-auth"));
        const string csv = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n";
        Assert.Equal(HttpStatusCode.NotFound, (await PostBatchAsync("pl-batch-no-such", csv, Roles.Analyst)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostBatchAsync("pl-batch-auth", csv, role: null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostBatchAsync("pl-batch-auth", "sepal_length,sepal_width\n5.1,3.5\n", Roles.Analyst)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostBatchAsync("pl-batch-auth", csv, Roles.Analyst)).StatusCode);
    }

    /// <summary>Deploys iris (once) and applies <paramref name="spec"/> as a researcher, then waits until the pipeline is live.</summary>
    private async Task ApplyLiveAsync(string spec)
    {
        await cluster.EnsureReadyAsync(Model, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        var applied = await researcher.PostAsync("/api/pipelines", new StringContent(spec, System.Text.Encoding.UTF8, "application/yaml"));
        Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
        string name = (await applied.Content.ReadFromJsonAsync<PipelineApplyResult>())!.Name;
        await Eventually.TrueAsync(async () => (await researcher.GetAsync($"/v2/pipelines/{name}/ready")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(30), $"pipeline {name} to go live");
    }

    private Task<HttpResponseMessage> PostBatchAsync(string pipeline, string csv, string? role, string? labelColumn = null) =>
        cluster.PostFileAsync($"/api/pipelines/{pipeline}/batches", System.Text.Encoding.UTF8.GetBytes(csv), "rows.csv",
            labelColumn is null ? null : new Dictionary<string, string> { ["labelColumn"] = labelColumn }, role);
}
