using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Mds.Bench;

/// <summary>
/// <c>serving</c>: how fast MDS serves one small model over V2 REST, against the thinnest server that does the same work
/// (<c>bench/Mds.Bench.Baseline</c>: one ORT session of the same model, one endpoint, JSON in and out), measured in the
/// same run: the baseline, the worker called directly (audit log off: its cost has a benchmark of its own), the
/// backend's gateway in front of that worker, and the thinnest proxy (<c>bench/Mds.Bench.Proxy</c>) in front of it;
/// closed-loop clients at each concurrency, req/s and p50/p99 latency, each phase <c>--rounds</c> times in rotating
/// order, best round reported, and each ratio also as the median of its per-round ratios. Then, on a machine with two
/// or more cores (and <c>taskset</c>), the worker, gateway and thin proxy again with the load generator and the worker
/// pinned to core 0 and the backend and the proxy to core 1:
/// what the gateway costs when it has a core of its own.
/// </summary>
internal static class ServingBench
{
    private const string Model = "bench-serving";

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64") is not { } options)
        {
            return 2;
        }

        // Each target's warm-up at 8 clients before anything is measured (--warmup seconds, default 10).
        var warmUp = TimeSpan.FromSeconds(Math.Max(1, int.Parse(AuditBenchOptions.Value(args, "--warmup") ?? "10", CultureInfo.InvariantCulture)));
        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend, a worker (audit off) and the thin baseline …");
        string onnx = Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx");
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var worker = await cluster.StartWorkerAsync("serving", new Dictionary<string, string> { ["Mds__Audit__Enabled"] = "false" }, ct);
        AuthenticationHeaderValue token;
        using (var admin = await cluster.AdminClientAsync(ct))
        {
            await LocalCluster.DeployAsync(admin, Model, onnx, replicas: 1, ct);
            token = admin.DefaultRequestHeaders.Authorization!;
        }

        var baselineUrl = ServiceHost.FreeLoopbackUrl();
        await using var baseline = ServiceHost.Start("baseline", ServiceHost.Dll("bench", "Mds.Bench.Baseline"), baselineUrl,
            new Dictionary<string, string>(), [onnx, baselineUrl.ToString().TrimEnd('/')]);
        await baseline.WaitUntilHealthyAsync("/health", TimeSpan.FromSeconds(60), ct);

        // The thinnest proxy (YARP, nothing else) in front of the same worker: what any HTTP hop costs here.
        var proxyUrl = ServiceHost.FreeLoopbackUrl();
        await using var proxy = ServiceHost.Start("proxy", ServiceHost.Dll("bench", "Mds.Bench.Proxy"), proxyUrl,
            new Dictionary<string, string>(), [worker.Url.ToString().TrimEnd('/'), proxyUrl.ToString().TrimEnd('/')]);
        await proxy.WaitUntilHealthyAsync("/health", TimeSpan.FromSeconds(60), ct);

