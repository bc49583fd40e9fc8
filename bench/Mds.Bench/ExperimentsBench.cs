using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Api;

namespace Mds.Bench;

/// <summary>
/// <c>experiments</c>: what an experiment in front of a model costs a caller (issue M2-B). One worker (audit log on, the
/// default), the iris model uploaded as three versions of <c>bench-exp</c> and two of <c>bench-exp-t</c> (the same graph
/// each time, so every target does the same inference). Targets: the plain gateway (<c>/v2/models/bench-exp/infer</c>,
/// the baseline); an experiment of two candidates 50/50 (<c>bench-exp@1</c>, <c>bench-exp@2</c>) called at
/// <c>/v2/models/exp-ab.experiment/infer</c>; the same candidates with a mirror at 100 % (<c>bench-exp@3</c>); and an
/// experiment whose <c>default</c> takes over <c>/v2/models/bench-exp-t/infer</c>. Closed-loop clients at each
/// concurrency, each phase <c>--rounds</c> times in rotating order, best round reported, with the CPU per request of
/// the backend, the worker, the load generator and PostgreSQL, and the mirror copies sent and dropped in each mirror
/// phase (a caller-side ratio bought by dropping copies shows there).
/// </summary>
internal static class ExperimentsBench
{
    private const string Model = "bench-exp", TakenOver = "bench-exp-t";
    private const string Split = "exp-ab", Mirrored = "exp-mirror", Takeover = "exp-takeover";
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(10);

    // Call-log rows, audit rows and queued mirror copies are worked off after a phase: let the backlog drain before the
    // next phase starts (and count the CPU it costs to the phase that caused it).
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(2);
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64", defaultSeconds: 5, defaultRounds: 2) is not { } options)
        {
            return 2;
        }

        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend and a worker (audit on) …");
        string onnx = Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx");
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var worker = await cluster.StartWorkerAsync("experiments", new Dictionary<string, string>(), ct);
        using var admin = await cluster.AdminClientAsync(ct);
        for (int v = 1; v <= 3; v++)
        {
            await LocalCluster.DeployAsync(admin, Model, onnx, replicas: 1, ct, version: v);
        }

        for (int v = 1; v <= 2; v++)
        {
            await LocalCluster.DeployAsync(admin, TakenOver, onnx, replicas: 1, ct, version: v);
        }

        string[] specs =
        [
            $$"""{"name":"{{Split}}","candidates":[{"name":"{{Model}}","version":1,"weight":50},{"name":"{{Model}}","version":2,"weight":50}]}""",
            $$$"""{"name":"{{{Mirrored}}}","candidates":[{"name":"{{{Model}}}","version":1,"weight":50},{"name":"{{{Model}}}","version":2,"weight":50}],"mirror":{"name":"{{{Model}}}","version":3,"percent":100}}""",
            $$"""{"name":"{{Takeover}}","candidates":[{"name":"{{TakenOver}}","version":1,"weight":50},{"name":"{{TakenOver}}","version":2,"weight":50}],"default":"{{TakenOver}}@1"}""",
        ];
        foreach (string spec in specs)
        {
            if (!await CreateAsync(admin, spec, ct))
            {
                return 1;
            }
        }

        var token = admin.DefaultRequestHeaders.Authorization!;
        byte[] body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");
        var targets = new (string Name, string Path)[]
        {
            ("gateway", $"/v2/models/{Model}/infer"),
            ("experiment", $"/v2/models/{Split}.experiment/infer"),
            ("mirror", $"/v2/models/{Mirrored}.experiment/infer"),
            ("takeover", $"/v2/models/{TakenOver}/infer"),
        };
        if (!await CheckRoutesAsync(admin, targets, body, ct))
        {
            return 1;
        }

        foreach (var t in targets)
        {
            Check(await InferenceLoad.RunAsync(cluster.Backend.Url, t.Path, body, 1, TimeSpan.FromSeconds(3), ct, token), t.Name);
            Check(await InferenceLoad.RunAsync(cluster.Backend.Url, t.Path, body, 8, WarmUp, ct, token), t.Name);
        }

