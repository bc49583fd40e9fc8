using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Mds.Contracts.Api;
using Mds.ModelGen;

namespace Mds.Bench;

/// <summary>
/// <c>density</c>: what many models on one worker cost in memory, against one worker process per model. <c>--models</c>
/// distinct small MLPs (32 → 128 → 10, seeded weights, 22 KB each) are uploaded one after another to a throw-away
/// cluster with one worker, each waited for until Ready and then called once (so its session has run); the worker's
/// resident memory (VmRSS) is read at checkpoints after a settle. The baseline starts <c>--baseline-workers</c> one-model
/// workers of a second throw-away cluster, in batches, gives each one model the same way, and reads their RSS; when that
/// is fewer than <c>--models</c> the sum is extrapolated (count × median RSS) and the output says so. Load time per model
/// is read from the worker's own log (from "Loading replica" to "Replica … ready": artifact fetch and session creation),
/// beside the upload → Ready time the client sees.
/// </summary>
internal static partial class DensityBench
{
    private const int InputWidth = 32;

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args) is not { } options)
        {
            return 2;
        }

        int models = Math.Max(1, int.Parse(Option(args, "--models") ?? "100", CultureInfo.InvariantCulture));
        int baselineWorkers = Math.Clamp(int.Parse(Option(args, "--baseline-workers") ?? "10", CultureInfo.InvariantCulture), 1, models);
        int batch = Math.Max(1, int.Parse(Option(args, "--batch") ?? "5", CultureInfo.InvariantCulture));
        var settle = TimeSpan.FromSeconds(double.Parse(Option(args, "--settle-seconds") ?? "3", CultureInfo.InvariantCulture));

        Console.WriteLine(Machine.Describe());
        string scratch = Directory.CreateTempSubdirectory("mds-bench-density-").FullName;
        var files = new string[models];
        for (int i = 0; i < models; i++)
        {
            files[i] = Path.Combine(scratch, $"m{i:D3}.onnx");
            await File.WriteAllBytesAsync(files[i], TestGraphs.Mlp(1000 + i, InputWidth, 128, 10), ct);
        }

        Console.WriteLine($"{models} models of {new FileInfo(files[0]).Length / 1024.0:F0} KiB each (MLP {InputWidth} → 128 → 10, distinct seeds)");
        byte[] body = Row(new Random(5));

        // One worker holding every model.
        var workerLoad = new Samples();
        var uploadToReady = new Samples();
        var checkpoints = new List<(int Models, double RssMb)>();
        Console.WriteLine("starting a database, the backend and one worker (audit off) …");
        await using (var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct))
        {
            var log = new LoadLog();
            var worker = await cluster.StartWorkerAsync("density", WorkerSettings(), ct);
            worker.LineWritten += log.Read;
            using var admin = await cluster.AdminClientAsync(ct);
            using var direct = new HttpClient { BaseAddress = worker.Url, Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
            await Task.Delay(settle, ct);
            checkpoints.Add((0, ResidentMb(worker.ProcessId)));
            Console.WriteLine($"  0 models: worker RSS {checkpoints[^1].RssMb:F1} MB");
            int every = Math.Max(1, models / 4);
            for (int i = 0; i < models; i++)
            {
                string name = ModelName(i);
                long started = Stopwatch.GetTimestamp();
                await LocalCluster.DeployAsync(admin, name, files[i], replicas: 1, ct);
                uploadToReady.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await InferOnceAsync(direct, name, body, ct);
                if (i == 0 || (i + 1) % every == 0 || i + 1 == models)
                {
                    await Task.Delay(settle, ct);
                    checkpoints.Add((i + 1, ResidentMb(worker.ProcessId)));
                    Console.WriteLine($"{i + 1,3} model{(i == 0 ? "" : "s")}: worker RSS {checkpoints[^1].RssMb:F1} MB");
                }
            }

            foreach (double ms in log.Durations())
            {
                workerLoad.Add(ms);
            }
        }

        // The baseline: one model per worker process.
        var singles = new List<double>();
        Console.WriteLine($"starting a second database and backend, and {baselineWorkers} one-model workers in batches of {batch} …");
        await using (var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct))
        {
            using var admin = await cluster.AdminClientAsync(ct);
            var workers = new List<ServiceHost>();
            for (int first = 0; first < baselineWorkers; first += batch)
            {
                int count = Math.Min(batch, baselineWorkers - first);
                var started = await Task.WhenAll(Enumerable.Range(first, count)
                    .Select(j => cluster.StartWorkerAsync($"single-{j:D3}", WorkerSettings(), ct)));
                workers.AddRange(started);

                // The planner puts a replica on the least-loaded worker: the new, empty ones. Checked below.
                for (int j = first; j < first + count; j++)
                {
                    await LocalCluster.DeployAsync(admin, ModelName(j), files[j], replicas: 1, ct);
                }

                await CheckOneModelEachAsync(admin, started, Enumerable.Range(first, count).Select(ModelName).ToList(), body, ct);
                Console.WriteLine($"  {workers.Count} one-model workers up");
            }

            await Task.Delay(settle, ct);
            singles.AddRange(workers.Select(w => ResidentMb(w.ProcessId)));
        }

        var single = new Samples();
        singles.ForEach(single.Add);
        bool extrapolated = baselineWorkers < models;
        double sum = extrapolated ? models * single.Median : singles.Sum();
        double multi = checkpoints[^1].RssMb;
        // The first model also pays for what the worker sets up lazily (ONNX Runtime's allocator, the infer path's
        // code): the slope is over the checkpoints from one model on.
        double slope = Slope([.. checkpoints.Where(c => c.Models >= 1)]);

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"{models} models (MLP {InputWidth} → 128 → 10) on one worker against one worker per model; VmRSS read {settle.TotalSeconds:0} s after the last change, every model called once in both setups.");
        Console.WriteLine(extrapolated
            ? $"The one-model sum is EXTRAPOLATED: {baselineWorkers} one-model workers measured (RSS min {single.Min:F1}, median {single.Median:F1}, max {single.Max:F1} MB), sum = {models} × median."
            : $"The one-model sum is measured: {baselineWorkers} one-model workers running at once (RSS min {single.Min:F1}, median {single.Median:F1}, max {single.Max:F1} MB).");
        Console.WriteLine("Load time: the worker's own log, \"Loading replica\" → \"Replica … ready\" (artifact download from the backend + ONNX Runtime session); upload → Ready: the client's view (upload, scheduling, the Hangfire order, the load, the state report; polled every 100 ms).");
        MarkdownTable.Header(
            "models", "one worker RSS MB", "sum of one-model RSS MB", "ratio (goal ≤ 0.10)", "RSS per extra model MB (slope from 1 model)",
            "load ms p50 / p95 (worker)", "upload → Ready ms p50 / p95");
        MarkdownTable.Row(
            models.ToString(CultureInfo.InvariantCulture),
            multi.ToString("F1", CultureInfo.InvariantCulture),
            sum.ToString("N0", CultureInfo.InvariantCulture) + (extrapolated ? $" (extrapolated from {baselineWorkers})" : ""),
            (multi / sum).ToString("F3", CultureInfo.InvariantCulture),
            slope.ToString("F2", CultureInfo.InvariantCulture),
            workerLoad.Count == 0 ? "n/a (no load lines in the worker's log)" : $"{workerLoad.Median:F1} / {workerLoad.Percentile(95):F1}",
            $"{uploadToReady.Median:F0} / {uploadToReady.Percentile(95):F0}");
        Console.WriteLine();
        MarkdownTable.Header("models loaded", "worker RSS MB");
        foreach (var (count, rss) in checkpoints)
        {
            MarkdownTable.Row(count.ToString(CultureInfo.InvariantCulture), rss.ToString("F1", CultureInfo.InvariantCulture));
        }

        try
        {
            Directory.Delete(scratch, recursive: true);
        }
        catch (IOException)
        {
            // the temp directory is the OS's to clean
        }

        return 0;
    }

    /// <summary>Audit off (it has a benchmark of its own); the order handler's log on, single-line and timestamped, for load times.</summary>
    private static Dictionary<string, string> WorkerSettings() => new()
    {
        ["Mds__Audit__Enabled"] = "false",
        ["Logging__LogLevel__Mds.Workers.Cluster.WorkerOrders"] = "Information",
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        ["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true",
        ["Logging__Console__FormatterOptions__TimestampFormat"] = LoadLog.TimestampFormat + " ",
    };

    private static string ModelName(int i) => $"density-{i:D3}";

    /// <summary>
    /// Checks that the planner put each of <paramref name="names"/> on a different one of <paramref name="workers"/>,
    /// and calls each model once on its worker.
    /// </summary>
    private static async Task CheckOneModelEachAsync(HttpClient admin, IReadOnlyList<ServiceHost> workers, List<string> names, byte[] body, CancellationToken ct)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            var version = (await admin.GetFromJsonAsync<ModelVersionDto>(new Uri($"/api/models/{name}/versions/1", UriKind.Relative), ct))!;
            string on = version.ReplicaStates.Single(r => r.State == ReplicaStates.Ready).WorkerName;
            var worker = workers.SingleOrDefault(w => w.Name == on);
            if (worker is null || !used.Add(on))
            {
                throw new InvalidOperationException($"{name} was placed on {on}, not alone on one of the new workers: the baseline needs one model per worker");
            }

            using var direct = new HttpClient { BaseAddress = worker.Url, Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
            await InferOnceAsync(direct, name, body, ct);
        }
    }

    private static async Task InferOnceAsync(HttpClient worker, string model, byte[] body, CancellationToken ct)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await worker.PostAsync(new Uri($"/v2/models/{model}/versions/1/infer", UriKind.Relative), content, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{model}: infer answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
    }

    private static byte[] Row(Random random)
    {
        var row = string.Join(',', Enumerable.Range(0, InputWidth).Select(_ => (random.NextDouble() * 2 - 1).ToString("F3", CultureInfo.InvariantCulture)));
        return Encoding.UTF8.GetBytes($$"""{"inputs":[{"name":"x","shape":[1,{{InputWidth}}],"datatype":"FP32","data":[{{row}}]}]}""");
    }

    /// <summary>A process's resident set (VmRSS of <c>/proc/{pid}/status</c>) in MB (10^6 bytes); NaN where there is none.</summary>
    private static double ResidentMb(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    // "VmRSS:	  123456 kB"
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024 / 1e6;
                }
            }
        }
        catch (IOException)
        {
        }

        return double.NaN;
    }

    /// <summary>Least-squares slope of RSS over models loaded.</summary>
    private static double Slope(List<(int Models, double RssMb)> points)
    {
        double mx = points.Average(p => p.Models), my = points.Average(p => p.RssMb);
        double num = points.Sum(p => (p.Models - mx) * (p.RssMb - my));
        double den = points.Sum(p => (p.Models - mx) * (p.Models - mx));
        return den == 0 ? double.NaN : num / den;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Reads the worker's "Loading replica N" and "Replica N ready" lines and pairs them by replica.</summary>
    private sealed partial class LoadLog
    {
        public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.ffffff";

        private readonly Dictionary<long, DateTime> _loading = [];
        private readonly List<double> _durations = [];
        private readonly Lock _lock = new();

        public void Read(string line)
        {
            var match = LoadLine().Match(line);
            if (!match.Success
                || !DateTime.TryParseExact(match.Groups["at"].Value, TimestampFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                return;
            }

            lock (_lock)
            {
                if (match.Groups["loading"].Success)
                {
                    _loading[long.Parse(match.Groups["loading"].Value, CultureInfo.InvariantCulture)] = at;
                }
                else if (_loading.Remove(long.Parse(match.Groups["ready"].Value, CultureInfo.InvariantCulture), out var started))
                {
                    _durations.Add((at - started).TotalMilliseconds);
                }
            }
        }

        public List<double> Durations()
        {
            lock (_lock)
            {
                return [.. _durations];
            }
        }

        [GeneratedRegex(@"^(?<at>\S+) .*?(?:Loading replica (?<loading>\d+):|Replica (?<ready>\d+) ready:)")]
        private static partial Regex LoadLine();
    }
}