        byte[] body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");
        // The server processes each target's requests pass through: their CPU per request says where the time goes; the
        // hop is the process in front of the worker (the backend or the thin proxy), whose own CPU is the hop's cost.
        var targets = new (string Name, Uri Server, string Path, AuthenticationHeaderValue? Auth, int[] Servers, int Hop)[]
        {
            ("baseline", baseline.Url, "/infer", null, [baseline.ProcessId], 0),
            ("worker", worker.Url, $"/v2/models/{Model}/versions/1/infer", null, [worker.ProcessId], 0),
            ("gateway", cluster.Backend.Url, $"/v2/models/{Model}/versions/1/infer", token, [cluster.Backend.ProcessId, worker.ProcessId], cluster.Backend.ProcessId),
            ("proxy", proxy.Url, $"/v2/models/{Model}/versions/1/infer", null, [proxy.ProcessId, worker.ProcessId], proxy.ProcessId),
        };
        int client = Environment.ProcessId;
        foreach (var t in targets)
        {
            Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, 8, warmUp, ct, t.Auth), t.Name);
        }

        // The hops' CPU while nothing is sent (the backend's Hangfire polling, heartbeats, routing refresh; the proxy's
        // timers): the bench charges it to the requests of each phase, a long-running gateway pays it per second, not
        // per request. Measured once, after the warm-up, and shown beside the raw figure (never instead of it).
        var idle = await IdleRatesAsync([cluster.Backend.ProcessId, proxy.ProcessId], ct);
        Console.WriteLine($"idle CPU: backend {idle[cluster.Backend.ProcessId]:F1} ms/s, thin proxy {idle[proxy.ProcessId]:F1} ms/s (over {IdleWindow.TotalSeconds:0} s with no requests)");
        var (best, cpu, rounds) = await MeasureAsync(targets, body, options, client, "", ct);

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"iris (1 row, FP32[1,4]) over V2 REST JSON; {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s per target and concurrency, best round");
        MarkdownTable.Header(
            "clients", "baseline req/s", "worker req/s", "gateway req/s", "worker ÷ baseline (goal ≥ 1.0)", "gateway ÷ worker (goal ≥ 0.85)",
            "thin proxy ÷ worker (any hop)", "gateway ÷ thin proxy (goal ≥ 0.95)", "baseline p50 / p99 ms", "worker p50 / p99 ms", "gateway p50 / p99 ms", "thin proxy p50 / p99 ms",
            "worker ÷ baseline, median of rounds", "gateway ÷ thin proxy, median of rounds");
        foreach (int c in options.Concurrency)
        {
            var (b, w, g, p) = (best[("baseline", c)], best[("worker", c)], best[("gateway", c)], best[("proxy", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture),
                F(b.RequestsPerSecond), F(w.RequestsPerSecond), F(g.RequestsPerSecond),
                R(w.RequestsPerSecond / b.RequestsPerSecond), R(g.RequestsPerSecond / w.RequestsPerSecond), R(p.RequestsPerSecond / w.RequestsPerSecond), R(g.RequestsPerSecond / p.RequestsPerSecond),
                $"{b.P50Ms:F2} / {b.P99Ms:F2}", $"{w.P50Ms:F2} / {w.P99Ms:F2}", $"{g.P50Ms:F2} / {g.P99Ms:F2}", $"{p.P50Ms:F2} / {p.P99Ms:F2}",
                R(MedianRatio(rounds, "worker", "baseline", c)), R(MedianRatio(rounds, "gateway", "proxy", c)));
        }

        // Where the CPU goes: on one host the client and every server share the cores, so req/s follows the CPU per request.
        Console.WriteLine();
        Console.WriteLine("CPU per request (user + system, µs, best round): the servers on the path, the backend alone, the load generator");
        MarkdownTable.Header("clients", "baseline", "worker", "gateway path (backend + worker)", "of which backend", "thin proxy path (proxy + worker)", "of which proxy",
            "backend − proxy (goal ≤ 10)", "backend − proxy, idle CPU subtracted", "client → baseline / worker / gateway / proxy");
        foreach (int c in options.Concurrency)
        {
            var (b, w, g, p) = (cpu[("baseline", c)], cpu[("worker", c)], cpu[("gateway", c)], cpu[("proxy", c)]);
            double gatewayIdle = IdlePerRequest(idle[cluster.Backend.ProcessId], best[("gateway", c)], options);
            double proxyIdle = IdlePerRequest(idle[proxy.ProcessId], best[("proxy", c)], options);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), U(b.Server), U(w.Server), U(g.Server), U(g.Hop), U(p.Server), U(p.Hop), U(g.Hop - p.Hop),
                U(g.Hop - gatewayIdle - (p.Hop - proxyIdle)),
                $"{U(b.Client)} / {U(w.Client)} / {U(g.Client)} / {U(p.Client)}");
        }

        await PinnedAsync(targets[1..], body, options, client, worker.ProcessId, [cluster.Backend.ProcessId, proxy.ProcessId], ct);
        return 0;
    }

    /// <summary>
    /// The gateway with a core of its own: the load generator and the worker on core 0, the backend and the thin proxy on
    /// core 1 (<c>taskset</c>, every thread); the worker directly, the gateway and the proxy again, and gateway ÷ worker.
    /// Skipped (said so) with fewer than two cores or no <c>taskset</c>. The affinity is put back afterwards.
    /// </summary>
    private static async Task PinnedAsync(
        (string Name, Uri Server, string Path, AuthenticationHeaderValue? Auth, int[] Servers, int Hop)[] targets, byte[] body, AuditBenchOptions options,
        int client, int worker, int[] hops, CancellationToken ct)
    {
        Console.WriteLine();
        if (Environment.ProcessorCount < 2 || !await TasksetAsync("0", client))
        {
            Console.WriteLine("pinned: skipped (needs two cores and taskset)");
            return;
        }

        try
        {
            await TasksetAsync("0", worker);
            foreach (int hop in hops)
            {
                await TasksetAsync("1", hop);
            }

            var (best, cpu, rounds) = await MeasureAsync(targets, body, options, client, "pinned ", ct);
            Console.WriteLine(Machine.Describe());
            Console.WriteLine("pinned: load generator and worker on core 0, backend and thin proxy on core 1");
            MarkdownTable.Header("clients", "worker req/s", "gateway req/s", "thin proxy req/s", "gateway ÷ worker", "thin proxy ÷ worker", "gateway ÷ thin proxy",
                "CPU µs/request: worker · backend · proxy", "worker p50 / p99 ms", "gateway p50 / p99 ms", "gateway ÷ thin proxy, median of rounds");
            foreach (int c in options.Concurrency)
            {
                var (w, g, p) = (best[("worker", c)], best[("gateway", c)], best[("proxy", c)]);
                MarkdownTable.Row(
                    c.ToString(CultureInfo.InvariantCulture), F(w.RequestsPerSecond), F(g.RequestsPerSecond), F(p.RequestsPerSecond),
                    R(g.RequestsPerSecond / w.RequestsPerSecond), R(p.RequestsPerSecond / w.RequestsPerSecond), R(g.RequestsPerSecond / p.RequestsPerSecond),
                    $"{U(cpu[("worker", c)].Server)} · {U(cpu[("gateway", c)].Hop)} · {U(cpu[("proxy", c)].Hop)}",
                    $"{w.P50Ms:F2} / {w.P99Ms:F2}", $"{g.P50Ms:F2} / {g.P99Ms:F2}", R(MedianRatio(rounds, "gateway", "proxy", c)));
            }
        }
        finally
        {
            string all = $"0-{Environment.ProcessorCount - 1}";
            foreach (int pid in (int[])[client, worker, .. hops])
            {
                await TasksetAsync(all, pid);
            }
        }
    }

    /// <summary>
    /// Every concurrency, every target, <c>--rounds</c> times in rotating order: the best round's result and CPU per request
    /// (µs), and every round's req/s (in round order, for <see cref="MedianRatio"/>).
    /// </summary>
    private static async Task<(Dictionary<(string, int), LoadResult> Best, Dictionary<(string, int), (double Server, double Hop, double Client)> Cpu, Dictionary<(string, int), List<double>> Rounds)> MeasureAsync(
        (string Name, Uri Server, string Path, AuthenticationHeaderValue? Auth, int[] Servers, int Hop)[] targets, byte[] body, AuditBenchOptions options,
        int client, string label, CancellationToken ct)
    {
        var best = new Dictionary<(string, int), LoadResult>();
        var cpu = new Dictionary<(string, int), (double Server, double Hop, double Client)>(); // µs per request, of the best round
        var rounds = new Dictionary<(string, int), List<double>>();
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < targets.Length; k++)
                {
                    var t = targets[(k + round) % targets.Length];
                    var (serverBefore, hopBefore, clientBefore) = (ProcessCpu.Of(t.Servers), t.Hop == 0 ? TimeSpan.Zero : ProcessCpu.Of(t.Hop), ProcessCpu.Of(client));
                    var result = Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, concurrency, options.PhaseDuration, ct, t.Auth), t.Name);
                    double requests = Math.Max(1, result.RequestsPerSecond * options.PhaseDuration.TotalSeconds);
                    var perRequest = (
                        (ProcessCpu.Of(t.Servers) - serverBefore).TotalMicroseconds / requests,
                        t.Hop == 0 ? 0 : (ProcessCpu.Of(t.Hop) - hopBefore).TotalMicroseconds / requests,
                        (ProcessCpu.Of(client) - clientBefore).TotalMicroseconds / requests);
                    (rounds.TryGetValue((t.Name, concurrency), out var rates) ? rates : rounds[(t.Name, concurrency)] = []).Add(result.RequestsPerSecond);
                    Console.WriteLine($"{label}concurrency {concurrency,3}  round {round + 1}  {t.Name,-8} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50Ms,6:F2} ms  p99 {result.P99Ms,6:F2} ms  CPU µs/request: servers {perRequest.Item1,5:F0}, hop {perRequest.Item2,5:F0}, client {perRequest.Item3,5:F0}");
                    if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.RequestsPerSecond)
                    {
                        best[(t.Name, concurrency)] = result;
                        cpu[(t.Name, concurrency)] = perRequest;
                    }
                }
            }
        }

        return (best, cpu, rounds);
    }

    /// <summary>
    /// The median over rounds of <paramref name="over"/>'s req/s ÷ <paramref name="under"/>'s in the same round. The two
    /// phases of a round run within seconds of each other, so a drift of the machine's speed between rounds (±20 % within
    /// an hour on the shared VM) cancels in each ratio; the best-round ratio beside it compares two maxima, which can come
    /// from different rounds.
    /// </summary>
    internal static double MedianRatio(Dictionary<(string, int), List<double>> rounds, string over, string under, int concurrency)
    {
        var a = rounds[(over, concurrency)];
        var b = rounds[(under, concurrency)];
        double[] ratios = [.. a.Zip(b, (x, y) => x / y).Order()];
        int n = ratios.Length;
        return n % 2 == 1 ? ratios[n / 2] : (ratios[(n / 2) - 1] + ratios[n / 2]) / 2;
    }

    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(5);

    /// <summary>Each process's CPU (ms per second) over <see cref="IdleWindow"/> with no requests.</summary>
    private static async Task<Dictionary<int, double>> IdleRatesAsync(int[] pids, CancellationToken ct)
    {
        var before = pids.ToDictionary(pid => pid, ProcessCpu.Of);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(IdleWindow, ct);
        double seconds = watch.Elapsed.TotalSeconds;
        return pids.ToDictionary(pid => pid, pid => (ProcessCpu.Of(pid) - before[pid]).TotalMilliseconds / seconds);
    }

    /// <summary>A process's idle CPU (ms/s) spread over one phase's requests, in µs per request.</summary>
    private static double IdlePerRequest(double idleMsPerSecond, LoadResult phase, AuditBenchOptions options) =>
        idleMsPerSecond * 1000 * options.PhaseDuration.TotalSeconds / Math.Max(1, phase.RequestsPerSecond * options.PhaseDuration.TotalSeconds);

    /// <summary>Sets the CPU affinity of every thread of <paramref name="pid"/>; false when <c>taskset</c> is missing or fails.</summary>
    private static async Task<bool> TasksetAsync(string cpus, int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("taskset", ["-a", "-p", "-c", cpus, pid.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null)
            {
                return false;
            }

            await process.WaitForExitAsync().ConfigureAwait(false);
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string U(double v) => v.ToString("F0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}
