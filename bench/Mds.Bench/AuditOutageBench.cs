using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Mds.Contracts.Api;
using Npgsql;

namespace Mds.Bench;

/// <summary>
/// <c>audit-outage</c>: does the audit log lose anything when PostgreSQL goes away under load, and does the worker's
/// memory stay bounded meanwhile? A PostgreSQL server of its own (the bench stops it), the backend and one worker
/// (real processes, the iris sample, audit spill directory of the bench's own), closed-loop clients straight to the
/// worker and through the gateway, each request with its own <c>X-Request-Id</c>; every 200 answer's id is kept.
/// <para>
/// Phase 1: load with PostgreSQL up (the baseline), <c>pg_ctl stop -m fast</c> for <c>--outage</c> seconds under the
/// same load, start it again, load a little longer, wait until the spill files are replayed; then the ids answered vs
/// the records in <c>inference_records</c> (lost, duplicated). The worker's RSS (<c>/proc/PID/status</c> VmRSS) and the
/// spill files' size are sampled every 100 ms. Phase 2: PostgreSQL stopped again, load until <c>--kill-after</c>
/// requests are answered, stop the load, wait until the worker has spilled them, SIGKILL it, start it again on the
/// same spill directory while PostgreSQL is still down, start PostgreSQL, count again.
/// </para>
/// Ratios against the baseline of the same run: throughput during the outage ÷ with PostgreSQL up, RSS during ÷ before.
/// </summary>
internal static class AuditOutageBench
{
    private const string Model = "bench-outage";
    private const string WorkerName = "outage";
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(180);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var options = OutageOptions.Parse(args);
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"starting a PostgreSQL server of the bench's own, the backend and one worker (audit buffer bound {Mib(options.MaxBufferBytes)}) …");
        await using var postgres = await BenchPostgres.StartAsync(options.Port, ct);
        string spill = Directory.CreateTempSubdirectory("mds-bench-spill-").FullName;
        try
        {
            await using var cluster = await LocalCluster.StartAsync(postgres.ServerConnectionString, ct);
            string counting = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Pooling = false, Timeout = 3 }.ConnectionString;
            var settings = new Dictionary<string, string>
            {
                ["Mds__Audit__SpillDirectory"] = spill,
                ["Mds__Audit__MaxBufferBytes"] = options.MaxBufferBytes.ToString(CultureInfo.InvariantCulture),
                ["Mds__Audit__SpillAfter"] = options.SpillAfter.ToString("c", CultureInfo.InvariantCulture),
            };
            var worker = await cluster.StartWorkerAsync(WorkerName, settings, ct);
            AuthenticationHeaderValue token;
            using (var admin = await cluster.AdminClientAsync(ct))
            {
                await LocalCluster.DeployAsync(admin, Model, Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx"), replicas: 1, ct);
                token = admin.DefaultRequestHeaders.Authorization!;
            }

            string run = Guid.NewGuid().ToString("N")[..8];
            using var sampler = new Sampler(spill, worker.ProcessId);
            var samplerTask = sampler.RunAsync(ct);

            // ---- Phase 1: PostgreSQL stopped for --outage seconds under load.
            Console.WriteLine($"phase 1: {options.DirectClients} clients straight to the worker, {options.GatewayClients} through the gateway; warm-up {WarmUp.TotalSeconds:F0} s, PostgreSQL up {options.Baseline.TotalSeconds:F0} s, down {options.Outage.TotalSeconds:F0} s, up again {After.TotalSeconds:F0} s");
            var load = new TrackedLoad($"{run}-o", worker.Url, cluster.Backend.Url, token, options.DirectClients, options.GatewayClients);
            load.Start(ct);
            sampler.Phase = "warm-up";
            await Task.Delay(WarmUp, ct);
            var baselineWindow = await load.WindowAsync(sampler, "baseline", options.Baseline, ct);
            double spilledBefore = await MetricAsync(worker, "mds_audit_records_spilled_total", ct);
            sampler.Phase = "outage";
            var outageStarted = Stopwatch.GetTimestamp();
            await postgres.StopServerAsync(ct);
            Console.WriteLine($"  PostgreSQL stopped ({Stopwatch.GetElapsedTime(outageStarted).TotalSeconds:F1} s to stop)");
            var bufferPeak = new MetricPeak(worker, "mds_audit_buffer_bytes");
            var bufferTask = bufferPeak.RunAsync(ct);
            var outageWindow = await load.WindowAsync(sampler, "outage", options.Outage - Stopwatch.GetElapsedTime(outageStarted), ct);
            bufferPeak.Stop();
            await bufferTask;
            double spilledDuring = await MetricAsync(worker, "mds_audit_records_spilled_total", ct) - spilledBefore;
            long restart = Stopwatch.GetTimestamp();
            await postgres.StartServerAsync(ct);
            Console.WriteLine($"  PostgreSQL started again ({Stopwatch.GetElapsedTime(restart).TotalSeconds:F1} s to start)");
            var afterWindow = await load.WindowAsync(sampler, "after", After, ct);
            await load.StopAsync();
            sampler.Phase = "drain";
            var drain1 = await DrainAsync(spill, counting, load, restart, ct);
            var count1 = await CountAsync(counting, load, ct);
            Console.WriteLine($"  {load.Answered.Count} answered, {count1.Found} found, {count1.Lost} lost, {count1.Duplicates} duplicated; spill replayed {drain1.SpillEmpty.TotalSeconds:F1} s after the restart, every answered record in PostgreSQL after {drain1.AllFound.TotalSeconds:F1} s");

            // ---- Phase 2: the worker SIGKILLed during an outage after it answered --kill-after requests.
            Console.WriteLine($"phase 2: PostgreSQL stopped, load until {options.KillAfter} requests are answered, SIGKILL the worker once they are spilled, start it again, start PostgreSQL");
            sampler.Phase = "kill-outage";
            double spilledAtStart = await MetricAsync(worker, "mds_audit_records_spilled_total", ct);
            await postgres.StopServerAsync(ct);
            var killLoad = new TrackedLoad($"{run}-k", worker.Url, cluster.Backend.Url, token, options.DirectClients, options.GatewayClients);
            killLoad.Start(ct);
            long killPhase = Stopwatch.GetTimestamp();
            while (killLoad.Answered.Count < options.KillAfter && Stopwatch.GetElapsedTime(killPhase) < TimeSpan.FromSeconds(120))
            {
                await Task.Delay(50, ct);
            }

            await killLoad.StopAsync();
            int answeredAtKill = killLoad.Answered.Count;
            long waitSpill = Stopwatch.GetTimestamp();
            double spilledAtKill = 0;
            while (Stopwatch.GetElapsedTime(waitSpill) < TimeSpan.FromSeconds(60))
            {
                spilledAtKill = await MetricAsync(worker, "mds_audit_records_spilled_total", ct) - spilledAtStart;
                if (spilledAtKill >= answeredAtKill && await MetricAsync(worker, "mds_audit_buffer_records", ct) == 0)
                {
                    break;
                }

                await Task.Delay(100, ct);
            }

            var spillWait = Stopwatch.GetElapsedTime(waitSpill);
            long spillBytesAtKill = Sampler.SpillBytes(spill);
            await worker.KillAsync();
            Console.WriteLine($"  {answeredAtKill} answered, {spilledAtKill:F0} spilled ({spillWait.TotalSeconds:F1} s after the load stopped; {Mib(spillBytesAtKill)} in spill files): SIGKILL");
            sampler.Phase = "restart";
            long workerRestart = Stopwatch.GetTimestamp();
            worker = await cluster.StartWorkerAsync(WorkerName, settings, ct, readyPath: "/v2/health/live");
            sampler.ProcessId = worker.ProcessId;
            var workerLive = Stopwatch.GetElapsedTime(workerRestart);
            await Task.Delay(TimeSpan.FromSeconds(2), ct); // its start-up replay meets a database that is still down
            long restart2 = Stopwatch.GetTimestamp();
            await postgres.StartServerAsync(ct);
            sampler.Phase = "drain-2";
            var drain2 = await DrainAsync(spill, counting, killLoad, restart2, ct);
            var count2 = await CountAsync(counting, killLoad, ct);
            var recount1 = await CountAsync(counting, load, ct); // phase 1's records once more: a replay wrote nothing twice
            Console.WriteLine($"  {answeredAtKill} answered, {count2.Found} found, {count2.Lost} lost, {count2.Duplicates} duplicated; replayed {drain2.SpillEmpty.TotalSeconds:F1} s after PostgreSQL started");

            sampler.Stop();
            await samplerTask;
            Print(options, load, baselineWindow, outageWindow, afterWindow, count1, drain1, sampler, bufferPeak.Peak, spilledDuring,
                answeredAtKill, spilledAtKill, spillBytesAtKill, workerLive, count2, drain2, recount1);
            return count1.Lost == 0 && count2.Lost == 0 && count1.Duplicates == 0 && count2.Duplicates == 0 && recount1.Duplicates == 0 ? 0 : 1;
        }
        finally
        {
            try
            {
                Directory.Delete(spill, recursive: true);
            }
            catch (IOException)
            {
                // the OS's temp folder to clean
            }
        }
    }

    private static void Print(
        OutageOptions options, TrackedLoad load, Window baseline, Window outage, Window after, Count count1, Drain drain1, Sampler sampler, double bufferPeak, double spilledDuring,
        int answeredAtKill, double spilledAtKill, long spillBytesAtKill, TimeSpan workerLive, Count count2, Drain drain2, Count recount1)
    {
        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine(
            $"iris, 1 row per request; {options.DirectClients} closed-loop clients straight to the worker + {options.GatewayClients} through the gateway; one PostgreSQL " +
            $"for the backend and the audit log, stopped with pg_ctl stop -m fast for {options.Outage.TotalSeconds:F0} s; audit buffer bound {Mib(options.MaxBufferBytes)}, spill after {options.SpillAfter.TotalSeconds:F0} s");
        Console.WriteLine();
        MarkdownTable.Header("path", "PostgreSQL up req/s (baseline)", "PostgreSQL down req/s", "down ÷ up", "up again req/s", "failed while up / down / up again");
        foreach (var kind in new[] { "direct", "gateway" })
        {
            MarkdownTable.Row(
                kind == "direct" ? "straight to the worker" : "through the gateway", $"{baseline.Rate(kind):N0}", $"{outage.Rate(kind):N0}", Ratio(outage.Rate(kind), baseline.Rate(kind)),
                $"{after.Rate(kind):N0}", $"{baseline.Failed(kind)} / {outage.Failed(kind)} / {after.Failed(kind)}");
        }

        foreach (var (window, errors) in new[] { ("up", baseline.Errors), ("down", outage.Errors), ("up again", after.Errors) })
        {
            if (errors.Count > 0)
            {
                Console.WriteLine($"  failures while {window}: {string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}"))}");
            }
        }

        Console.WriteLine();
        var before = sampler.Of("baseline");
        var during = sampler.Of("outage");
        MarkdownTable.Header("answered 200", "records found", "lost (answered − found)", "duplicated", "spilled during the outage", "spill files peak", "spill replayed after restart", "every record stored after restart");
        MarkdownTable.Row(
            $"{load.Answered.Count:N0}", $"{count1.Found:N0}", $"{count1.Lost}", $"{count1.Duplicates}", $"{spilledDuring:N0}", Mib(sampler.SpillPeak),
            $"{drain1.SpillEmpty.TotalSeconds:F1} s", $"{drain1.AllFound.TotalSeconds:F1} s");
        Console.WriteLine();
        MarkdownTable.Header("worker RSS before (PostgreSQL up, peak)", "RSS during the outage (peak)", "during ÷ before", "growth (peak − before)", "audit buffer bound", "growth ÷ bound", "audit buffer peak (mds_audit_buffer_bytes)");
        MarkdownTable.Row(
            Mib(before.Peak), Mib(during.Peak), Ratio(during.Peak, before.Peak), Mib(during.Peak - before.Peak), Mib(options.MaxBufferBytes),
            Ratio(during.Peak - before.Peak, options.MaxBufferBytes), Mib((long)bufferPeak));
        var upAgain = sampler.Of("after");
        var replaying = sampler.Of("drain");
        Console.WriteLine(
            $"  RSS samples every 100 ms: {before.Count} before (median {Mib(before.Median)}), {during.Count} during (median {Mib(during.Median)}), " +
            $"{upAgain.Count} with PostgreSQL up again and the spill replaying under load (peak {Mib(upAgain.Peak)}, median {Mib(upAgain.Median)}), " +
            $"{replaying.Count} while the rest drained without load (peak {Mib(replaying.Peak)})");
        Console.WriteLine();
        MarkdownTable.Header("SIGKILL during an outage: answered", "spilled at the kill", "spill files at the kill", "worker live again after", "records found", "lost", "duplicated", "replayed after PostgreSQL started", "phase 1 recounted: found / duplicated");
        MarkdownTable.Row(
            $"{answeredAtKill:N0}", $"{spilledAtKill:N0}", Mib(spillBytesAtKill), $"{workerLive.TotalSeconds:F1} s", $"{count2.Found:N0}", $"{count2.Lost}", $"{count2.Duplicates}",
            $"{drain2.AllFound.TotalSeconds:F1} s", $"{recount1.Found:N0} / {recount1.Duplicates}");
        if (count1.Lost > 0 || count2.Lost > 0)
        {
            Console.WriteLine($"  LOST: phase 1 e.g. {string.Join(", ", count1.LostIds.Take(5))}; phase 2 e.g. {string.Join(", ", count2.LostIds.Take(5))}");
        }
    }

    private static string Mib(double bytes) => $"{bytes / 1024 / 1024:F1} MiB";

    private static string Ratio(double a, double b) => b > 0 ? $"{a / b:F2}" : "–";

    /// <summary>Waits until the spill files are gone and every answered id is in PostgreSQL (or the timeout); times both from <paramref name="restart"/>.</summary>
    private static async Task<Drain> DrainAsync(string spill, string counting, TrackedLoad load, long restart, CancellationToken ct)
    {
        TimeSpan? spillEmpty = null, allFound = null;
        while (Stopwatch.GetElapsedTime(restart) < DrainTimeout && (spillEmpty is null || allFound is null))
        {
            if (spillEmpty is null && Sampler.SpillBytes(spill) == 0)
            {
                spillEmpty = Stopwatch.GetElapsedTime(restart);
            }

            if (allFound is null)
            {
                try
                {
                    if ((await CountAsync(counting, load, ct)).Lost == 0)
                    {
                        allFound = Stopwatch.GetElapsedTime(restart);
                    }
                }
                catch (NpgsqlException)
                {
                    // still starting
                }
            }

            await Task.Delay(250, ct);
        }

        return new Drain(spillEmpty ?? DrainTimeout, allFound ?? DrainTimeout);
    }

    private static async Task<Count> CountAsync(string counting, TrackedLoad load, CancellationToken ct)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var connection = new NpgsqlConnection(counting))
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT \"RequestId\", count(*) FROM inference_records WHERE \"RequestId\" LIKE @p GROUP BY 1", connection);
            command.Parameters.AddWithValue("p", load.Prefix + "-%");
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                found[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var lost = load.Answered.Keys.Where(id => !found.ContainsKey(id)).ToList();
        long duplicates = found.Values.Sum(c => c - 1);
        return new Count(found.Count, lost.Count, duplicates, lost);
    }

    private static async Task<double> MetricAsync(ServiceHost worker, string name, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = worker.Url, Timeout = TimeSpan.FromSeconds(10), DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
        return Metric(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct), name);
    }

    private static double Metric(string text, string name)
    {
        double sum = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{')
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    private sealed record Count(long Found, long Lost, long Duplicates, List<string> LostIds);

    private sealed record Drain(TimeSpan SpillEmpty, TimeSpan AllFound);

    /// <summary>The highest value a worker metric reached, scraped every 500 ms until stopped.</summary>
    private sealed class MetricPeak(ServiceHost worker, string name)
    {
        private volatile bool _stopped;

        public double Peak { get; private set; }

        public void Stop() => _stopped = true;

        public async Task RunAsync(CancellationToken ct)
        {
            while (!_stopped && !ct.IsCancellationRequested)
            {
                try
                {
                    Peak = Math.Max(Peak, await MetricAsync(worker, name, ct));
                }
                catch (HttpRequestException)
                {
                    // a scrape lost; the next one counts
                }

                await Task.Delay(500, ct);
            }
        }
    }
}

/// <summary><c>audit-outage</c>'s command line.</summary>
internal sealed record OutageOptions(int Port, TimeSpan Baseline, TimeSpan Outage, int DirectClients, int GatewayClients, int KillAfter, long MaxBufferBytes, TimeSpan SpillAfter)
{
    public static OutageOptions Parse(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new OutageOptions(
            Int("--port", 0),
            TimeSpan.FromSeconds(Math.Max(1, Int("--baseline", 20))),
            TimeSpan.FromSeconds(Math.Max(1, Int("--outage", 60))),
            Math.Max(0, Int("--clients", 4)),
            Math.Max(0, Int("--gateway-clients", 2)),
            Math.Max(1, Int("--kill-after", 2000)),
            Math.Max(1, Int("--buffer-mib", 64)) * 1024L * 1024,
            TimeSpan.FromSeconds(Math.Max(1, Int("--spill-after", 5))));
    }

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>Throughput and failures of one window of a <see cref="TrackedLoad"/>.</summary>
internal sealed record Window(TimeSpan Length, Dictionary<string, long> Succeeded, Dictionary<string, long> FailedCounts, Dictionary<string, long> Errors)
{
    public double Rate(string kind) => Succeeded.GetValueOrDefault(kind) / Length.TotalSeconds;

    public long Failed(string kind) => FailedCounts.GetValueOrDefault(kind);
}

/// <summary>
/// Closed-loop clients straight to the worker and through the gateway, each request with an <c>X-Request-Id</c> of
/// <see cref="Prefix"/>; the ids answered 200 are kept, successes and failures counted per kind.
/// </summary>
internal sealed class TrackedLoad(string prefix, Uri worker, Uri gateway, AuthenticationHeaderValue token, int directClients, int gatewayClients)
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");
    private const string Path = "/v2/models/bench-outage/versions/1/infer";

    private readonly ConcurrentDictionary<string, long> _succeeded = new();
    private readonly ConcurrentDictionary<string, long> _failed = new();
    private readonly ConcurrentDictionary<string, long> _errors = new();
    private readonly List<Task> _clients = [];
    private readonly List<HttpClient> _http = [];
    private CancellationTokenSource? _stop;

    public string Prefix => prefix;

    /// <summary>The request ids answered 200.</summary>
    public ConcurrentDictionary<string, byte> Answered { get; } = new(StringComparer.Ordinal);

    public void Start(CancellationToken ct)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        foreach (var (kind, server, count, auth) in new[] { ("direct", worker, directClients, LocalCluster.WorkerAuthorization!), ("gateway", gateway, gatewayClients, token) })
        {
            if (count == 0)
            {
                continue;
            }

            var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = count, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                BaseAddress = server,
                Timeout = TimeSpan.FromSeconds(30),
            };
            http.DefaultRequestHeaders.Authorization = auth;
            _http.Add(http);
            for (int c = 0; c < count; c++)
            {
                string client = $"{prefix}-{kind[0]}{c.ToString(CultureInfo.InvariantCulture)}-";
                _clients.Add(Task.Run(() => ClientAsync(http, kind, client, _stop.Token), CancellationToken.None));
            }
        }
    }

    /// <summary>Lets the load run for <paramref name="length"/> and counts what it answered meanwhile.</summary>
    public async Task<Window> WindowAsync(Sampler sampler, string phase, TimeSpan length, CancellationToken ct)
    {
        sampler.Phase = phase;
        var succeeded = new Dictionary<string, long>(_succeeded);
        var failed = new Dictionary<string, long>(_failed);
        var errors = new Dictionary<string, long>(_errors);
        long started = Stopwatch.GetTimestamp();
        if (length > TimeSpan.Zero)
        {
            await Task.Delay(length, ct);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return new Window(
            elapsed,
            _succeeded.ToDictionary(p => p.Key, p => p.Value - succeeded.GetValueOrDefault(p.Key)),
            _failed.ToDictionary(p => p.Key, p => p.Value - failed.GetValueOrDefault(p.Key)),
            _errors.Select(p => (p.Key, Value: p.Value - errors.GetValueOrDefault(p.Key))).Where(p => p.Value > 0).ToDictionary(p => p.Key, p => p.Value));
    }

    /// <summary>Stops the clients; requests in flight finish (and count).</summary>
    public async Task StopAsync()
    {
        _stop?.Cancel();
        await Task.WhenAll(_clients);
        foreach (var http in _http)
        {
            http.Dispose();
        }

        _stop?.Dispose();
    }

    private async Task ClientAsync(HttpClient http, string kind, string client, CancellationToken stop)
    {
        var target = new Uri(Path, UriKind.Relative);
        for (long seq = 0; !stop.IsCancellationRequested; seq++)
        {
            string id = client + seq.ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(Body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add(MdsHeaders.RequestId, id);
            string? error;
            try
            {
                // Not cancelled by stop: a request sent is answered and counted.
                using var response = await http.SendAsync(request, CancellationToken.None).ConfigureAwait(false);
                await response.Content.CopyToAsync(Stream.Null, CancellationToken.None).ConfigureAwait(false);
                error = response.IsSuccessStatusCode ? null : $"{kind} {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                error = $"{kind} {e.GetType().Name}";
            }

            if (error is null)
            {
                Answered[id] = 0;
                _succeeded.AddOrUpdate(kind, 1, (_, n) => n + 1);
            }
            else
            {
                _failed.AddOrUpdate(kind, 1, (_, n) => n + 1);
                _errors.AddOrUpdate(error, 1, (_, n) => n + 1);
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false); // no busy loop on a fast failure
            }
        }
    }
}

