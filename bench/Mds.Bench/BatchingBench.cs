using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Mds.Contracts.Api;
using Mds.ModelGen;

namespace Mds.Bench;

/// <summary>
/// <c>batching</c>: what adaptive batching buys. For three models — the iris sample (tiny: a run costs microseconds),
/// a generated MLP (512 → 2048 → 2048 → 16, 21 MB of weights, about the size of a last-level cache) and a wide one
/// (1024 → 4096 → 4096 → 16, 84 MB: every single-row run streams its weights from memory) — the thin
/// baseline server, the worker with batching off, and the worker with batching on (up to 64 rows, at most
/// <c>--latency-us</c> of waiting) are loaded by closed-loop clients at each concurrency, in the same run, each phase
/// <c>--rounds</c> times in rotating order, best round reported. The worker's own statistics give the mean batch size.
/// </summary>
internal static class BatchingBench
{
    private const int MaxBatchSize = 64;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(4);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64") is not { } options)
        {
            return 2;
        }

        int latencyUs = int.Parse(Option(args, "--latency-us") ?? "500", CultureInfo.InvariantCulture);
        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend, a worker (audit off) and a thin baseline per model …");
        string iris = Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx");
        string scratch = Directory.CreateTempSubdirectory("mds-bench-mlp-").FullName;
        string mlp = Path.Combine(scratch, "mlp.onnx");
        string wide = Path.Combine(scratch, "mlp-wide.onnx");
        await File.WriteAllBytesAsync(mlp, TestGraphs.Mlp(1, 512, 2048, 2048, 16), ct);
        await File.WriteAllBytesAsync(wide, TestGraphs.Mlp(2, 1024, 4096, 4096, 16), ct);

        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var worker = await cluster.StartWorkerAsync("batching", new Dictionary<string, string> { ["Mds__Audit__Enabled"] = "false" }, ct);
        using var admin = await cluster.AdminClientAsync(ct);