        await Task.Delay(Drain, ct);
        int[] servers = [cluster.Backend.ProcessId, worker.ProcessId, Environment.ProcessId];
        var best = new Dictionary<(string, int), (LoadResult Load, double[] Cpu, (long Sent, long Dropped) Mirror)>();
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < targets.Length; k++)
                {
                    var t = targets[(k + round) % targets.Length];
                    var cpuBefore = Array.ConvertAll(servers, ProcessCpu.Of);
                    var databaseBefore = await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct);
                    var mirrorBefore = await MirrorCountsAsync(admin, ct);
                    var result = Check(await InferenceLoad.RunAsync(cluster.Backend.Url, t.Path, body, concurrency, options.PhaseDuration, ct, token), t.Name);
                    await Task.Delay(Drain, ct);
                    var mirrorAfter = await MirrorCountsAsync(admin, ct);
                    var mirror = (mirrorAfter.Sent - mirrorBefore.Sent, mirrorAfter.Dropped - mirrorBefore.Dropped);
                    double requests = Math.Max(1, result.Succeeded);
                    double[] cpu =
                    [
                        .. servers.Select((pid, i) => (ProcessCpu.Of(pid) - cpuBefore[i]).TotalMicroseconds / requests),
                        DatabaseCpu.Since(databaseBefore, await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct)).TotalMicroseconds / requests,
                    ];
                    Console.WriteLine(
                        $"concurrency {concurrency,3}  round {round + 1}  {t.Name,-10} {result.RequestsPerSecond,7:F0} req/s  p50 {result.P50Ms,6:F2} ms  p99 {result.P99Ms,6:F2} ms" +
                        $"  CPU µs/request: backend {cpu[0],5:F0}, worker {cpu[1],5:F0}, client {cpu[2],5:F0}, PostgreSQL {cpu[3],5:F0}" +
                        (t.Name == "mirror" ? $"  mirror copies: {mirror.Item1} sent, {mirror.Item2} dropped" : "") +
                        $"  ({Machine.LoadAverage()})");
                    if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.Load.RequestsPerSecond)
                    {
                        best[(t.Name, concurrency)] = (result, cpu, mirror);
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"iris (1 row, FP32[1,4]) over V2 REST JSON, one worker, audit log on; {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s per target and concurrency, best round");
        MarkdownTable.Header(
            "clients", "gateway req/s", "experiment req/s", "experiment ÷ gateway (goal ≥ 0.95)", "takeover ÷ gateway (goal ≥ 0.95)",
            "mirror 100 % req/s", "mirror ÷ experiment (goal ≥ 0.9)", "mirror copies sent / dropped",
            "p50 / p99 ms: gateway", "experiment", "takeover", "mirror");
        foreach (int c in options.Concurrency)
        {
            var (g, e, m, t) = (best[("gateway", c)], best[("experiment", c)], best[("mirror", c)], best[("takeover", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), F(g.Load.RequestsPerSecond), F(e.Load.RequestsPerSecond),
                R(e.Load.RequestsPerSecond / g.Load.RequestsPerSecond), R(t.Load.RequestsPerSecond / g.Load.RequestsPerSecond),
                F(m.Load.RequestsPerSecond), R(m.Load.RequestsPerSecond / e.Load.RequestsPerSecond), $"{m.Mirror.Sent} / {m.Mirror.Dropped}",
                P(g.Load), P(e.Load), P(t.Load), P(m.Load));
        }

        Console.WriteLine();
        Console.WriteLine("CPU per request (user + system, µs, best round): backend / worker / load generator / PostgreSQL");
        MarkdownTable.Header("clients", "gateway", "experiment", "takeover", "mirror 100 %");
        foreach (int c in options.Concurrency)
        {
            MarkdownTable.Row(c.ToString(CultureInfo.InvariantCulture), C(best[("gateway", c)].Cpu), C(best[("experiment", c)].Cpu), C(best[("takeover", c)].Cpu), C(best[("mirror", c)].Cpu));
        }

        return 0;
    }

    /// <summary>Creates an experiment and waits until it is Active; on a refusal prints exactly what failed.</summary>
    private static async Task<bool> CreateAsync(HttpClient admin, string spec, CancellationToken ct)
    {
        string name = JsonDocument.Parse(spec).RootElement.GetProperty("name").GetString()!;
        using (var created = await admin.PostAsync(new Uri("/api/experiments", UriKind.Relative), new StringContent(spec, Encoding.UTF8, "application/json"), ct))
        {
            if (!created.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"POST /api/experiments: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync(ct)}\nspec: {spec}");
                return false;
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var dto = await admin.GetFromJsonAsync<ExperimentDto>(new Uri($"/api/experiments/{name}", UriKind.Relative), Web, ct);
            if (dto!.State == ExperimentStates.Active)
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                Console.Error.WriteLine($"experiment {name}: {dto.State} ({dto.Reason}) after 60 s");
                return false;
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>Every target answers 200, and the experiment targets carry the route of one of their candidates.</summary>
    private static async Task<bool> CheckRoutesAsync(HttpClient admin, IEnumerable<(string Name, string Path)> targets, byte[] body, CancellationToken ct)
    {
        foreach (var (name, path) in targets)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await admin.PostAsync(new Uri(path, UriKind.Relative), content, ct);
            string route = response.Headers.TryGetValues(MdsHeaders.Route, out var values) ? values.First() : "";
            string text = await response.Content.ReadAsStringAsync(ct);
            bool routed = name == "gateway" ? route.Length == 0 : route.Contains(':', StringComparison.Ordinal);
            if (!response.IsSuccessStatusCode || !routed)
            {
                Console.Error.WriteLine($"POST {path}: {(int)response.StatusCode} Mds-Route '{route}' {text}");
                return false;
            }

            Console.WriteLine($"pre-check: {name,-10} 200, Mds-Route '{route}'");
        }

        return true;
    }

    /// <summary>The mirror experiment's copies sent and dropped so far (this backend's counts).</summary>
    private static async Task<(long Sent, long Dropped)> MirrorCountsAsync(HttpClient admin, CancellationToken ct)
    {
        var dto = await admin.GetFromJsonAsync<ExperimentDto>(new Uri($"/api/experiments/{Mirrored}", UriKind.Relative), Web, ct);
        return dto?.Mirror is { } m ? (m.Sent, m.Dropped) : (0, 0);
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    private static string P(LoadResult r) => $"{r.P50Ms:F2} / {r.P99Ms:F2}";

    private static string C(double[] cpu) => string.Join(" / ", cpu.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)));
}
