using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Mds.Contracts.Api;
using Npgsql;

namespace Mds.Bench;

/// <summary>
/// The audit log's cost in throughput: two real workers, one with the audit log on (every inference recorded, written
/// to PostgreSQL by binary COPY) and one with <c>Mds__Audit__Enabled=false</c>, each holding a replica of the iris
/// sample, driven in turn straight on their V2 port (no gateway in between) by a closed-loop load generator at fixed
/// concurrency for a fixed time. Rounds alternate which goes first, and each phase starts with the audit buffer empty,
/// so a backlog of one phase never lands on the next. The goal: audit on ≥ 0.9 × audit off.
/// </summary>
internal static class AuditOverhead
{
    private const string Model = "bench-audit";
    // Long enough for tiered JIT to finish with both the request path and the audit writer's loop (which runs a few
    // times a second only): with 3 s, the first phase after it was measurably slower than later ones.
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args) is not { } options)
        {
            return 2;
        }

        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend and two workers (audit on, audit off) …");
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var on = await cluster.StartWorkerAsync("audit-on", new Dictionary<string, string>(), ct);
        var off = await cluster.StartWorkerAsync("audit-off", new Dictionary<string, string> { ["Mds__Audit__Enabled"] = "false" }, ct);
        using (var admin = await cluster.AdminClientAsync(ct))
        {
            await LocalCluster.DeployAsync(admin, Model, Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx"), replicas: 2, ct); // one on each worker: replicas go to distinct workers
        }

        string path = $"/v2/models/{Model}/versions/1/infer";
        byte[] body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");
        foreach (var worker in new[] { on, off })
        {
            Check(await InferenceLoad.RunAsync(worker.Url, path, body, 8, WarmUp, ct), worker);
        }

        var rows = new List<(int Concurrency, int Round, Phase On, Phase Off)>();
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 1; round <= options.Rounds; round++)
            {
                Phase? onResult = null, offResult = null;
                foreach (var worker in round % 2 == 1 ? new[] { on, off } : [off, on])
                {
                    await WaitForEmptyAuditBufferAsync(on, ct);
                    var databaseBefore = await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct);
                    var workerBefore = ProcessCpu.Of(worker.ProcessId);
                    var load = Check(await InferenceLoad.RunAsync(worker.Url, path, body, concurrency, options.PhaseDuration, ct), worker);
                    var workerCpu = ProcessCpu.Of(worker.ProcessId) - workerBefore;
                    if (worker == on)
                    {
                        await WaitForEmptyAuditBufferAsync(on, ct); // the phase's records are written: their cost belongs to it
                        workerCpu = ProcessCpu.Of(worker.ProcessId) - workerBefore;
                    }

                    var databaseCpu = DatabaseCpu.Since(databaseBefore, await DatabaseCpu.SampleAsync(cluster.ConnectionString, ct));
                    var result = new Phase(load, workerCpu, databaseCpu);
                    if (worker == on)
                    {
                        onResult = result;
                    }
                    else
                    {
                        offResult = result;
                    }
                }

                rows.Add((concurrency, round, onResult!, offResult!));
                Console.WriteLine(
                    $"concurrency {concurrency,3}  round {round}  on {onResult!.Load.RequestsPerSecond,8:F0} req/s  off {offResult!.Load.RequestsPerSecond,8:F0} req/s  " +
                    $"on/off {onResult.Load.RequestsPerSecond / offResult.Load.RequestsPerSecond:F3}  " +
                    $"CPU µs/request on: worker {onResult.WorkerMicroseconds:F0} + PostgreSQL {onResult.DatabaseMicroseconds:F0}, off: worker {offResult.WorkerMicroseconds:F0} + PostgreSQL {offResult.DatabaseMicroseconds:F0}");
            }
        }

        await WaitForEmptyAuditBufferAsync(on, ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct); // the last batch's commit
        var audit = await AuditFiguresAsync(on, cluster.ConnectionString, ct);
        PrintSummary(options, rows, audit);
        return 0;
    }

    private static LoadResult Check(LoadResult result, ServiceHost worker)
    {
        if (result.Failed > 0)
        {
            throw new InvalidOperationException($"{worker.Name}: {result.Failed} requests failed (first: {result.FirstError}):\n{worker.OutputTail}");
        }

        return result;
    }

    /// <summary>Waits until the audit worker has taken every queued record (<c>mds_audit_buffer_records</c> = 0).</summary>
    private static async Task WaitForEmptyAuditBufferAsync(ServiceHost worker, CancellationToken ct)
    {
        long started = Stopwatch.GetTimestamp();
        while (await MetricAsync(worker, "mds_audit_buffer_records", ct) > 0)
        {
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"the audit buffer of {worker.Name} did not empty within 60 s");
            }

            await Task.Delay(100, ct);
        }
    }

    private static async Task<(double Answered, double Written, double Dropped, long Rows)> AuditFiguresAsync(ServiceHost worker, string connectionString, CancellationToken ct)
    {
        double answered = await MetricAsync(worker, "mds_inference_requests_total", ct, $"model=\"{Model}\"", "status=\"ok\"");
        double written = await MetricAsync(worker, "mds_audit_records_written_total", ct);
        double dropped = await MetricAsync(worker, "mds_audit_records_dropped_total", ct);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM inference_records WHERE \"Worker\" = @w", connection);
        count.Parameters.AddWithValue("w", worker.Name);
        long rows = (long)(await count.ExecuteScalarAsync(ct))!;
        return (answered, written, dropped, rows);
    }

    /// <summary>The sum of the samples of <paramref name="name"/> on the worker's <c>/metrics</c> whose labels contain every one of <paramref name="labels"/>.</summary>
    private static async Task<double> MetricAsync(ServiceHost worker, string name, CancellationToken ct, params string[] labels)
    {
        using var http = new HttpClient { BaseAddress = worker.Url, Timeout = TimeSpan.FromSeconds(10), DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
        string text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        double sum = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{'
                && labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    private static void PrintSummary(AuditBenchOptions options, List<(int Concurrency, int Round, Phase On, Phase Off)> rows, (double Answered, double Written, double Dropped, long Rows) audit)
    {
        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"{options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:F0} s per worker and concurrency; iris, 1 row per request, straight to the worker");
        MarkdownTable.Header("concurrency", "round", "audit on req/s", "audit off req/s", "on / off", "CPU µs/req on (worker + PostgreSQL)", "CPU µs/req off (worker + PostgreSQL)");
        foreach (var row in rows)
        {
            MarkdownTable.Row(
                $"{row.Concurrency}", $"{row.Round}", $"{row.On.Load.RequestsPerSecond:N0}", $"{row.Off.Load.RequestsPerSecond:N0}",
                $"{row.On.Load.RequestsPerSecond / row.Off.Load.RequestsPerSecond:F2}",
                $"{row.On.WorkerMicroseconds:F0} + {row.On.DatabaseMicroseconds:F0}", $"{row.Off.WorkerMicroseconds:F0} + {row.Off.DatabaseMicroseconds:F0}");
        }

        Console.WriteLine();
        MarkdownTable.Header("concurrency", "audit on req/s (all rounds)", "audit off req/s (all rounds)", "on / off", "lowest round ratio", "CPU per request on / off");
        foreach (var group in rows.GroupBy(r => r.Concurrency))
        {
            double onRate = group.Sum(r => r.On.Load.Succeeded) / group.Sum(r => r.On.Load.Elapsed.TotalSeconds);
            double offRate = group.Sum(r => r.Off.Load.Succeeded) / group.Sum(r => r.Off.Load.Elapsed.TotalSeconds);
            double lowest = group.Min(r => r.On.Load.RequestsPerSecond / r.Off.Load.RequestsPerSecond);
            double onCpu = group.Sum(r => (r.On.WorkerCpu + r.On.DatabaseCpu).TotalSeconds) / group.Sum(r => r.On.Load.Succeeded);
            double offCpu = group.Sum(r => (r.Off.WorkerCpu + r.Off.DatabaseCpu).TotalSeconds) / group.Sum(r => r.Off.Load.Succeeded);
            MarkdownTable.Row($"{group.Key}", $"{onRate:N0}", $"{offRate:N0}", $"{onRate / offRate:F2}", $"{lowest:F2}", $"{onCpu / offCpu:F2}");
        }

        Console.WriteLine();
        Console.WriteLine(
            $"audit-on worker: {audit.Answered:F0} inferences answered (warm-up included), {audit.Written:F0} records written " +
            $"({audit.Rows} rows in inference_records), {audit.Dropped:F0} dropped");
    }
}

/// <summary>One load phase on one worker, with the CPU the worker and PostgreSQL (the bench's database) spent on it.</summary>
internal sealed record Phase(LoadResult Load, TimeSpan WorkerCpu, TimeSpan DatabaseCpu)
{
    public double WorkerMicroseconds => WorkerCpu.TotalMicroseconds / Load.Succeeded;

    public double DatabaseMicroseconds => DatabaseCpu.TotalMicroseconds / Load.Succeeded;
}
