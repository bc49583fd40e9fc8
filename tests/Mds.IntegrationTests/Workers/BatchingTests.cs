using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Workers;

/// <summary>
/// Adaptive batching set through the registry API reaches the worker holding the version, which then joins
/// concurrent requests into fewer ONNX Runtime runs without changing any answer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchingTests(MdsCluster cluster)
{
    private static readonly TimeSpan Applied = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Batching_turned_on_through_the_API_joins_concurrent_requests_and_every_answer_equals_a_single_call()
    {
        const string model = "batching-linear";
        await cluster.EnsureReadyAsync(model, TestGraphs.Linear([2f, -1f, 0.5f], 1f));
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        var worker = await WorkerServingAsync(researcher, model);
        using var direct = await cluster.WorkerClientAsync(worker);
        var bodies = Enumerable.Range(0, 32)
            .Select(i => V2Json.Request("x", [2, 3], "FP32", new[] { i, 0.5f * i, -i, 1f, -2f, 0.25f * i }))
            .ToArray();
        var expected = new List<string>();
        foreach (var body in bodies)
        {
            expected.Add(await OutputOfAsync(await direct.PostAsync($"/v2/models/{model}/infer", body)));
        }

        var on = await researcher.PutAsJsonAsync($"/api/models/{model}/versions/1/batching", new BatchingDto(true, 16, 200_000));
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        Assert.Equal(new BatchingDto(true, 16, 200_000), (await on.Content.ReadFromJsonAsync<ModelVersionDto>())!.Batching);
        await Eventually.TrueAsync(async () => (await ConfigAsync(direct, model)).DynamicBatching?.MaxQueueDelayMicroseconds == 200_000, Applied,
            "the worker to batch with the new settings");
        var config = await ConfigAsync(direct, model);
        Assert.Equal(16, config.MaxBatchSize);
        Assert.Null(config.NotBatchable);

        var before = await StatsAsync(direct, model);
        var answers = await Task.WhenAll(bodies.Select(async body => await OutputOfAsync(await direct.PostAsync($"/v2/models/{model}/infer", body))));
        var after = await StatsAsync(direct, model);

        Assert.Equal(expected, answers);
        Assert.Equal(32, after.InferenceStats.Success.Count - before.InferenceStats.Success.Count);
        Assert.Equal(64, after.InferenceCount - before.InferenceCount);
        Assert.InRange(after.ExecutionCount - before.ExecutionCount, 1, 31); // fewer runs than requests

        var off = await researcher.PutAsJsonAsync($"/api/models/{model}/versions/1/batching", new BatchingDto(false, 0, 0));
        Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        Assert.Null((await off.Content.ReadFromJsonAsync<ModelVersionDto>())!.Batching);
        await Eventually.TrueAsync(async () => (await ConfigAsync(direct, model)).DynamicBatching is null, Applied, "the worker to stop batching");
        Assert.Equal(expected[5], await OutputOfAsync(await direct.PostAsync($"/v2/models/{model}/infer", bodies[5])));
    }

    [Fact]
    public async Task Batching_settings_that_cannot_work_are_refused_with_the_reason()
    {
        const string linear = "batching-refusals";
        const string fixedShape = "batching-fixed-shape";
        await cluster.EnsureReadyAsync(linear, TestGraphs.Linear([1f], 0f));
        await cluster.EnsureReadyAsync(fixedShape, TestGraphs.Identity(TensorDatatype.Fp32, 2, 3));
        using var researcher = await cluster.ClientAsync(Roles.Researcher);

        await RefusedAsync(researcher, linear, new BatchingDto(true, 1, 0), HttpStatusCode.BadRequest, "maxBatchSize must be between 2 and 4096 (got 1)");
        await RefusedAsync(researcher, linear, new BatchingDto(true, 8, 2_000_000), HttpStatusCode.BadRequest, "maxLatencyMicroseconds must be between 0 and 1000000");
        await RefusedAsync(researcher, fixedShape, new BatchingDto(true, 8, 0), HttpStatusCode.BadRequest,
            "cannot batch requests: input 'input' has no free first (batch) dimension");
        await RefusedAsync(researcher, "batching-no-such-model", new BatchingDto(true, 8, 0), HttpStatusCode.NotFound, "has no version 1");

        var notJson = await researcher.PutAsync($"/api/models/{linear}/versions/1/batching", new StringContent("{\"enabled\": \"yes\"", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var forbidden = await analyst.PutAsJsonAsync($"/api/models/{linear}/versions/1/batching", new BatchingDto(true, 8, 0));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        // Nothing was stored.
        var version = (await researcher.GetFromJsonAsync<ModelVersionDto>($"/api/models/{linear}/versions/1"))!;
        Assert.Null(version.Batching);
    }

    private static async Task RefusedAsync(HttpClient client, string model, BatchingDto body, HttpStatusCode status, string reason)
    {
        var response = await client.PutAsJsonAsync($"/api/models/{model}/versions/1/batching", body);
        Assert.Equal(status, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The response's outputs, as JSON text (the whole answer but its request id).</summary>
    private static async Task<string> OutputOfAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("outputs").GetRawText();
    }

    private static async Task<ModelConfig> ConfigAsync(HttpClient worker, string model) =>
        (await worker.GetFromJsonAsync<ModelConfig>($"/v2/models/{model}/versions/1/config"))!;

    private static async Task<ModelStatistics> StatsAsync(HttpClient worker, string model) =>
        (await worker.GetFromJsonAsync<ModelStatisticsResponse>($"/v2/models/{model}/versions/1/stats"))!.ModelStats.Single();

    private static async Task<Uri> WorkerServingAsync(HttpClient client, string model)
    {
        var version = (await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
        var workers = (await client.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        string name = version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName;
        return new Uri(workers.Single(w => w.Name == name).RestUrl);
    }
}