        var random = new Random(3);
        var models = new (string Name, string Onnx, byte[] Body)[]
        {
            ("iris", iris, Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""")),
            ("mlp", mlp, RowRequest(random, 512)),
            ("mlp-wide", wide, RowRequest(random, 1024)),
        };
        var only = Option(args, "--models")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (only is not null)
        {
            models = [.. models.Where(m => only.Contains(m.Name, StringComparer.Ordinal))];
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        foreach (var (name, onnx, body) in models)
        {
            await LocalCluster.DeployAsync(admin, $"bench-{name}-single", onnx, replicas: 1, ct);
            await LocalCluster.DeployAsync(admin, $"bench-{name}-batched", onnx, replicas: 1, ct);
            using (var on = await admin.PutAsJsonAsync(new Uri($"/api/models/bench-{name}-batched/versions/1/batching", UriKind.Relative), new BatchingDto(true, MaxBatchSize, latencyUs), ct))
            {
                on.EnsureSuccessStatusCode();
            }

            await WaitForBatchingAsync(worker.Url, $"bench-{name}-batched", ct);
            var baselineUrl = ServiceHost.FreeLoopbackUrl();
            await using var baseline = ServiceHost.Start($"baseline-{name}", ServiceHost.Dll("bench", "Mds.Bench.Baseline"), baselineUrl,
                new Dictionary<string, string>(), [onnx, baselineUrl.ToString().TrimEnd('/')]);
            await baseline.WaitUntilHealthyAsync("/health", TimeSpan.FromSeconds(60), ct);

            var targets = new (string Name, Uri Server, string Path)[]
            {
                ("baseline", baseline.Url, "/infer"),
                ("single", worker.Url, $"/v2/models/bench-{name}-single/versions/1/infer"),
                ("batched", worker.Url, $"/v2/models/bench-{name}-batched/versions/1/infer"),
            };
            foreach (var t in targets)
            {
                Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, 8, WarmUp, ct), t.Name);
            }

            var best = new Dictionary<(string, int), LoadResult>();
            var meanBatch = new Dictionary<int, double>();
            foreach (int concurrency in options.Concurrency)
            {
                for (int round = 0; round < options.Rounds; round++)
                {
                    for (int k = 0; k < targets.Length; k++)
                    {
                        var t = targets[(k + round) % targets.Length];
                        var before = t.Name == "batched" ? await WorkerStats.OfAsync(worker.Url, $"bench-{name}-batched", ct) : null;
                        var result = Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, concurrency, options.PhaseDuration, ct), t.Name);
                        string batchNote = "";
                        if (before is not null)
                        {
                            var after = await WorkerStats.OfAsync(worker.Url, $"bench-{name}-batched", ct);
                            double mean = (double)(after.InferenceCount - before.InferenceCount) / Math.Max(1, after.ExecutionCount - before.ExecutionCount);
                            batchNote = $"  mean batch {mean:F1}";
                            if (!best.TryGetValue((t.Name, concurrency), out var kept) || result.RequestsPerSecond > kept.RequestsPerSecond)
                            {
                                meanBatch[concurrency] = mean;
                            }
                        }

                        Console.WriteLine($"{name,-5} concurrency {concurrency,3}  round {round + 1}  {t.Name,-8} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50Ms,7:F2} ms  p99 {result.P99Ms,7:F2} ms{batchNote}");
                        if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.RequestsPerSecond)
                        {
                            best[(t.Name, concurrency)] = result;
                        }
                    }
                }
            }

            Console.WriteLine();
            Console.WriteLine($"{name}: 1 row per request over V2 REST JSON; batching up to {MaxBatchSize} rows, wait ≤ {latencyUs} µs; {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s, best round");
            MarkdownTable.Header(
                "clients", "baseline req/s", "worker req/s", "worker + batching req/s", "mean batch",
                "worker ÷ baseline", "batching ÷ baseline (goal ≥ 3.0 at 64)", "baseline p50 / p99 ms", "worker p50 / p99 ms", "batching p50 / p99 ms");
            foreach (int c in options.Concurrency)
            {
                var (b, s, w) = (best[("baseline", c)], best[("single", c)], best[("batched", c)]);
                MarkdownTable.Row(
                    c.ToString(CultureInfo.InvariantCulture), F(b.RequestsPerSecond), F(s.RequestsPerSecond), F(w.RequestsPerSecond),
                    meanBatch[c].ToString("F1", CultureInfo.InvariantCulture),
                    R(s.RequestsPerSecond / b.RequestsPerSecond), R(w.RequestsPerSecond / b.RequestsPerSecond),
                    $"{b.P50Ms:F2} / {b.P99Ms:F2}", $"{s.P50Ms:F2} / {s.P99Ms:F2}", $"{w.P50Ms:F2} / {w.P99Ms:F2}");
            }

            Console.WriteLine();
        }

        return 0;
    }

    /// <summary>A V2 request of one row of <paramref name="width"/> seeded values in [-1, 1] for input <c>x</c>.</summary>
    private static byte[] RowRequest(Random random, int width)
    {
        var row = string.Join(',', Enumerable.Range(0, width).Select(_ => (random.NextDouble() * 2 - 1).ToString("F3", CultureInfo.InvariantCulture)));
        return Encoding.UTF8.GetBytes($$"""{"inputs":[{"name":"x","shape":[1,{{width}}],"datatype":"FP32","data":[{{row}}]}]}""");
    }

    /// <summary>Waits until the worker reports that it batches <paramref name="model"/> (the settings reach it by a Hangfire order).</summary>
    private static async Task WaitForBatchingAsync(Uri worker, string model, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = worker, DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var config = await http.GetAsync(new Uri($"/v2/models/{model}/versions/1/config", UriKind.Relative), ct);
            if (config.IsSuccessStatusCode && (await config.Content.ReadAsStringAsync(ct)).Contains("max_queue_delay_microseconds", StringComparison.Ordinal))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{model}: the worker did not start batching within 60 s");
            }

            await Task.Delay(200, ct);
        }
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}

/// <summary>A model version's statistics on a worker (the statistics extension).</summary>
internal static class WorkerStats
{
    public static async Task<Mds.Contracts.Inference.ModelStatistics> OfAsync(Uri worker, string model, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = worker, DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
        var response = await http.GetFromJsonAsync<Mds.Contracts.Inference.ModelStatisticsResponse>(new Uri($"/v2/models/{model}/versions/1/stats", UriKind.Relative), ct);
        return response!.ModelStats.Single();
    }
}