/// <summary>Samples the worker's RSS (<c>/proc/PID/status</c> VmRSS) and the spill files' size every 100 ms, tagged with the phase.</summary>
internal sealed class Sampler(string spillDirectory, int processId) : IDisposable
{
    private readonly List<(string Phase, long Rss, long Spill)> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile int _pid = processId;
    private volatile string _phase = "start";

    public string Phase
    {
        get => _phase;
        set => _phase = value;
    }

    public int ProcessId
    {
        get => _pid;
        set => _pid = value;
    }

    public long SpillPeak
    {
        get
        {
            lock (_samples)
            {
                return _samples.Count == 0 ? 0 : _samples.Max(s => s.Spill);
            }
        }
    }

    public static long SpillBytes(string directory)
    {
        long sum = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*.spill"))
        {
            try
            {
                sum += file.Length;
            }
            catch (FileNotFoundException)
            {
                // replayed and deleted meanwhile
            }
        }

        return sum;
    }

    /// <summary>The RSS samples of <paramref name="phase"/>, in bytes.</summary>
    public (int Count, long Peak, long Median) Of(string phase)
    {
        long[] rss;
        lock (_samples)
        {
            rss = [.. _samples.Where(s => s.Phase == phase && s.Rss > 0).Select(s => s.Rss)];
        }

        Array.Sort(rss);
        return rss.Length == 0 ? (0, 0, 0) : (rss.Length, rss[^1], rss[rss.Length / 2]);
    }

    public void Stop() => _stop.Cancel();

    public async Task RunAsync(CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(linked.Token))
            {
                long sample = Rss(_pid), spill = SpillBytes(spillDirectory);
                lock (_samples)
                {
                    _samples.Add((_phase, sample, spill));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

    public void Dispose() => _stop.Dispose();

    private static long Rss(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
            // gone (killed)
        }

        return 0;
    }
}
