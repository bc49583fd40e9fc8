using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.IntegrationTests.Monitoring;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Gateway;

/// <summary>
/// An MDS with small operational limits (one explanation at a time and no queue, three stored batches per user) that
/// notices dead workers within 3 s. Tests that need workers of their own give them a capability no other test uses.
/// </summary>
public sealed class LimitsClusterFixture : IAsyncLifetime
{
    public const int MaxStoredBatches = 3;

    public MdsCluster Cluster { get; } = new()
    {
        BackendSettings = new Dictionary<string, string>
        {
            ["Mds__Explanations__MaxConcurrent"] = "1",
            ["Mds__Explanations__MaxQueued"] = "0",
            ["Mds__Batch__MaxStoredPerUser"] = MaxStoredBatches.ToString(CultureInfo.InvariantCulture),
            ["Mds__Scheduler__HeartbeatInterval"] = "00:00:01",
            ["Mds__Scheduler__HeartbeatTimeout"] = "00:00:03",
        },
    };

    public Task InitializeAsync() => Cluster.InitializeAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class LimitsCollection : ICollectionFixture<LimitsClusterFixture>
{
    public const string Name = "limits";
}

/// <summary>Bounded work and no crash from input: each test is named after the threat it closes.</summary>
[Collection(LimitsCollection.Name)]
public sealed class OperationalLimitsTests(LimitsClusterFixture fixture)
{
    private MdsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_flood_of_explanation_requests_gets_429_with_Retry_After_not_a_stalled_backend()
    {
        await DriftTests.DeployWithReferenceAsync(Cluster, "flooded", seed: 3);
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);

