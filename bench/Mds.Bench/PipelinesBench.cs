using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ModelGen;

namespace Mds.Bench;

/// <summary>
/// <c>pipelines</c>: what running a chain inside the backend saves a client. A three-step chain pipeline (three small
/// FP32 models, x [n, 4] → y [n, 4], each step's <c>y</c> mapped onto the next one's <c>x</c> by <c>tensorMap</c>) called
/// through <c>/v2/pipelines/{name}/infer</c>, against the baseline of the same three calls made one after another by
/// the client through the gateway (<c>/v2/models/{m}/infer</c> ×3, each request built from the previous answer), on one
/// worker with the audit log on (the default). Closed-loop clients at each concurrency, each phase <c>--rounds</c>
/// times in rotating order, best round reported; a chain is one unit of work in both. Besides chains/s and latency it
/// reports the executor's own cost per step, (run latency − Σ step call latencies) ÷ steps, two ways: from the
/// <c>/metrics</c> histogram sums (every run of the phase) and from the run records (the last ≤ 500 runs, per run, so a
/// median), the CPU per chain of the backend, the worker, the load generator and PostgreSQL, and any run records dropped.
/// </summary>
internal static class PipelinesBench
{
    private const string Pipeline = "bench-chain";
    private const int Steps = 3, Width = 4;
    private const int MaxRunRecords = 500; // the most GET /api/pipelines/{name}/runs returns
    // With 3 s the first measured phase (pipeline, one client) ran at about a third of its later rounds on the busy two
    // cores, its backend spending ~3.5 ms of CPU per chain (most likely tiered JIT not yet done). With 10 s, as serving,
    // it still ran at about half once: report the best of two rounds or more.
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(10);

    // Run records and audit rows are written off the request path: let each phase's backlog drain before the next starts
    // (and count the CPU it costs to the phase that caused it).
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(2);

    private static readonly string[] Models = [.. Enumerable.Range(1, Steps).Select(i => $"{Pipeline}-{i.ToString(CultureInfo.InvariantCulture)}")];

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64", defaultSeconds: 5, defaultRounds: 2) is not { } options)
        {
            return 2;
        }

        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend and a worker (audit on) …");
        string scratch = Directory.CreateTempSubdirectory("mds-bench-pipelines-").FullName;
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var worker = await cluster.StartWorkerAsync("pipelines", new Dictionary<string, string>(), ct);
        using var admin = await cluster.AdminClientAsync(ct);
        for (int i = 0; i < Steps; i++)
        {
            string onnx = Path.Combine(scratch, Models[i] + ".onnx");
            await File.WriteAllBytesAsync(onnx, TestGraphs.Mlp(seed: i + 1, Width, Width), ct); // distinct weights: the order of the steps shows in the answer
            await LocalCluster.DeployAsync(admin, Models[i], onnx, replicas: 1, ct);
        }

        if (!await ApplyPipelineAsync(admin, ct))
        {
            return 1;
        }

        var token = admin.DefaultRequestHeaders.Authorization!;
        byte[] body = Encoding.UTF8.GetBytes($$"""{"inputs":[{"name":"x","shape":[1,{{Width}}],"datatype":"FP32","data":[0.5,-1.25,2.0,0.75]}]}""");
        string pipelinePath = $"/v2/pipelines/{Pipeline}/infer";
        if (!await CheckAnswersAsync(admin, pipelinePath, body, ct))
        {
            return 1;
        }

        var targets = new (string Name, Func<int, TimeSpan, Task<LoadResult>> Run)[]
        {
            ("pipeline", (c, d) => InferenceLoad.RunAsync(cluster.Backend.Url, pipelinePath, body, c, d, ct, token)),
            ("chained", (c, d) => InferenceLoad.RunExchangeAsync(cluster.Backend.Url, http => ChainAsync(http, body, ct), c, d, ct, token)),
        };
        foreach (var t in targets)
        {
            Check(await t.Run(1, TimeSpan.FromSeconds(3)), t.Name);
            Check(await t.Run(8, WarmUp), t.Name);
        }

