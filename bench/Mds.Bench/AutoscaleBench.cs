using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Mds.Contracts.Api;
using Mds.ModelGen;

namespace Mds.Bench;

/// <summary>
/// <c>autoscale</c>: a CPU-bound MLP (made by the model generator) under <c>--callers</c> closed-loop callers through the
/// gateway. First, where the callers wait: per worker build (<c>--baseline-worker</c>, an older build, then this one),
/// what the worker holds (its heartbeat's in-flight count, the model's running and waiting gauges, its threads) while
/// the gateway counts every caller outstanding. Then p99 and throughput with a fixed single replica against autoscaling
/// 1..2 (short windows), on two workers as the OS places them and pinned to a core each with <c>taskset</c>.
/// </summary>
internal static class AutoscaleBench
{
    private const int InputWidth = 16;

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "16", defaultSeconds: 60, defaultRounds: 1) is not { } options)
        {
            return 2;
        }

        int callers = options.Concurrency[0];
        int rows = int.Parse(Value(args, "--rows") ?? "256", CultureInfo.InvariantCulture);
        string? baselineWorker = Value(args, "--baseline-worker");
        var duration = options.PhaseDuration;
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"model: MLP {InputWidth}→1024→1024→4, {rows} rows per request; {callers} callers; phases of {duration.TotalSeconds:0} s");

        string onnx = Path.Combine(Directory.CreateTempSubdirectory("mds-bench-autoscale-").FullName, "heavy.onnx");
        await File.WriteAllBytesAsync(onnx, TestGraphs.Mlp(20, InputWidth, 1024, 1024, 4), ct);
        byte[] body = Body(rows);
        var settings = new Dictionary<string, string>
        {
            ["Mds__Scheduler__HeartbeatInterval"] = "00:00:01",
            ["Mds__Scheduler__ScaleUpAfter"] = "00:00:05",
            ["Mds__Scheduler__ScaleCooldown"] = "00:00:05",
            ["Mds__Scheduler__ScaleDownAfter"] = "00:00:15",
        };
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct, settings);
        using var admin = await cluster.AdminClientAsync(ct);
        var token = admin.DefaultRequestHeaders.Authorization!;

        // 1. Where callers wait.
        Console.WriteLine();
        Console.WriteLine("## where callers wait (one replica, gateway)");
        var where = new List<string[]>();
        var builds = new List<(string Label, string? Dll)>();
        if (baselineWorker is not null)
        {
            builds.Add(("before (no gate)", baselineWorker));
        }

        builds.Add(("this build (gate)", null));
        int n = 0;
        foreach (var (label, dll) in builds)
        {
            string tag = $"where{++n}";
            var worker = await cluster.StartWorkerAsync($"w-{tag}", Worker(tag), ct, dll: dll);
            await DeployAsync(admin, $"heavy-{tag}", onnx, $"onnx,{tag}", ct);
            await InferenceLoad.RunAsync(cluster.Backend.Url, InferPath($"heavy-{tag}"), body, 2, TimeSpan.FromSeconds(5), ct, token); // warm-up
            var sampler = Sampler.Start(admin, worker, ct);
            var result = await InferenceLoad.RunAsync(cluster.Backend.Url, InferPath($"heavy-{tag}"), body, callers, duration, ct, token);
            var s = await sampler.StopAsync();
            where.Add([label, Rate(result), Ms(result.P50Ms), Ms(result.P99Ms), callers.ToString(CultureInfo.InvariantCulture),
                s.HeartbeatInFlight.Count == 0 ? "–" : $"{s.HeartbeatInFlight.Mean():0.0} (max {s.HeartbeatInFlight.Max():0})",
                s.Running.Count == 0 ? "–" : $"{s.Running.Mean():0.0}", s.Waiting.Count == 0 ? "–" : $"{s.Waiting.Mean():0.0}",
                s.Threads.Count == 0 ? "–" : $"{s.Threads.First():0} → {s.Threads.Max():0}", s.Failed(result)]);
            Console.WriteLine($"  samples: {s.Threads.Count} threads, {s.HeartbeatInFlight.Count} heartbeats, {s.Waiting.Count} gauges");
            Console.WriteLine($"  {label}: {Rate(result)} req/s, p99 {Ms(result.P99Ms)} ms; {Machine.LoadAverage()}");
            await cluster.StopWorkerAsync(worker);
        }

        Print(["worker", "req/s", "p50 ms", "p99 ms", "outstanding at the gateway", "worker in flight (heartbeat)", "running (gauge)", "waiting (gauge)", "worker threads", "failed"], where);

        // 2. Fixed single replica against autoscaling 1..2, unpinned and pinned.
        Console.WriteLine();
        Console.WriteLine("## fixed 1 replica vs autoscaling 1..2 (gateway)");
        var table = new List<string[]>();
        foreach (bool pinned in new[] { false, true })
        {
            string tag = pinned ? "pinned" : "free";
            var workers = new[]
            {
                await cluster.StartWorkerAsync($"w-{tag}-1", Worker(tag), ct),
                await cluster.StartWorkerAsync($"w-{tag}-2", Worker(tag), ct),
            };
            if (pinned)
            {
                for (int i = 0; i < workers.Length; i++)
                {
                    Pin(workers[i].ProcessId, i % Environment.ProcessorCount);
                }
            }

            string model = $"heavy-{tag}";
            await DeployAsync(admin, model, onnx, $"onnx,{tag}", ct);
            await InferenceLoad.RunAsync(cluster.Backend.Url, InferPath(model), body, 2, TimeSpan.FromSeconds(5), ct, token);

            var fixedResult = await InferenceLoad.RunAsync(cluster.Backend.Url, InferPath(model), body, callers, duration, ct, token);
            table.Add([tag, "fixed 1", Rate(fixedResult), Ms(fixedResult.P50Ms), Ms(fixedResult.P99Ms), "–", Fails(fixedResult)]);
            Console.WriteLine($"  {tag} fixed: {Rate(fixedResult)} req/s, p99 {Ms(fixedResult.P99Ms)} ms; {Machine.LoadAverage()}");

            (await admin.PutAsJsonAsync($"/api/models/{model}/versions/1/replicas", new ScaleRequest(1, 1, 2), ct)).EnsureSuccessStatusCode();
            long started = Stopwatch.GetTimestamp();
            var load = InferenceLoad.RunAsync(cluster.Backend.Url, InferPath(model), body, callers, duration, ct, token);
            double? secondReady = null;
            while (!load.IsCompleted)
            {
                if (secondReady is null && await ReadyAsync(admin, model, ct) >= 2)
                {
                    secondReady = Stopwatch.GetElapsedTime(started).TotalSeconds;
                }

                await Task.WhenAny(load, Task.Delay(250, ct));
            }

            var scaled = await load;
            table.Add([tag, "autoscale 1..2", Rate(scaled), Ms(scaled.P50Ms), Ms(scaled.P99Ms), secondReady is double t ? $"{t:0.0} s" : "never", Fails(scaled)]);
            Console.WriteLine($"  {tag} autoscale: {Rate(scaled)} req/s, p99 {Ms(scaled.P99Ms)} ms, second replica Ready after {(secondReady is double r ? $"{r:0.0} s" : "never")}; {Machine.LoadAverage()}");

            // With both replicas Ready from the start: what autoscaling converges to.
            if (secondReady is not null)
            {
                var both = await InferenceLoad.RunAsync(cluster.Backend.Url, InferPath(model), body, callers, duration, ct, token);
                table.Add([tag, "2 Ready (after scale-up)", Rate(both), Ms(both.P50Ms), Ms(both.P99Ms), "–", Fails(both)]);
                Console.WriteLine($"  {tag} two replicas: {Rate(both)} req/s, p99 {Ms(both.P99Ms)} ms; {Machine.LoadAverage()}");
            }

            foreach (var w in workers)
            {
                await cluster.StopWorkerAsync(w);
            }
        }

        Print(["workers", "replicas", "req/s", "p50 ms", "p99 ms", "2nd replica Ready after", "failed"], table);
        Console.WriteLine(Machine.Describe());
        return 0;
    }

    private static void Print(string[] columns, List<string[]> rows)
    {
        MarkdownTable.Header(columns);
        foreach (var row in rows)
        {
            MarkdownTable.Row(row);
        }
    }

    private static Dictionary<string, string> Worker(string tag) => new()
    {
        ["Mds__Audit__Enabled"] = "false",
        ["Mds__Worker__Capabilities"] = $"onnx,cpu,{tag}",
    };

    private static string InferPath(string model) => $"/v2/models/{model}/versions/1/infer";

    private static void Pin(int pid, int cpu)
    {
        using var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-p", "-c", cpu.ToString(CultureInfo.InvariantCulture), pid.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
        })!;
        taskset.WaitForExit();
        if (taskset.ExitCode != 0)
        {
            throw new InvalidOperationException($"taskset could not pin process {pid} to CPU {cpu}");
        }
    }

    private static async Task DeployAsync(HttpClient admin, string model, string onnx, string requirements, CancellationToken ct)
    {
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new StringContent(model), "name");
            form.Add(new StringContent(requirements), "requirements");
            var file = new ByteArrayContent(await File.ReadAllBytesAsync(onnx, ct));
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", "model.onnx");
            using var uploaded = await admin.PostAsync(new Uri("/api/models", UriKind.Relative), form, ct);
            uploaded.EnsureSuccessStatusCode();
        }

        long started = Stopwatch.GetTimestamp();
        while (await ReadyAsync(admin, model, ct) < 1)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(90))
            {
                throw new TimeoutException($"{model} not Ready in 90 s");
            }

            await Task.Delay(200, ct);
        }
    }

    private static async Task<int> ReadyAsync(HttpClient admin, string model, CancellationToken ct)
    {
        var v = (await admin.GetFromJsonAsync<ModelVersionDto>(new Uri($"/api/models/{model}/versions/1", UriKind.Relative), ct))!;
        return v.ReplicaStates.Count(r => r.State == ReplicaStates.Ready);
    }

    private static byte[] Body(int rows)
    {
        var random = new Random(5);
        var data = string.Join(',', Enumerable.Range(0, rows * InputWidth).Select(_ => (random.NextSingle() * 2 - 1).ToString("0.###", CultureInfo.InvariantCulture)));
        return Encoding.UTF8.GetBytes($$"""{"inputs":[{"name":"x","shape":[{{rows}},{{InputWidth}}],"datatype":"FP32","data":[{{data}}]}]}""");
    }

    private static string Rate(LoadResult r) => r.RequestsPerSecond.ToString("0.0", CultureInfo.InvariantCulture);

    private static string Ms(double ms) => ms.ToString("0", CultureInfo.InvariantCulture);

    private static string Fails(LoadResult r) => r.Failed == 0 ? "0" : $"{r.Failed} ({r.FirstError})";

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static double Mean(this List<double> values) => values.Count == 0 ? 0 : values.Average();

    /// <summary>Samples, every 250 ms, the worker's heartbeat in-flight count (via the backend), its model gauges and its threads.</summary>
    private sealed class Sampler
    {
        private readonly CancellationTokenSource _stop;
        private Task _loop = Task.CompletedTask;

        private Sampler(CancellationToken ct) => _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);

        public List<double> HeartbeatInFlight { get; } = [];
        public List<double> Running { get; } = [];
        public List<double> Waiting { get; } = [];
        public List<double> Threads { get; } = [];

        public string Failed(LoadResult r) => Fails(r);

        public static Sampler Start(HttpClient admin, ServiceHost worker, CancellationToken ct)
        {
            var s = new Sampler(ct);
            s._loop = s.RunAsync(admin, worker);
            return s;
        }

        public async Task<Sampler> StopAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }

            _stop.Dispose();
            return this;
        }

        private async Task RunAsync(HttpClient admin, ServiceHost worker)
        {
            using var metrics = new HttpClient { BaseAddress = worker.Url, Timeout = TimeSpan.FromSeconds(5) };
            metrics.DefaultRequestHeaders.Authorization = admin.DefaultRequestHeaders.Authorization;
            while (!_stop.IsCancellationRequested)
            {
                var status = await File.ReadAllLinesAsync($"/proc/{worker.ProcessId}/status", _stop.Token);
                if (status.FirstOrDefault(l => l.StartsWith("Threads:", StringComparison.Ordinal)) is { } threads)
                {
                    Threads.Add(double.Parse(threads["Threads:".Length..].Trim(), CultureInfo.InvariantCulture));
                }

                using (var quick = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    quick.CancelAfter(TimeSpan.FromSeconds(2));
                    try
                    {
                        var workers = await admin.GetFromJsonAsync<WorkerDto[]>(new Uri("/api/workers", UriKind.Relative), quick.Token);
                        if (workers?.FirstOrDefault(w => w.Name == worker.Name) is { } me)
                        {
                            HeartbeatInFlight.Add(me.InFlight);
                        }
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                        // the backend is busy; this sample has no heartbeat figure
                    }
                }

                string text;
                try
                {
                    text = await metrics.GetStringAsync(new Uri("/metrics", UriKind.Relative), _stop.Token);
                }
                catch (HttpRequestException)
                {
                    text = "";
                }

                foreach (var line in text.Split('\n'))
                {
                    if (line.StartsWith("mds_worker_model_requests_in_flight{", StringComparison.Ordinal))
                    {
                        Running.Add(ValueOf(line));
                    }
                    else if (line.StartsWith("mds_worker_model_requests_waiting{", StringComparison.Ordinal))
                    {
                        Waiting.Add(ValueOf(line));
                    }
                }

                await Task.Delay(250, _stop.Token);
            }
        }

        private static double ValueOf(string line) => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
