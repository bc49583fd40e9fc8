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
/// order, best round reported.
/// </summary>
internal static class ServingBench
{
    private const string Model = "bench-serving";
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64") is not { } options)
        {
            return 2;
        }

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
        // The server processes each target's requests pass through: their CPU per request says where the time goes.
        var targets = new (string Name, Uri Server, string Path, AuthenticationHeaderValue? Auth, int[] Servers)[]
        {
            ("baseline", baseline.Url, "/infer", null, [baseline.ProcessId]),
            ("worker", worker.Url, $"/v2/models/{Model}/versions/1/infer", null, [worker.ProcessId]),
            ("gateway", cluster.Backend.Url, $"/v2/models/{Model}/versions/1/infer", token, [cluster.Backend.ProcessId, worker.ProcessId]),
            ("proxy", proxy.Url, $"/v2/models/{Model}/versions/1/infer", null, [proxy.ProcessId, worker.ProcessId]),
        };
        int client = Environment.ProcessId;
        foreach (var t in targets)
        {
            Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, 8, WarmUp, ct, t.Auth), t.Name);
        }

        var best = new Dictionary<(string, int), LoadResult>();
        var cpu = new Dictionary<(string, int), (double Server, double Backend, double Client)>(); // µs per request, of the best round
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < targets.Length; k++)
                {
                    var t = targets[(k + round) % targets.Length];
                    var (serverBefore, backendBefore, clientBefore) = (ProcessCpu.Of(t.Servers), ProcessCpu.Of(cluster.Backend.ProcessId), ProcessCpu.Of(client));
                    var result = Check(await InferenceLoad.RunAsync(t.Server, t.Path, body, concurrency, options.PhaseDuration, ct, t.Auth), t.Name);
                    double requests = Math.Max(1, result.RequestsPerSecond * options.PhaseDuration.TotalSeconds);
                    var perRequest = (
                        (ProcessCpu.Of(t.Servers) - serverBefore).TotalMicroseconds / requests,
                        (ProcessCpu.Of(cluster.Backend.ProcessId) - backendBefore).TotalMicroseconds / requests,
                        (ProcessCpu.Of(client) - clientBefore).TotalMicroseconds / requests);
                    Console.WriteLine($"concurrency {concurrency,3}  round {round + 1}  {t.Name,-8} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50Ms,6:F2} ms  p99 {result.P99Ms,6:F2} ms  CPU µs/request: servers {perRequest.Item1,5:F0}, client {perRequest.Item3,5:F0}");
                    if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.RequestsPerSecond)
                    {
                        best[(t.Name, concurrency)] = result;
                        cpu[(t.Name, concurrency)] = perRequest;
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"iris (1 row, FP32[1,4]) over V2 REST JSON; {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s per target and concurrency, best round");
        MarkdownTable.Header(
            "clients", "baseline req/s", "worker req/s", "gateway req/s", "worker ÷ baseline (goal ≥ 1.0)", "gateway ÷ worker (goal ≥ 0.85)",
            "thin proxy ÷ worker (any hop)", "baseline p50 / p99 ms", "worker p50 / p99 ms", "gateway p50 / p99 ms", "thin proxy p50 / p99 ms");
        foreach (int c in options.Concurrency)
        {
            var (b, w, g, p) = (best[("baseline", c)], best[("worker", c)], best[("gateway", c)], best[("proxy", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture),
                F(b.RequestsPerSecond), F(w.RequestsPerSecond), F(g.RequestsPerSecond),
                R(w.RequestsPerSecond / b.RequestsPerSecond), R(g.RequestsPerSecond / w.RequestsPerSecond), R(p.RequestsPerSecond / w.RequestsPerSecond),
                $"{b.P50Ms:F2} / {b.P99Ms:F2}", $"{w.P50Ms:F2} / {w.P99Ms:F2}", $"{g.P50Ms:F2} / {g.P99Ms:F2}", $"{p.P50Ms:F2} / {p.P99Ms:F2}");
        }

        // Where the CPU goes: on one host the client and every server share the cores, so req/s follows the CPU per request.
        Console.WriteLine();
        Console.WriteLine("CPU per request (user + system, µs, best round): the servers on the path, the backend alone, the load generator");
        MarkdownTable.Header("clients", "baseline", "worker", "gateway path (backend + worker)", "of which backend", "thin proxy path (proxy + worker)", "client → baseline / worker / gateway / proxy");
        foreach (int c in options.Concurrency)
        {
            var (b, w, g, p) = (cpu[("baseline", c)], cpu[("worker", c)], cpu[("gateway", c)], cpu[("proxy", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), U(b.Server), U(w.Server), U(g.Server), U(g.Backend), U(p.Server),
                $"{U(b.Client)} / {U(w.Client)} / {U(g.Client)} / {U(p.Client)}");
        }

        return 0;
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string U(double v) => v.ToString("F0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}