        var started = DateTimeOffset.UtcNow;
        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            analyst.PostAsJsonAsync("/api/models/flooded/versions/1/explain", new FeatureRowsDto([[0.1 * i, 5, 1]]))));

        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, r.StatusCode.ToString()));
        var first = refused[0];
        Assert.Equal(TimeSpan.FromSeconds(1), first.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", first.Content.Headers.ContentType?.MediaType);
        Assert.Contains("explanation", (string)(await first.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(30), "the flood was answered, not queued without end");

        // The slot is free again afterwards.
        var after = await analyst.PostAsJsonAsync("/api/models/flooded/versions/1/explain", new FeatureRowsDto([[1, 5, 1]]));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_deleted_version_s_number_is_not_reused()
    {
        const string model = "numbered";
        for (int v = 1; v <= 2; v++)
        {
            var upload = await Cluster.UploadAsync(model, TestGraphs.Linear([v], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,nowhere" });
            Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        }

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.NoContent, (await researcher.DeleteAsync($"/api/models/{model}/versions/2")).StatusCode);

        var again = await Cluster.UploadAsync(model, TestGraphs.Linear([7f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,nowhere" });
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal(3, (await again.Content.ReadFromJsonAsync<ModelVersionDto>())!.Version);
        Assert.Equal(HttpStatusCode.NotFound, (await researcher.GetAsync($"/api/models/{model}/versions/2")).StatusCode);
    }

    [Fact]
    public async Task A_worker_refuses_an_artifact_whose_bytes_do_not_match_its_SHA_256()
    {
        // Stored while no worker can take it; then its bytes are changed on the backend's disk.
        var upload = await Cluster.UploadAsync("tampered", TestGraphs.Linear([1f, 2f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,tamper" });
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var version = (await upload.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        string stored = Path.Combine(Cluster.BackendDataDirectory, "artifacts", version.Sha256 + ".onnx");
        byte[] bytes = await File.ReadAllBytesAsync(stored);
        bytes[^1] ^= 0x5a;
        await File.WriteAllBytesAsync(stored, bytes);

        var worker = await Cluster.StartWorkerAsync("tamper-w", capabilities: "onnx,tamper");
        try
        {
            using var analyst = await Cluster.ClientAsync(Roles.Analyst);
            string last = "";
            var refused = Eventually.TrueAsync(async () =>
            {
                last = await analyst.GetStringAsync("/api/models/tampered/versions/1");
                var seen = JsonNode.Parse(last)!["replicaStates"]!.AsArray();
                return seen.Any(r => (string?)r!["error"] is { } e && e.Contains("corrupt", StringComparison.Ordinal) && e.Contains(version.Sha256, StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(60), "the worker to refuse the artifact");
            await refused.ContinueWith(_ => { }, TaskScheduler.Default);
            Assert.True(refused.IsCompletedSuccessfully, "no refusal; last: " + last + "\n" + worker.OutputTail);
            Assert.DoesNotContain("\"state\":\"Ready\"", last, StringComparison.Ordinal);
            var infer = await analyst.PostAsync("/v2/models/tampered/infer", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 1f }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, infer.StatusCode);
        }
        finally
        {
            await Cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task A_formula_in_a_CSV_cell_is_escaped_in_the_result()
    {
        await Cluster.EnsureReadyAsync("csv-linear", TestGraphs.Linear([1f, 2f], 0.5f));
        const string csv = "a,b,note\n1,2,=HYPERLINK(\"http://evil\")\n-1.5,3,@SUM(A1)\n2,-0.25,+cmd|' /C calc'!A0\n";
        var response = await Cluster.PostFileAsync("/api/models/csv-linear/batches", Encoding.UTF8.GetBytes(csv), "rows.csv",
            new Dictionary<string, string> { ["labelColumn"] = "note" }, Roles.Researcher);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        string[] lines = (await researcher.GetStringAsync($"/api/batches/{batch.Id}/result.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1,2,\"'=HYPERLINK(\"\"http://evil\"\")\",5.5", lines[1]);
        Assert.Equal("-1.5,3,\"'@SUM(A1)\",5", lines[2]); // a negative number stays a number
        Assert.Equal("2,-0.25,\"'+cmd|' /C calc'!A0\",2", lines[3]);
    }

    [Fact]
    public async Task A_user_over_the_batch_quota_is_refused_with_409_and_the_reason()
    {
        await Cluster.EnsureReadyAsync("quota-linear", TestGraphs.Linear([1f], 0f));
        byte[] csv = Encoding.UTF8.GetBytes("x\n1\n2\n");
        for (int i = 0; i < LimitsClusterFixture.MaxStoredBatches; i++)
        {
            var ok = await Cluster.PostFileAsync("/api/models/quota-linear/batches", csv, "rows.csv", null, Roles.Analyst);
            Assert.True(ok.StatusCode == HttpStatusCode.Created, await ok.Content.ReadAsStringAsync());
        }

        var refused = await Cluster.PostFileAsync("/api/models/quota-linear/batches", csv, "rows.csv", null, Roles.Analyst);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        string detail = (string)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!;
        Assert.Contains($"({LimitsClusterFixture.MaxStoredBatches})", detail, StringComparison.Ordinal);

        // Deleting one makes room.
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        var mine = (await analyst.GetFromJsonAsync<List<BatchDto>>("/api/batches?model=quota-linear"))!;
        Assert.Equal(HttpStatusCode.NoContent, (await analyst.DeleteAsync($"/api/batches/{mine[0].Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Cluster.PostFileAsync("/api/models/quota-linear/batches", csv, "rows.csv", null, Roles.Analyst)).StatusCode);
    }

    [Fact]
    public async Task Deep_paging_without_a_cursor_is_refused_and_with_a_cursor_it_works()
    {
        await Cluster.EnsureReadyAsync("paged", TestGraphs.Linear([1f], 0f));
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        for (int i = 0; i < 5; i++)
        {
            var r = await analyst.PostAsync("/v2/models/paged/infer", V2Json.Request("x", [1, 1], "FP32", new[] { (float)i }));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        await Eventually.TrueAsync(async () =>
            (await analyst.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?model=paged&take=10"))!.Records.Count == 5,
            TimeSpan.FromSeconds(20), "the five records");

        var deep = await analyst.GetAsync("/api/records?model=paged&skip=10001");
        Assert.Equal(HttpStatusCode.BadRequest, deep.StatusCode);
        Assert.Contains("'before'", await deep.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var all = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?model=paged&take=10"))!.Records;
        var paged = new List<InferenceRecordSummaryDto>();
        string? cursor = null;
        do
        {
            var page = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>(
                "/api/records?model=paged&take=2" + (cursor is null ? "" : "&before=" + Uri.EscapeDataString(cursor))))!;
            paged.AddRange(page.Records);
            Assert.Equal(page.HasMore, page.NextCursor is not null);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(all.Select(r => r.Id), paged.Select(r => r.Id));
        Assert.Equal(HttpStatusCode.BadRequest, (await analyst.GetAsync("/api/records?before=not-a-cursor")).StatusCode);
    }

    [Fact]
    public async Task A_run_longer_than_the_worker_s_inference_timeout_is_stopped_with_504()
    {
        var worker = await Cluster.StartWorkerAsync("timeout-w", capabilities: "onnx,timeout",
            settings: new Dictionary<string, string> { ["Mds__Worker__InferenceTimeout"] = "00:00:01" });
        try
        {
            // About 0.4 ms a row here: 20,000 rows take seconds on any machine, far past the 1 s limit.
            await Cluster.DeployAsync("too-slow", TestGraphs.Slow(512, 64), new Dictionary<string, string> { ["requirements"] = "onnx,timeout" });
            using var analyst = await Cluster.ClientAsync(Roles.Analyst);
            float[] rows = new float[20_000];
            var started = DateTimeOffset.UtcNow;
            var response = await analyst.PostAsync("/v2/models/too-slow/infer", V2Json.Request("x", [rows.Length, 1], "FP32", rows));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.GatewayTimeout, $"{(int)response.StatusCode} {body}");
            Assert.Contains("did not finish within 1 s", body, StringComparison.Ordinal);
            Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(15), "stopped near the timeout");

            // The worker is still serving.
            var small = await analyst.PostAsync("/v2/models/too-slow/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 2f }));
            Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        }
        finally
        {
            await Cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task A_request_that_kills_a_worker_is_resent_once_and_one_that_kills_two_is_refused_without_being_sent()
    {
        var workers = new[]
        {
            await Cluster.StartWorkerAsync("kill-a", capabilities: "onnx,killtest"),
            await Cluster.StartWorkerAsync("kill-b", capabilities: "onnx,killtest"),
            await Cluster.StartWorkerAsync("kill-c", capabilities: "onnx,killtest"),
        };
        try
        {
            await Cluster.DeployAsync("killer", TestGraphs.Slow(256, 32),
                new Dictionary<string, string> { ["requirements"] = "onnx,killtest", ["replicas"] = "2" });
            using var admin = await Cluster.ClientAsync(Roles.Admin);
            await Eventually.TrueAsync(async () => (await ReadyOnAsync(admin)).Count == 2, TimeSpan.FromSeconds(60), "two Ready replicas");

            // A request that runs for many seconds; the worker running it is killed while it runs, then the worker the
            // gateway resent it to, while it runs there.
            using var analyst = await Cluster.ClientAsync(Roles.Analyst);
            analyst.Timeout = TimeSpan.FromSeconds(120);
            float[] rows = new float[40_000];
            var call = analyst.SendAsync(Infer(rows, "killer-" + Guid.NewGuid().ToString("N")));
            var firstVictim = await KillBusyAsync(admin, workers, except: null, call);
            var secondVictim = await KillBusyAsync(admin, workers, except: firstVictim, call); // the resend, on the other replica

            var response = await call;
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadGateway, $"{(int)response.StatusCode} {body}");
            Assert.Contains($"replica on worker '{secondVictim}' lost the connection after the request was sent", body, StringComparison.Ordinal);
            Assert.Contains("has now stopped a worker twice within 10 min, so it was not sent again", body, StringComparison.Ordinal);

            // Once both are offline the spare gets a replica; the same input is refused without being sent to it.
            string spare = workers.Select(w => w.Name).Single(n => n != firstVictim && n != secondVictim);
            await Eventually.TrueAsync(async () => (await ReadyOnAsync(admin)).SequenceEqual([spare]), TimeSpan.FromSeconds(60), "a Ready replica on the spare worker");
            string refusedId = "killer-" + Guid.NewGuid().ToString("N");
            using var refused = await analyst.SendAsync(Infer(rows, refusedId));
            string refusal = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.BadGateway, $"{(int)refused.StatusCode} {refusal}");
            Assert.Contains("this request's input stopped a worker twice within 10 min", refusal, StringComparison.Ordinal);
            Assert.Contains("it is refused without being sent", refusal, StringComparison.Ordinal);

            // Another input goes through on the spare; the refused one left no record there.
            using var other = await analyst.SendAsync(Infer(new float[4], "killer-" + Guid.NewGuid().ToString("N")));
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            await Task.Delay(TimeSpan.FromSeconds(3)); // longer than the audit writer's flush
            var records = (await admin.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={refusedId}"))!;
            Assert.Empty(records.Records);
        }
        finally
        {
            foreach (var worker in workers)
            {
                await Cluster.StopWorkerAsync(worker);
            }
        }

        static HttpRequestMessage Infer(float[] rows, string requestId)
        {
            var message = new HttpRequestMessage(HttpMethod.Post, "/v2/models/killer/infer") { Content = V2Json.Request("x", [rows.Length, 1], "FP32", rows) };
            message.Headers.Add(MdsHeaders.RequestId, requestId);
            return message;
        }

        static async Task<List<string>> ReadyOnAsync(HttpClient admin)
        {
            var v = (await admin.GetFromJsonAsync<ModelVersionDto>("/api/models/killer/versions/1"))!;
            return [.. v.ReplicaStates.Where(r => r.State == ReplicaStates.Ready).Select(r => r.WorkerName)];
        }
    }

    /// <summary>Kills the worker (of <paramref name="workers"/>, other than <paramref name="except"/>) that runs a request; returns its name.</summary>
    private static async Task<string> KillBusyAsync(HttpClient admin, ServiceProcess[] workers, string? except, Task call)
    {
        WorkerDto? busy = null;
        await Eventually.TrueAsync(async () =>
        {
            var listed = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
            busy = listed.FirstOrDefault(w => w.Name != except && workers.Any(p => p.Name == w.Name) && w.InFlight > 0);
            return busy is not null || call.IsCompleted;
        }, TimeSpan.FromSeconds(30), "a worker running the request");
        Assert.False(call.IsCompleted, $"the request finished before its worker could be killed; make it slower: {(call.IsCompletedSuccessfully ? await ((Task<HttpResponseMessage>)call).Result.Content.ReadAsStringAsync() : "")}");
        workers.Single(w => w.Name == busy!.Name).Kill();
        return busy!.Name;
    }
}
