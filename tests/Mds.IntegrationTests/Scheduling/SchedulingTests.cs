using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Xunit.Abstractions;

namespace Mds.IntegrationTests.Scheduling;

/// <summary>An MDS that notices a dead worker within 3 s, autoscales on short windows, and starts with no workers: each test brings its own.</summary>
public sealed class SchedulingClusterFixture : IAsyncLifetime
{
    public MdsCluster Cluster { get; } = new()
    {
        InitialWorkers = 0,
        BackendSettings = new Dictionary<string, string>
        {
            ["Mds__Scheduler__HeartbeatInterval"] = "00:00:01",
            ["Mds__Scheduler__HeartbeatTimeout"] = "00:00:03",
            // Short autoscaling windows, for AutoscalingTests.
            ["Mds__Scheduler__ScaleUpAfter"] = "00:00:03",
            ["Mds__Scheduler__ScaleCooldown"] = "00:00:03",
            ["Mds__Scheduler__ScaleDownAfter"] = "00:00:08",
        },
    };

    public Task InitializeAsync() => Cluster.InitializeAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SchedulingCollection : ICollectionFixture<SchedulingClusterFixture>
{
    public const string Name = "scheduling";
}

/// <summary>
/// Placement by capability, spread, failover after SIGKILL, drain and scaling — with real worker processes, and
/// clients sending requests through the gateway the whole time. Each test uses its own capability tag, so the
/// workers of one test never take another test's models, and stops its workers when it ends, so no more than three
/// run at a time on the shared cores.
/// </summary>
[Collection(SchedulingCollection.Name)]
public sealed class SchedulingTests(SchedulingClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly float[] X = [1f, 2f];
    private readonly List<ServiceProcess> _workers = [];
    private MdsCluster Cluster => fixture.Cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => Task.WhenAll(_workers.Select(Cluster.StopWorkerAsync));

    [Fact]
    public async Task Gpu_model_lands_only_on_the_gpu_worker_and_two_replicas_on_two_workers()
    {
        var cpuOnly = new[] { await StartWorkerAsync("cap-a", "onnx,cpu,cap"), await StartWorkerAsync("cap-b", "onnx,cpu,cap") };
        await StartWorkerAsync("cap-gpu", "onnx,cpu,gpu,cap");

        var gpu = await Cluster.DeployAsync("cap-gpu-model", TestGraphs.Linear([1f, 1f], 0f), Fields("onnx,gpu,cap"));
        Assert.Equal("cap-gpu", Assert.Single(gpu.ReplicaStates).WorkerName);

        await Cluster.DeployAsync("cap-spread", TestGraphs.Linear([1f, 1f], 0f), Fields("onnx,cap", replicas: 2));
        var spread = await WaitForReadyReplicasAsync("cap-spread", 2, TimeSpan.FromSeconds(30));
        Assert.Equal(2, spread.Select(r => r.WorkerName).Distinct().Count());

        // some reconciler passes later, the gpu model is still only on the gpu worker, and the others never loaded it
        Assert.Equal("cap-gpu", Assert.Single((await VersionAsync("cap-gpu-model")).ReplicaStates).WorkerName);
        foreach (var w in cpuOnly)
        {
            using var direct = await Cluster.WorkerClientAsync(w.Url);
            Assert.Equal(HttpStatusCode.NotFound, (await direct.GetAsync("/v2/models/cap-gpu-model/versions/1/ready")).StatusCode);
        }
    }

    [Fact]
    public async Task Killing_a_worker_fails_no_request_whose_answer_had_not_begun_and_its_replica_is_placed_again_within_10_seconds()
    {
        var workers = new[]
        {
            await StartWorkerAsync("fo-1", "onnx,cpu,fo"),
            await StartWorkerAsync("fo-2", "onnx,cpu,fo"),
            await StartWorkerAsync("fo-3", "onnx,cpu,fo"),
        };
        await Cluster.DeployAsync("fo-model", TestGraphs.Linear([2f, 3f], 1f), Fields("onnx,fo", replicas: 2));
        var before = await WaitForReadyReplicasAsync("fo-model", 2, TimeSpan.FromSeconds(30));
        var victim = workers.First(w => before.Any(r => r.WorkerName == w.Name));
        var spare = workers.Single(w => before.All(r => r.WorkerName != w.Name));

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await using var load = LoadGenerator.Start(client, "fo-model", X, expectedY: 9f);
        await Task.Delay(1000);

        var clock = Stopwatch.StartNew();
        victim.Kill();
        var after = await WaitForReadyReplicasAsync("fo-model", 2, TimeSpan.FromSeconds(30), mustInclude: spare.Name);
        var replaced = clock.Elapsed;
        await Task.Delay(1000); // keep sending against the new pair for a moment
        await load.StopAsync();

        output.WriteLine($"re-placed on {spare.Name} and Ready {replaced.TotalSeconds:F1} s after SIGKILL of {victim.Name}; {load.Succeeded} requests succeeded, {load.Failures.Count} failed");
        // A request the victim was running when it died is resent once to the other replica (ReplicaCallPolicy), and
        // those refused a connection go there too: none fails, unless the victim died while its answer was already
        // streaming through the gateway, whose status line had gone out (the caller's response is cut off).
        Assert.True(load.Failures.All(f => f.Contains("Error while copying content to a stream", StringComparison.Ordinal)
                || f.Contains("response ended prematurely", StringComparison.OrdinalIgnoreCase)),
            "failed requests:\n" + string.Join('\n', load.Failures.Take(20)));
        Assert.True(load.Failures.Count <= 4, $"{load.Failures.Count} requests failed, more than were in flight");
        Assert.True(load.Succeeded > 50, $"only {load.Succeeded} requests were made");
        Assert.DoesNotContain(after, r => r.WorkerName == victim.Name);
        Assert.True(replaced < TimeSpan.FromSeconds(10), $"the lost replica took {replaced.TotalSeconds:F1} s to be Ready elsewhere");

        using var admin = await Cluster.ClientAsync(Roles.Admin);
        var listed = await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers");
        Assert.Equal(WorkerStates.Offline, listed!.Single(w => w.Name == victim.Name).State);
    }

    [Fact]
    public async Task Draining_a_worker_moves_its_models_with_no_failed_request()
    {
        var first = await StartWorkerAsync("dr-1", "onnx,cpu,dr");
        await Cluster.DeployAsync("dr-model", TestGraphs.Linear([1f, 1f], 0f), Fields("onnx,dr"));
        await StartWorkerAsync("dr-2", "onnx,cpu,dr");

        using var admin = await Cluster.ClientAsync(Roles.Admin);
        long drainedId = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Name == first.Name).Id;

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await using var load = LoadGenerator.Start(client, "dr-model", X, expectedY: 3f);
        await Task.Delay(500);

        var drain = await admin.PostAsync($"/api/workers/{drainedId}/drain", null);
        Assert.Equal(HttpStatusCode.OK, drain.StatusCode);
        Assert.Equal(WorkerStates.Draining, (await drain.Content.ReadFromJsonAsync<WorkerDto>())!.State);

        await Eventually.TrueAsync(async () =>
        {
            var replicas = (await VersionAsync("dr-model")).ReplicaStates;
            return replicas.Count == 1 && replicas[0].WorkerName == "dr-2" && replicas[0].State == ReplicaStates.Ready;
        }, TimeSpan.FromSeconds(30), "dr-model to move to dr-2");
        await Task.Delay(500);
        await load.StopAsync();

        output.WriteLine($"drain: {load.Succeeded} requests succeeded, {load.Failures.Count} failed");
        Assert.True(load.Failures.Count == 0, "failed requests:\n" + string.Join('\n', load.Failures.Take(20)));
        var drained = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Id == drainedId);
        Assert.Equal(WorkerStates.Draining, drained.State);
        Assert.Empty(drained.Replicas);
        using var direct = await Cluster.WorkerClientAsync(first.Url);
        await Eventually.TrueAsync(async () => (await direct.GetAsync("/v2/models/dr-model/versions/1/ready")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(15), "dr-1 to unload dr-model");
    }

