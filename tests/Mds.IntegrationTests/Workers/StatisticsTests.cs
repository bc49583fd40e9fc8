using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Workers;

/// <summary>The statistics extension on a worker: counts and times move by exactly the requests made.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StatisticsTests(MdsCluster cluster)
{
    [Fact]
    public async Task A_worker_s_statistics_count_the_requests_rows_and_failures_it_served()
    {
        const string model = "worker-statistics"; // not "stats-linear": MonitoringTests has that name, with another graph
        await cluster.EnsureReadyAsync(model, TestGraphs.Linear([2f, 1f], 0f));
        var worker = await WorkerServingAsync(model);
        using var direct = await cluster.WorkerClientAsync(worker);
        var before = await StatsAsync(direct, $"/v2/models/{model}/versions/1/stats");

        for (int i = 0; i < 5; i++)
        {
            var ok = await direct.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [3, 2], "FP32", new float[] { 1, 2, 3, 4, 5, 6 }));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        var bad = await direct.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [1, 3], "FP32", new float[] { 1, 2, 3 }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var after = await StatsAsync(direct, $"/v2/models/{model}/versions/1/stats");
        Assert.Equal((model, "1"), (after.Name, after.Version));
        Assert.Equal(5, after.ExecutionCount - before.ExecutionCount);
        Assert.Equal(15, after.InferenceCount - before.InferenceCount); // 5 requests × 3 rows
        Assert.Equal(5, after.InferenceStats.Success.Count - before.InferenceStats.Success.Count);
        Assert.Equal(1, after.InferenceStats.Fail.Count - before.InferenceStats.Fail.Count);
        Assert.Equal(5, after.InferenceStats.ComputeInfer.Count - before.InferenceStats.ComputeInfer.Count);
        Assert.True(after.InferenceStats.ComputeInfer.Ns > before.InferenceStats.ComputeInfer.Ns);
        Assert.True(after.InferenceStats.Success.Ns >= after.InferenceStats.ComputeInfer.Ns);
        Assert.True(after.InferenceStats.Fail.Ns > 0);
        Assert.InRange(after.LastInference, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeMilliseconds());

        // The bare name and the list of every loaded model give the same entry.
        Assert.Equal(after.ExecutionCount, (await StatsAsync(direct, $"/v2/models/{model}/stats")).ExecutionCount);
        var all = (await direct.GetFromJsonAsync<ModelStatisticsResponse>("/v2/models/stats"))!;
        Assert.Equal(after.ExecutionCount, all.ModelStats.Single(s => s.Name == model).ExecutionCount);
        var metadata = await direct.GetFromJsonAsync<ServerMetadata>("/v2");
        Assert.Contains("statistics", metadata!.Extensions);

        var unknown = await direct.GetAsync("/v2/models/no-such-model/stats");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("not loaded on this worker", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<Uri> WorkerServingAsync(string model)
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        string name = version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName;
        return new Uri(workers.Single(w => w.Name == name).RestUrl);
    }

    private static async Task<ModelStatistics> StatsAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ModelStatisticsResponse>())!.ModelStats.Single();
    }
}
