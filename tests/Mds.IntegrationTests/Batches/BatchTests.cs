using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Microsoft.ML.OnnxRuntime;

namespace Mds.IntegrationTests.Batches;

/// <summary>Batch predictions: a CSV scored by a real model on a real worker, small files at once, large ones as a Hangfire job.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchTests(MdsCluster cluster)
{
    private static readonly string IrisCsv = Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv");

    [Fact]
    public async Task A_small_csv_is_scored_at_once_with_the_same_answers_as_onnx_runtime_and_a_summary_against_the_label()
    {
        await cluster.EnsureReadyAsync("batch-iris", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        string[] lines = (await File.ReadAllTextAsync(IrisCsv)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string csv = string.Join('\n', lines.Take(31)) + "\n";
        var response = await PostBatchAsync("batch-iris", csv, Roles.Analyst);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal((BatchStates.Succeeded, 30, 30, "species"), (batch.State, batch.TotalRows, batch.DoneRows, batch.LabelColumn));
        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), batch.CreatedBy);
        Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width", "species", "predicted", "PredictedLabel"], batch.Columns.Take(7));
        Assert.Equal(["Score[setosa]", "Score[versicolor]", "Score[virginica]"], batch.Columns.Skip(7).Order(StringComparer.Ordinal));

        // The predictions are ONNX Runtime's own, row by row.
        var features = lines.Skip(1).Take(30).SelectMany(l => l.Split(',').Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))).ToArray();
        string[] expected = PredictLocally(await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")), features, 30);
        string[] truth = [.. lines.Skip(1).Take(30).Select(l => l.Split(',')[4].Trim())];
        int matches = expected.Zip(truth).Count(p => p.First == p.Second);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{matches} of 30 rows ({100.0 * matches / 30:0.0} %) match the label column 'species'"), batch.Summary);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string download = await analyst.GetStringAsync($"/api/batches/{batch.Id}/result.csv");
        string[] result = download.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(31, result.Length);
        Assert.Equal(string.Join(',', batch.Columns), result[0]);
        for (int r = 0; r < 30; r++)
        {
            string[] cells = result[r + 1].Split(',');
            Assert.Equal(lines[r + 1].Trim().Split(','), cells.Take(5));
            Assert.Equal(expected[r], cells[5]);
            Assert.Equal(expected[r], cells[6]);
            double sum = cells.Skip(7).Sum(c => double.Parse(c, CultureInfo.InvariantCulture));
            Assert.InRange(sum, 0.99, 1.01); // class probabilities
        }

        var page = (await analyst.GetFromJsonAsync<BatchRowsDto>($"/api/batches/{batch.Id}/rows?offset=10&limit=5"))!;
        Assert.Equal((10, 30, 5), (page.Offset, page.Total, page.Rows.Count));
        Assert.Equal(result[11].Split(','), page.Rows[0]);
        Assert.Equal(result[15].Split(','), page.Rows[4]);

        // Listed for its owner, hidden from other non-admins, visible to admins.
        var mine = (await analyst.GetFromJsonAsync<List<BatchDto>>("/api/batches?model=batch-iris"))!;
        Assert.Contains(mine, b => b.Id == batch.Id);
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.NotFound, (await researcher.GetAsync($"/api/batches/{batch.Id}")).StatusCode);
        Assert.DoesNotContain((await researcher.GetFromJsonAsync<List<BatchDto>>("/api/batches"))!, b => b.Id == batch.Id);
        using var admin = await cluster.ClientAsync(Roles.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/batches/{batch.Id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await analyst.DeleteAsync($"/api/batches/{batch.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/batches/{batch.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/batches/{batch.Id}/result.csv")).StatusCode);
    }

    [Fact]
    public async Task A_large_csv_becomes_a_job_whose_progress_ends_in_every_row_scored()
    {
        await cluster.EnsureReadyAsync("batch-iris-large", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        string csv = await File.ReadAllTextAsync(IrisCsv); // 150 rows, more than the cluster's synchronous limit of 100
        Assert.True(150 > MdsCluster.BatchSyncMaxRows);
        var response = await PostBatchAsync("batch-iris-large", csv, Roles.Researcher);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var queued = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal((150, "species"), (queued.TotalRows, queued.LabelColumn));
        Assert.Equal($"/api/batches/{queued.Id}", response.Headers.Location!.OriginalString);

        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        BatchDto? last = null;
        await Eventually.TrueAsync(async () =>
        {
            last = await researcher.GetFromJsonAsync<BatchDto>($"/api/batches/{queued.Id}");
            Assert.NotEqual(BatchStates.Failed, last!.State);
            return last.State == BatchStates.Succeeded;
        }, TimeSpan.FromSeconds(60), $"batch {queued.Id} to succeed (last: {last?.State} {last?.DoneRows}/{last?.TotalRows} {last?.Error})");

        Assert.Equal(150, last!.DoneRows);
        Assert.NotNull(last.StartedAt);
        Assert.NotNull(last.FinishedAt);
        Assert.Matches("^[0-9]+ of 150 rows", last.Summary!);
        string download = await researcher.GetStringAsync($"/api/batches/{queued.Id}/result.csv");
        Assert.Equal(151, download.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task A_regressor_with_a_label_column_reports_its_error_and_the_predicted_values()
    {
        await cluster.EnsureReadyAsync("batch-linear", TestGraphs.Linear([1f, 2f], 0.5f));
        var response = await PostBatchAsync("batch-linear", "a,b,y\n1,2,5.5\n3,4,11.5\n\"10\",0,11\n", Roles.Analyst);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal(["a", "b", "y", "y (predicted)"], batch.Columns);
        Assert.Equal("Against the label column 'y' over 3 rows: mean absolute error 0.1667, root mean squared error 0.2887", batch.Summary);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var rows = (await analyst.GetFromJsonAsync<BatchRowsDto>($"/api/batches/{batch.Id}/rows"))!;
        Assert.Equal(["5.5", "11.5", "10.5"], rows.Rows.Select(r => r[3]));
    }

    [Theory]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,wide,0.2\n", "row 1, column 'petal_length'")]
    [InlineData("sepal_length,sepal_width,petal_width\n5.1,3.5,0.2\n", "petal_length")]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width\n", "no data rows")]
    public async Task A_csv_that_does_not_fit_the_model_is_refused_with_the_reason_and_nothing_is_kept(string csv, string mentioned)
    {
        await cluster.EnsureReadyAsync("batch-iris-bad", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        int before = (await analyst.GetFromJsonAsync<List<BatchDto>>("/api/batches?model=batch-iris-bad"))!.Count;
        var response = await PostBatchAsync("batch-iris-bad", csv, Roles.Analyst);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(mentioned, (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
        Assert.Equal(before, (await analyst.GetFromJsonAsync<List<BatchDto>>("/api/batches?model=batch-iris-bad"))!.Count);
    }

    [Fact]
    public async Task Unknown_models_versions_and_missing_files_get_clear_errors()
    {
        await cluster.EnsureReadyAsync("batch-iris-bad", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        const string csv = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n";
        Assert.Equal(HttpStatusCode.NotFound, (await PostBatchAsync("no-such-model", csv, Roles.Analyst)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostBatchAsync("batch-iris-bad", csv, Roles.Analyst, version: "99")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostBatchAsync("batch-iris-bad", csv, Roles.Analyst, version: "one")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostBatchAsync("batch-iris-bad", "", Roles.Analyst)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostBatchAsync("batch-iris-bad", csv, role: null)).StatusCode);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync("/api/batches/987654321")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync("/api/batches/987654321/rows")).StatusCode);
    }

    [Fact]
    public async Task A_version_nothing_can_serve_is_refused_at_upload_with_the_reason()
    {
        var uploaded = await cluster.UploadAsync("batch-needs-gpu", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,gpu" });
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        var response = await PostBatchAsync("batch-needs-gpu", "x\n1\n", Roles.Analyst);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("gpu", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> PostBatchAsync(string model, string csv, string? role, string? version = null) =>
        cluster.PostFileAsync($"/api/models/{model}/batches", System.Text.Encoding.UTF8.GetBytes(csv), "rows.csv",
            version is null ? null : new Dictionary<string, string> { ["version"] = version }, role);

    private static string[] PredictLocally(byte[] onnx, float[] rows, int count)
    {
        using var session = new InferenceSession(onnx);
        using var input = OrtValue.CreateTensorValueFromMemory(rows, [count, 4]);
        using var outputs = session.Run(new RunOptions(), ["Features"], [input], ["PredictedLabel"]);
        return [.. outputs[0].GetStringTensorAsArray()];
    }
}