    [Fact]
    public async Task Scaling_1_to_3_to_1_adds_and_removes_replicas_while_requests_succeed()
    {
        var workers = new[]
        {
            await StartWorkerAsync("sc-1", "onnx,cpu,sc"),
            await StartWorkerAsync("sc-2", "onnx,cpu,sc"),
            await StartWorkerAsync("sc-3", "onnx,cpu,sc"),
        };
        await Cluster.DeployAsync("sc-model", TestGraphs.Linear([1f, 2f], 0f), Fields("onnx,sc"));
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await using var load = LoadGenerator.Start(client, "sc-model", X, expectedY: 5f, clients: 2);

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        var up = await researcher.PutAsJsonAsync("/api/models/sc-model/versions/1/replicas", new ScaleRequest(3));
        Assert.Equal(HttpStatusCode.OK, up.StatusCode);
        var three = await WaitForReadyReplicasAsync("sc-model", 3, TimeSpan.FromSeconds(30));
        Assert.Equal(3, three.Select(r => r.WorkerName).Distinct().Count());

        var down = await researcher.PutAsJsonAsync("/api/models/sc-model/versions/1/replicas", new ScaleRequest(1));
        Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        await Eventually.TrueAsync(async () => (await VersionAsync("sc-model")).ReplicaStates.Count == 1, TimeSpan.FromSeconds(30), "sc-model to shrink to one replica");
        string kept = (await VersionAsync("sc-model")).ReplicaStates.Single().WorkerName;

        foreach (var w in workers.Where(w => w.Name != kept))
        {
            using var direct = await Cluster.WorkerClientAsync(w.Url);
            await Eventually.TrueAsync(async () => (await direct.GetAsync("/v2/models/sc-model/versions/1/ready")).StatusCode == HttpStatusCode.NotFound,
                TimeSpan.FromSeconds(15), $"{w.Name} to unload sc-model");
        }

        await load.StopAsync();
        Assert.True(load.Failures.Count == 0, "failed requests:\n" + string.Join('\n', load.Failures.Take(20)));
        Assert.True(load.Succeeded > 20);
    }