        int[] servers = [cluster.Backend.ProcessId, worker.ProcessId, Environment.ProcessId];
        var best = new Dictionary<(string, int), (LoadResult Load, double[] CpuPerChain, ExecutorCost? Executor)>();
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < targets.Length; k++)
                {
                    var t = targets[(k + round) % targets.Length];
                    var cpuBefore = Array.ConvertAll(servers, ProcessCpu.Of);
                    var databaseBefore = await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct);
                    var metricsBefore = await PipelineTotals.ReadAsync(admin, ct);
                    var started = DateTimeOffset.UtcNow;
                    var result = Check(await t.Run(concurrency, options.PhaseDuration), t.Name);
                    await Task.Delay(Drain, ct);
                    double chains = Math.Max(1, result.Succeeded);
                    double[] cpu =
                    [
                        .. servers.Select((pid, i) => (ProcessCpu.Of(pid) - cpuBefore[i]).TotalMicroseconds / chains),
                        DatabaseCpu.Since(databaseBefore, await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct)).TotalMicroseconds / chains,
                    ];
                    var metricsAfter = await PipelineTotals.ReadAsync(admin, ct);
                    ExecutorCost? executor = t.Name == "pipeline"
                        ? new ExecutorCost(metricsBefore.PerStepUs(metricsAfter), await RunRecordMedianPerStepUsAsync(admin, started, ct))
                        : null;
                    Console.WriteLine(
                        $"concurrency {concurrency,3}  round {round + 1}  {t.Name,-8} {result.RequestsPerSecond,7:F0} chains/s  p50 {result.P50Ms,6:F2} ms  p99 {result.P99Ms,6:F2} ms" +
                        $"  CPU µs/chain: backend {cpu[0],5:F0}, worker {cpu[1],5:F0}, client {cpu[2],5:F0}, PostgreSQL {cpu[3],5:F0}" +
                        (executor is { } e ? $"  executor µs/step: metrics {e.MetricsMeanUs:F0}, run records median {e.RecordsMedianUs:F0} ({e.Records.Runs} runs)" : "") +
                        (metricsAfter.DroppedRecords > metricsBefore.DroppedRecords ? $"  run records dropped: {metricsAfter.DroppedRecords - metricsBefore.DroppedRecords:F0}" : ""));
                    if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.Load.RequestsPerSecond)
                    {
                        best[(t.Name, concurrency)] = (result, cpu, executor);
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"{Steps}-step chain of FP32 [1,{Width}] MLPs (one MatMul, Add each), one worker, audit log on; {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s per target and concurrency, best round");
        MarkdownTable.Header(
            "clients", "pipeline chains/s", "client-chained chains/s", "pipeline ÷ chained (goal ≥ 1.2)", "pipeline p50 / p99 ms", "chained p50 / p99 ms",
            "executor µs/step: run-record median / metrics mean", "backend CPU µs/chain: pipeline / chained", "worker CPU µs/chain: pipeline / chained",
            "client CPU µs/chain: pipeline / chained", "PostgreSQL CPU µs/chain: pipeline / chained");
        foreach (int c in options.Concurrency)
        {
            var (p, h) = (best[("pipeline", c)], best[("chained", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), F(p.Load.RequestsPerSecond), F(h.Load.RequestsPerSecond), R(p.Load.RequestsPerSecond / h.Load.RequestsPerSecond),
                $"{p.Load.P50Ms:F2} / {p.Load.P99Ms:F2}", $"{h.Load.P50Ms:F2} / {h.Load.P99Ms:F2}",
                $"{U(p.Executor!.RecordsMedianUs)} / {U(p.Executor.MetricsMeanUs)}",
                $"{U(p.CpuPerChain[0])} / {U(h.CpuPerChain[0])}", $"{U(p.CpuPerChain[1])} / {U(h.CpuPerChain[1])}", $"{U(p.CpuPerChain[2])} / {U(h.CpuPerChain[2])}",
                $"{U(p.CpuPerChain[3])} / {U(h.CpuPerChain[3])}");
        }

        return 0;
    }

    /// <summary>Applies the chain and waits until it is live; on a refusal prints exactly what failed.</summary>
    private static async Task<bool> ApplyPipelineAsync(HttpClient admin, CancellationToken ct)
    {
        var steps = Enumerable.Range(0, Steps).Select(i => i == 0
            ? $$"""{"name":"s1","model":"{{Models[0]}}"}"""
            : $$$"""{"name":"s{{{i + 1}}}","model":"{{{Models[i]}}}","inputs":["s{{{i}}}.outputs.y"],"tensorMap":{"s{{{i}}}.outputs.y":"x"}}""");
        string spec = $$$"""{"name":"{{{Pipeline}}}","steps":[{{{string.Join(',', steps)}}}],"output":{"steps":["s{{{Steps}}}"]}}""";
        using (var applied = await admin.PostAsync(new Uri("/api/pipelines", UriKind.Relative), new StringContent(spec, Encoding.UTF8, "application/json"), ct))
        {
            if (!applied.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"POST /api/pipelines: {(int)applied.StatusCode} {await applied.Content.ReadAsStringAsync(ct)}\nspec: {spec}");
                return false;
            }
        }

        var ready = new Uri($"/v2/pipelines/{Pipeline}/ready", UriKind.Relative);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var answer = await admin.GetAsync(ready, ct);
            if (answer.IsSuccessStatusCode)
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                Console.Error.WriteLine($"GET {ready}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(ct)} after 60 s");
                return false;
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// The baseline: the three calls a client makes without pipelines, each request built from the previous answer
    /// (decoded and encoded again, as a client would). <paramref name="last"/> gets the final answer's first output.
    /// </summary>
    private static async Task<string?> ChainAsync(HttpClient http, byte[] body, CancellationToken ct, Action<InferenceTensor>? last = null)
    {
        for (int i = 0; ; i++)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(new Uri($"/v2/models/{Models[i]}/infer", UriKind.Relative), content, ct).ConfigureAwait(false);
            byte[] answer = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return $"{Models[i]}: {(int)response.StatusCode} {Encoding.UTF8.GetString(answer)}";
            }

            if (i == Steps - 1 && last is null)
            {
                return null;
            }

            var y = V2JsonCodec.DecodeResponse(answer).Outputs[0];
            if (i == Steps - 1)
            {
                last!(y);
                return null;
            }

            var next = new ArrayBufferWriter<byte>(answer.Length);
            V2JsonCodec.WriteRequest(next, new InferenceRequest { Inputs = [new InferenceTensor("x", y.Datatype, y.Shape, y.Data)] });
            body = next.WrittenSpan.ToArray();
        }
    }

    /// <summary>One pipeline call and one client chain must give the same numbers, or the comparison means nothing.</summary>
    private static async Task<bool> CheckAnswersAsync(HttpClient admin, string pipelinePath, byte[] body, CancellationToken ct)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await admin.PostAsync(new Uri(pipelinePath, UriKind.Relative), content, ct);
        byte[] answer = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"POST {pipelinePath}: {(int)response.StatusCode} {Encoding.UTF8.GetString(answer)}");
            return false;
        }

        float[] viaPipeline = (float[])V2JsonCodec.DecodeResponse(answer).Outputs[0].Data;
        float[]? chained = null;
        string? error = await ChainAsync(admin, body, ct, last => chained = (float[])last.Data);
        if (error is not null || chained is null || !viaPipeline.AsSpan().SequenceEqual(chained))
        {
            Console.Error.WriteLine($"the pipeline answered [{string.Join(", ", viaPipeline)}], the client chain {error ?? $"[{string.Join(", ", chained ?? [])}]"}");
            return false;
        }

        Console.WriteLine($"pre-check: pipeline and client chain both answer [{string.Join(", ", viaPipeline.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}]");
        return true;
    }

    /// <summary>The median over the phase's successful runs (the newest ≤ 500) of (run latency − Σ step latencies) ÷ steps, in µs.</summary>
    private static async Task<(double MedianUs, int Runs)> RunRecordMedianPerStepUsAsync(HttpClient admin, DateTimeOffset since, CancellationToken ct)
    {
        var runs = await admin.GetFromJsonAsync<List<PipelineRunDto>>(
            new Uri($"/api/pipelines/{Pipeline}/runs?limit={MaxRunRecords}&status=200", UriKind.Relative), ct) ?? [];
        double[] perStep = [.. runs.Where(r => r.Time >= since)
            .Select(r => (r.LatencyMs - r.Steps.Sum(s => s.LatencyMs ?? 0)) * 1000 / r.Steps.Count)
            .Order()];
        return (perStep.Length == 0 ? double.NaN : perStep[perStep.Length / 2], perStep.Length);
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} chains failed (first: {result.FirstError})");

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string U(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The executor's own cost per step, µs: the mean over every run of a phase (metrics) and the median of its last runs (records).</summary>
    private sealed record ExecutorCost(double MetricsMeanUs, (double MedianUs, int Runs) Records)
    {
        public double RecordsMedianUs => Records.MedianUs;
    }

    /// <summary>
    /// The bench pipeline's histogram totals at <c>/metrics</c>: runs, seconds in runs, seconds in step calls
    /// (<c>mds_pipeline_duration_seconds</c>, <c>mds_pipeline_step_duration_seconds</c>, summed over their labels), and
    /// the run records dropped so far (<c>mds_pipeline_records_dropped_total</c>, all pipelines: it has no labels).
    /// </summary>
    private readonly record struct PipelineTotals(double Runs, double RunSeconds, double StepSeconds, double DroppedRecords)
    {
        public static async Task<PipelineTotals> ReadAsync(HttpClient backend, CancellationToken ct)
        {
            string text = await backend.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
            double runs = 0, runSeconds = 0, stepSeconds = 0, dropped = 0;
            string label = $"pipeline=\"{Pipeline}\"";
            foreach (string line in text.Split('\n'))
            {
                if (line.StartsWith("mds_pipeline_records_dropped_total ", StringComparison.Ordinal))
                {
                    dropped = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
                    continue;
                }

                if (line.StartsWith('#') || !line.Contains(label, StringComparison.Ordinal))
                {
                    continue;
                }

                string name = line[..line.IndexOf('{', StringComparison.Ordinal)];
                double value = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
                switch (name)
                {
                    case "mds_pipeline_duration_seconds_count": runs += value; break;
                    case "mds_pipeline_duration_seconds_sum": runSeconds += value; break;
                    case "mds_pipeline_step_duration_seconds_sum": stepSeconds += value; break;
                }
            }

            return new PipelineTotals(runs, runSeconds, stepSeconds, dropped);
        }

        /// <summary>(Δ run seconds − Δ step seconds) ÷ Δ runs ÷ steps, in µs, from this reading to <paramref name="after"/>.</summary>
        public double PerStepUs(PipelineTotals after) => after.Runs <= Runs
            ? double.NaN
            : ((after.RunSeconds - RunSeconds) - (after.StepSeconds - StepSeconds)) * 1e6 / (after.Runs - Runs) / Steps;
    }
}
