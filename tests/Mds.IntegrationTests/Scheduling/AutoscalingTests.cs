using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Xunit.Abstractions;

namespace Mds.IntegrationTests.Scheduling;

/// <summary>
/// Autoscaling on the load callers see, with real workers and a CPU-bound MLP from the model generator, on the
/// scheduling collection's cluster (its short autoscaling windows: up after 3 s, down after 8 s, 3 s cooldown). Each test
/// has its own capability tag and stops its workers when it ends.
/// </summary>
[Collection(SchedulingCollection.Name)]
public sealed class AutoscalingTests(SchedulingClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    // Enough rows that a request spends most of its time at the worker rather than in the callers' own process: the
    // load the autoscaler sees is the mean outstanding past the gateway, which approaches the number of callers only
    // then (with 32 rows, a full test run's CPU contention left it at 2 of 8 callers, and the two-backend test did not scale).
    private const int Rows = 128;
    private const int Width = 16;
    private static readonly byte[] Heavy = TestGraphs.Mlp(31, Width, 384, 384, 4);
    private readonly List<ServiceProcess> _workers = [];
    private MdsCluster Cluster => fixture.Cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => Task.WhenAll(_workers.Select(Cluster.StopWorkerAsync));

    [Fact]
    public async Task Callers_queued_on_a_busy_model_were_invisible_now_a_second_replica_is_Ready_within_60_s_with_no_failed_request_and_it_goes_back_to_one()
    {
        await StartWorkersAsync("asc", 2);
        await DeployAsync("asc-model", "asc");
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        await ScaleAsync(researcher, "asc-model", new ScaleRequest(1, 1, 2));

        using var caller = await Cluster.ClientAsync(Roles.Analyst);
        var load = Load.Start(caller, "asc-model", callers: 8);
        var started = Stopwatch.StartNew();
        await WaitForReadyAsync("asc-model", 2, TimeSpan.FromSeconds(60));
        var scaledAfter = started.Elapsed;

        // The signal is exported: the backend's autoscaler input, the worker's gauges.
        string backendMetrics = await caller.GetStringAsync("/metrics");
        Assert.Contains("mds_autoscale_load_per_replica{model=\"asc-model\",version=\"1\"}", backendMetrics, StringComparison.Ordinal);
        Assert.Contains("mds_gateway_outstanding_requests{model=\"asc-model\",version=\"1\"}", backendMetrics, StringComparison.Ordinal);
        using var direct = await Cluster.WorkerClientAsync(_workers[0].Url);
        string workerMetrics = await direct.GetStringAsync("/metrics");
        Assert.Contains("mds_worker_model_requests_in_flight{model=\"asc-model\",version=\"1\"}", workerMetrics, StringComparison.Ordinal);
        Assert.Contains("mds_worker_model_requests_waiting{model=\"asc-model\",version=\"1\"}", workerMetrics, StringComparison.Ordinal);

        await Task.Delay(TimeSpan.FromSeconds(2)); // both replicas serve
        await load.StopAsync();
        output.WriteLine($"second replica Ready {scaledAfter.TotalSeconds:F1} s after the load began; {load.Succeeded} requests, {load.Failures.Count} failed");
        Assert.True(load.Failures.IsEmpty, "failed requests:\n" + string.Join('\n', load.Failures.Take(20)));
        Assert.True(load.Succeeded > 20, $"only {load.Succeeded} requests");

        // Load stops: back to the minimum after the scale-down window (8 s here).
        await WaitForReadyAsync("asc-model", 1, TimeSpan.FromSeconds(40));
        var events = await EventsAsync(caller, "asc-model");
        output.WriteLine(string.Join('\n', events.Select(e => $"{e.At:HH:mm:ss} {e.By}: {e.Reason}")));
        var up = Assert.Single(events, e => e.By == "autoscaler" && e.ToReplicas == 2);
        Assert.StartsWith("outstanding ", up.Reason, StringComparison.Ordinal);
        Assert.EndsWith("→ 2 replicas", up.Reason, StringComparison.Ordinal);
        var down = Assert.Single(events, e => e.By == "autoscaler" && e.ToReplicas == 1);
        Assert.EndsWith("→ 1 replica", down.Reason, StringComparison.Ordinal);
        Assert.Contains(events, e => e.By == MdsCluster.EmailOf(Roles.Researcher) && e.Reason.Contains("autoscale 1..2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_latency_target_scales_a_slow_model_that_too_few_callers_would_never_scale()
    {
        await StartWorkersAsync("asl", 2);
        await DeployAsync("asl-model", "asl");
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        // Two callers: below the concurrency threshold (4 per replica); a p95 above 1 ms is pressure on its own.
        await ScaleAsync(researcher, "asl-model", new ScaleRequest(1, 1, 2, TargetLatencyMs: 1));
        Assert.Equal(1, (await researcher.GetFromJsonAsync<ModelVersionDto>("/api/models/asl-model/versions/1"))!.TargetLatencyMs);

        using var caller = await Cluster.ClientAsync(Roles.Analyst);
        var load = Load.Start(caller, "asl-model", callers: 2);
        await WaitForReadyAsync("asl-model", 2, TimeSpan.FromSeconds(60));
        await load.StopAsync();
        Assert.True(load.Failures.IsEmpty, "failed requests:\n" + string.Join('\n', load.Failures.Take(20)));
        var up = Assert.Single(await EventsAsync(caller, "asl-model"), e => e.By == "autoscaler" && e.ToReplicas == 2);
        output.WriteLine(up.Reason);
        Assert.Matches(@"^p95 [\d.]+ ms > target 1 ms for \d+ s → 2 replicas$", up.Reason);

        var bad = await researcher.PutAsJsonAsync("/api/models/asl-model/versions/1/replicas", new ScaleRequest(1, TargetLatencyMs: 100));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode); // a target without bounds would do nothing
    }

    [Fact]
    public async Task Two_backends_under_load_scale_a_version_once_not_once_each()
    {
        await StartWorkersAsync("as2", 3);
        await DeployAsync("as2-model", "as2");
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        await ScaleAsync(researcher, "as2-model", new ScaleRequest(1, 1, 3));

        await using var second = await Cluster.StartBackendAsync("backend-as2");
        using var viaFirst = await Cluster.ClientAsync(Roles.Analyst);
        using var viaSecond = new HttpClient { BaseAddress = second.Url, Timeout = TimeSpan.FromSeconds(60) };
        viaSecond.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Cluster.TokenAsync(Roles.Analyst));

        // Four callers on each backend: their sum is over 4 per replica. After one step to two replicas, 8 over 2 is at
        // most 4: no further step, from either backend (a step taken by both would show as two events, or a third replica).
        var first = Load.Start(viaFirst, "as2-model", callers: 4);
        var other = Load.Start(viaSecond, "as2-model", callers: 4);
        try
        {
            await WaitForReadyAsync("as2-model", 2, TimeSpan.FromSeconds(60));
        }
        finally
        {
            foreach (var line in (await viaFirst.GetStringAsync("/metrics")).Split('\n').Where(l => l.Contains("as2-model", StringComparison.Ordinal) && l.StartsWith("mds_autoscale", StringComparison.Ordinal)))
            {
                output.WriteLine(line);
            }

            output.WriteLine($"via first: {first.Succeeded} ok, {first.Failures.Count} failed; via second: {other.Succeeded} ok, {other.Failures.Count} failed");
        }

        await Task.Delay(TimeSpan.FromSeconds(10)); // more than the cooldown and the scale-up window, with both reconciling
        await Task.WhenAll(first.StopAsync(), other.StopAsync());

        var events = await EventsAsync(viaFirst, "as2-model");
        output.WriteLine(string.Join('\n', events.Select(e => $"{e.At:HH:mm:ss} {e.By}: {e.Reason}")));
        var up = Assert.Single(events, e => e.By == "autoscaler" && e.ToReplicas > e.FromReplicas);
        Assert.Equal((1, 2), (up.FromReplicas, up.ToReplicas));
        Assert.True(first.Failures.IsEmpty && other.Failures.IsEmpty, "failed requests:\n" + string.Join('\n', first.Failures.Concat(other.Failures).Take(20)));
        Assert.True((await researcher.GetFromJsonAsync<ModelVersionDto>("/api/models/as2-model/versions/1"))!.Replicas <= 2);
    }

    private async Task StartWorkersAsync(string tag, int count)
    {
        for (int i = 1; i <= count; i++)
        {
            _workers.Add(await Cluster.StartWorkerAsync($"{tag}-{i}", $"onnx,cpu,{tag}"));
        }
    }

    private async Task DeployAsync(string model, string tag) =>
        await Cluster.DeployAsync(model, Heavy, new Dictionary<string, string> { ["requirements"] = $"onnx,{tag}", ["replicas"] = "1" });

    private static async Task ScaleAsync(HttpClient client, string model, ScaleRequest request) =>
        (await client.PutAsJsonAsync($"/api/models/{model}/versions/1/replicas", request)).EnsureSuccessStatusCode();

    private static async Task<ScalingEventDto[]> EventsAsync(HttpClient client, string model) =>
        (await client.GetFromJsonAsync<ScalingEventDto[]>($"/api/models/{model}/versions/1/scaling-events"))!;

    private async Task WaitForReadyAsync(string model, int count, TimeSpan timeout)
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await Eventually.TrueAsync(async () =>
        {
            var v = (await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
            return v.ReplicaStates.Count(r => r.State == ReplicaStates.Ready) == count && v.Replicas == count;
        }, timeout, $"{count} Ready replicas of {model}");
    }

    /// <summary>Callers sending the MLP a <see cref="Rows"/>-row request back to back; every answer must be a 200.</summary>
    private sealed class Load
    {
        private static readonly string Body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + Rows.ToString(CultureInfo.InvariantCulture) + "," + Width.ToString(CultureInfo.InvariantCulture)
            + "],\"datatype\":\"FP32\",\"data\":[" + string.Join(',', Enumerable.Range(0, Rows * Width).Select(i => ((i % 7) * 0.25f).ToString(CultureInfo.InvariantCulture))) + "]}]}";

        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _callers = [];
        private int _succeeded;

        public int Succeeded => Volatile.Read(ref _succeeded);

        public ConcurrentQueue<string> Failures { get; } = new();

        public static Load Start(HttpClient client, string model, int callers)
        {
            var load = new Load();
            for (int i = 0; i < callers; i++)
            {
                load._callers.Add(Task.Run(() => load.LoopAsync(client, model)));
            }

            return load;
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_callers);
        }

        private async Task LoopAsync(HttpClient client, string model)
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var content = new StringContent(Body, System.Text.Encoding.UTF8, "application/json");
                    using var response = await client.PostAsync($"/v2/models/{model}/infer", content, _stop.Token);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(_stop.Token)}");
                        continue;
                    }

                    Interlocked.Increment(ref _succeeded);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException e)
                {
                    Failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {e.Message}");
                }
            }
        }
    }
}