    [Fact]
    public async Task Scale_and_drain_reject_bad_input_and_wrong_roles()
    {
        await Cluster.UploadAsync("val-model", TestGraphs.Linear([1f], 0f), Fields("onnx,val-none"));
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        foreach (var bad in new[] { new ScaleRequest(0), new ScaleRequest(1000), new ScaleRequest(2, 3, 4), new ScaleRequest(2, 1, null) })
        {
            var response = await researcher.PutAsJsonAsync("/api/models/val-model/versions/1/replicas", bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await researcher.PutAsJsonAsync("/api/models/val-model/versions/9/replicas", new ScaleRequest(1))).StatusCode);
        var autoscale = await researcher.PutAsJsonAsync("/api/models/val-model/versions/1/replicas", new ScaleRequest(2, 1, 4));
        Assert.Equal(HttpStatusCode.OK, autoscale.StatusCode);
        var dto = (await autoscale.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        Assert.Equal((2, 1, 4), (dto.Replicas, dto.MinReplicas!.Value, dto.MaxReplicas!.Value));

        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PutAsJsonAsync("/api/models/val-model/versions/1/replicas", new ScaleRequest(1))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PostAsync("/api/workers/1/drain", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await researcher.PostAsync("/api/workers/1/drain", null)).StatusCode);
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/api/workers/999999/drain", null)).StatusCode);
    }

    [Fact]
    public async Task A_model_no_worker_can_load_shows_Failed_with_their_errors_and_is_not_retried_until_something_changes()
    {
        // Uploaded while no worker can take it, then its stored file is damaged: every worker's SHA-256 check refuses it.
        // Its bytes are its own (artifacts are content-addressed: a model other tests deploy must not share the damaged file).
        var created = await Cluster.UploadAsync("lf-model", TestGraphs.Linear([0.25f, -4.5f], 17f), Fields("onnx,lf"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string sha = (await created.Content.ReadFromJsonAsync<ModelVersionDto>())!.Sha256;
        string stored = Path.Combine(Cluster.BackendDataDirectory, "artifacts", sha + ".onnx");
        byte[] original = await File.ReadAllBytesAsync(stored);
        byte[] damaged = (byte[])original.Clone();
        damaged[^1] ^= 0xff;
        await File.WriteAllBytesAsync(stored, damaged);

        await StartWorkerAsync("lf-1", "onnx,cpu,lf");
        await StartWorkerAsync("lf-2", "onnx,cpu,lf");
        await Cluster.WaitForVersionAsync("lf-model", 1, VersionStates.Failed, TimeSpan.FromSeconds(30));
        // The version shows Failed with the first worker's error as soon as its replicas failed; the next reconcile pass
        // names every worker that failed it.
        ModelVersionDto failed = null!;
        using (var reader = await Cluster.ClientAsync(Roles.Analyst))
        {
            await Eventually.TrueAsync(async () =>
            {
                failed = (await reader.GetFromJsonAsync<ModelVersionDto>("/api/models/lf-model/versions/1"))!;
                return failed.StateReason?.StartsWith("failed to load on lf-1 and lf-2", StringComparison.Ordinal) == true;
            }, TimeSpan.FromSeconds(30), "the reason to name both workers");
        }

        Assert.Equal(VersionStates.Failed, failed.State);
        Assert.StartsWith("failed to load on lf-1 and lf-2: artifact " + sha, failed.StateReason, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(failed.StateReason!, "the download is corrupt")); // one error, said once
        var attempts = failed.ReplicaStates.Select(r => r.Id).Order().ToList();
        Assert.Equal(2, attempts.Count);

        // Reconcile passes (each scale request runs one) place nothing new: no attempt on a worker that failed it.
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await researcher.PutAsJsonAsync("/api/models/lf-model/versions/1/replicas", new ScaleRequest(1))).StatusCode);
            await Task.Delay(700);
        }

        var still = await VersionAsync("lf-model");
        Assert.Equal(VersionStates.Failed, still.State);
        Assert.Equal(attempts, still.ReplicaStates.Select(r => r.Id).Order().ToList());

        // A new worker: one attempt there, which fails the same way, and the reason names it too.
        await StartWorkerAsync("lf-3", "onnx,cpu,lf");
        await Eventually.TrueAsync(async () => (await VersionAsync("lf-model")).StateReason?.StartsWith("failed to load on lf-1, lf-2 and lf-3: ", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the third worker's attempt to fail too");
        Assert.Equal(3, (await VersionAsync("lf-model")).ReplicaStates.Count);

        // A manual retry (Researcher only) forgets the failures and places it again: with the file repaired, it loads.
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PostAsync("/api/models/lf-model/versions/1/retry", null)).StatusCode);
        await File.WriteAllBytesAsync(stored, original);
        Assert.Equal(HttpStatusCode.Accepted, (await researcher.PostAsync("/api/models/lf-model/versions/1/retry", null)).StatusCode);
        var ready = await Cluster.WaitForVersionAsync("lf-model", 1, VersionStates.Ready, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(ready.ReplicaStates, r => attempts.Contains(r.Id));
        Assert.Equal(HttpStatusCode.NotFound, (await researcher.PostAsync("/api/models/lf-model/versions/9/retry", null)).StatusCode);
    }

    [Fact]
    public async Task A_worker_takes_its_orders_when_notified_not_when_it_polls()
    {
        // The worker's fallback poll is ten minutes: only the enqueue's NOTIFY can get the load order to it in time.
        var worker = await Cluster.StartWorkerAsync("nt-1", "onnx,cpu,nt", settings: new Dictionary<string, string> { ["Mds__Jobs__QueuePollInterval"] = "00:10:00" });
        _workers.Add(worker);

        // DeployAsync waits at most 60 s for Ready: far less than the poll.
        var deployed = await Cluster.DeployAsync("nt-model", TestGraphs.Linear([1f, 1f], 0f), Fields("onnx,nt"));

        Assert.Equal("nt-1", Assert.Single(deployed.ReplicaStates).WorkerName);
    }

    [Fact]
    public async Task A_worker_with_a_malformed_queue_poll_interval_refuses_to_start_and_says_why()
    {
        await using var worker = ServiceProcess.Start("nt-bad", TestEnvironment.ServiceDll("Mds.Workers"), TestEnvironment.FreePort(), new Dictionary<string, string>
        {
            ["ConnectionStrings__Mds"] = Cluster.WorkerConnectionString,
            ["Mds__Worker__Name"] = "nt-bad",
            ["Mds__Worker__BackendUrl"] = Cluster.BackendUrl.ToString().TrimEnd('/'),
            ["Mds__Cluster__WorkerKey"] = MdsCluster.WorkerKey,
            ["Mds__Jobs__QueuePollInterval"] = "soon",
        });

        await Eventually.TrueAsync(() => Task.FromResult(worker.HasExited), TimeSpan.FromSeconds(60), "the worker to exit");
        Assert.Contains("Mds:Jobs:QueuePollInterval must be a positive time span", worker.OutputTail, StringComparison.Ordinal);
    }

    /// <summary>Starts a worker that this test stops when it ends.</summary>
    private async Task<ServiceProcess> StartWorkerAsync(string name, string capabilities)
    {
        var worker = await Cluster.StartWorkerAsync(name, capabilities);
        _workers.Add(worker);
        return worker;
    }

    private static Dictionary<string, string> Fields(string requirements, int replicas = 1) =>
        new() { ["requirements"] = requirements, ["replicas"] = replicas.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    private async Task<ModelVersionDto> VersionAsync(string model)
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        return (await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
    }

    /// <summary>Waits until exactly <paramref name="count"/> replicas are Ready (and one on <paramref name="mustInclude"/>).</summary>
    private async Task<IReadOnlyList<ReplicaDto>> WaitForReadyReplicasAsync(string model, int count, TimeSpan timeout, string? mustInclude = null)
    {
        IReadOnlyList<ReplicaDto> ready = [];
        await Eventually.TrueAsync(async () =>
        {
            ready = (await VersionAsync(model)).ReplicaStates.Where(r => r.State == ReplicaStates.Ready).ToList();
            return ready.Count == count && (mustInclude is null || ready.Any(r => r.WorkerName == mustInclude));
        }, timeout, $"{count} ready replicas of {model}");
        return ready;
    }
}
