using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Mds.Contracts.Api;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Mds.Bench;

/// <summary>
/// <c>streams</c>: streaming against request/response on the same model (issue M2-C). A nats-server of the bench's own,
/// the backend pointed at it, one worker (audit log on, the default: every streamed inference is an inference record),
/// the iris model twice — <c>bench-stream</c> with adaptive batching on (64 rows, 500 µs) and
/// <c>bench-stream-single</c> with it off. Per model, in the same run: REST through the gateway at <c>--concurrency</c>
/// closed-loop clients (64), best of <c>--rounds</c>; then <c>--messages</c> V2 JSON messages published to
/// <c>mds.models.{name}.inputs</c> as fast as one publisher can (a window of publishes awaiting their JetStream acks)
/// while a JetStream ordered consumer reads <c>.outputs</c>: messages/s end to end (first publish → last output stored)
/// and latency (each message's publish time, carried in an <c>x-</c> header that is copied to the output → the output's
/// JetStream stored time). Then memory: <c>--waiting</c> small messages published behind a model with no Ready replica
/// (no worker yet): the backend's RSS and managed heap before, while they wait, while they flow once a worker comes,
/// and after the stream is disabled and cleaned. CPU per message of the backend, the worker, nats-server and this
/// process (the load generator) is printed with each phase, and the load average, since the machine is shared.
/// </summary>
internal static class StreamsBench
{
    private const string Batched = "bench-stream", Single = "bench-stream-single", Unready = "bench-stream-wait";
    private const int MaxBatchSize = 64, BatchLatencyUs = 500, PublishWindow = 2048;
    private const string SentHeader = "x-bench-sent";
    private static readonly NatsRawSerializer<byte[]> Raw = NatsRawSerializer<byte[]>.Default;
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "64", defaultSeconds: 10, defaultRounds: 2) is not { } options)
        {
            return 2;
        }

        int messages = int.Parse(Option(args, "--messages") ?? "100000", CultureInfo.InvariantCulture);
        int waiting = int.Parse(Option(args, "--waiting") ?? "1000000", CultureInfo.InvariantCulture);
        int drainSeconds = int.Parse(Option(args, "--drain-seconds") ?? "30", CultureInfo.InvariantCulture);
        int? natsPort = Option(args, "--nats-port") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : null;
        int clients = options.Concurrency.Max();
        var backendSettings = new Dictionary<string, string>();
        // --stream-setting Name=Value (repeatable): Mds:Streaming:Name for the backend, to compare settings.
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--stream-setting" && args[i + 1].Split('=', 2) is [var name, var value])
            {
                backendSettings[$"Mds__Streaming__{name.Replace(":", "__", StringComparison.Ordinal)}"] = value;
            }
        }

        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting nats-server, a database and the backend …");
        await using var nats = await BenchNats.StartAsync(natsPort, ct);
        backendSettings["Mds__Streaming__Nats__Url"] = nats.Url;
        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct, backendSettings);
        using var admin = await cluster.AdminClientAsync(ct);
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url, Name = "mds-bench", RequestTimeout = TimeSpan.FromSeconds(30), CommandTimeout = TimeSpan.FromSeconds(30) });
        await connection.ConnectAsync();
        var js = new NatsJSContext(connection);
        string onnx = Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx");
        Console.WriteLine($"nats-server on {nats.Url}; backend settings: {string.Join(", ", backendSettings.Where(kv => !kv.Key.EndsWith("Url", StringComparison.Ordinal)).Select(kv => $"{kv.Key}={kv.Value}").DefaultIfEmpty("defaults"))}");

        MemoryReport? memory = null;
        ServiceHost worker;
        if (waiting > 0)
        {
            (memory, worker) = await MemoryPhaseAsync(cluster, admin, js, onnx, waiting, drainSeconds, ct);
        }
        else
        {
            worker = await cluster.StartWorkerAsync("streams", new Dictionary<string, string>(), ct);
        }

        await LocalCluster.DeployAsync(admin, Batched, onnx, replicas: 1, ct);
        await LocalCluster.DeployAsync(admin, Single, onnx, replicas: 1, ct);
        using (var on = await admin.PutAsJsonAsync(new Uri($"/api/models/{Batched}/versions/1/batching", UriKind.Relative), new BatchingDto(true, MaxBatchSize, BatchLatencyUs), ct))
        {
            on.EnsureSuccessStatusCode();
        }

        var token = admin.DefaultRequestHeaders.Authorization!;
        int[] servers = [cluster.Backend.ProcessId, worker.ProcessId, nats.ProcessId, Environment.ProcessId];
        var results = new List<(string Model, LoadResult Http, double[] RestCpu, StreamResult Stream, double[] StreamCpu, double RestBatch, double StreamBatch)>();
        foreach (string model in new[] { Batched, Single })
        {
            string path = $"/v2/models/{model}/infer";
            await EnableAsync(admin, js, model, ct);
            Console.WriteLine($"{model}: warming up (REST 8 clients 5 s, 2,000 stream messages) …  ({Machine.LoadAverage()})");
            Check(await InferenceLoad.RunAsync(cluster.Backend.Url, path, Body, 8, TimeSpan.FromSeconds(5), ct, token), model);
            await StreamAsync(js, model, 2000, $"warm-{model}", ct);

            LoadResult? bestRest = null;
            StreamResult? bestStream = null;
            double[] restCpu = [], streamCpu = [];
            double restBatch = 0, streamBatch = 0;
            for (int round = 0; round < options.Rounds; round++)
            {
                var cpu = Cpu(servers);
                var stats = await WorkerStats.OfAsync(worker.Url, model, ct);
                var rest = Check(await InferenceLoad.RunAsync(cluster.Backend.Url, path, Body, clients, options.PhaseDuration, ct, token), model);
                var restPer = PerUnit(servers, cpu, rest.Succeeded);
                double batch = MeanBatch(stats, await WorkerStats.OfAsync(worker.Url, model, ct));
                Console.WriteLine($"{model,-20} round {round + 1}  REST {clients} clients {rest.RequestsPerSecond,7:F0} req/s  p50 {rest.P50Ms,6:F2} ms  p99 {rest.P99Ms,6:F2} ms  worker mean batch {batch,4:F1}  CPU µs/request: {CpuText(restPer)}  ({Machine.LoadAverage()})");
                if (bestRest is null || rest.RequestsPerSecond > bestRest.RequestsPerSecond)
                {
                    (bestRest, restCpu, restBatch) = (rest, restPer, batch);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                cpu = Cpu(servers);
                stats = await WorkerStats.OfAsync(worker.Url, model, ct);
                var stream = await StreamAsync(js, model, messages, $"r{round}-{model}", ct);
                var streamPer = PerUnit(servers, cpu, stream.Outputs);
                batch = MeanBatch(stats, await WorkerStats.OfAsync(worker.Url, model, ct));
                Console.WriteLine($"{model,-20} round {round + 1}  stream {stream.Outputs:N0}/{messages:N0} outputs {stream.MessagesPerSecond,7:F0} msg/s  (publisher alone {stream.PublishedPerSecond,7:F0} msg/s)  p50 {stream.P50Ms,7:F1} ms  p99 {stream.P99Ms,7:F1} ms  worker mean batch {batch,4:F1}  CPU µs/message: {CpuText(streamPer)}  ({Machine.LoadAverage()})");
                if (bestStream is null || stream.MessagesPerSecond > bestStream.MessagesPerSecond)
                {
                    (bestStream, streamCpu, streamBatch) = (stream, streamPer, batch);
                }
            }

            var counters = await CountersAsync(admin, model, ct);
            Console.WriteLine($"{model}: stream counters: received {counters.Received:N0}, published {counters.Published:N0}, errors {counters.Errors:N0}, redeliveries {counters.Redeliveries:N0}");
            await DisableAsync(admin, model, clean: true, ct);
            results.Add((model, bestRest!, restCpu, bestStream!, streamCpu, restBatch, streamBatch));
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"iris (1 row, FP32[1,4], V2 JSON); REST through the gateway at {clients} clients, best of {options.Rounds} × {options.PhaseDuration.TotalSeconds:0} s; stream: {messages:N0} messages per round, best of {options.Rounds}; one worker (audit on), nats-server on loopback");
        MarkdownTable.Header(
            "model batching", "REST req/s", "stream msg/s", "stream ÷ REST (goal ≥ 1.5 batching on)", "stream p50 / p99 ms (publish → output stored)",
            "REST p50 / p99 ms", "publisher msg/s", "worker mean batch REST / stream");
        foreach (var r in results)
        {
            MarkdownTable.Row(
                r.Model == Batched ? $"on ({MaxBatchSize} rows, {BatchLatencyUs} µs)" : "off",
                F(r.Http.RequestsPerSecond), F(r.Stream.MessagesPerSecond), R(r.Stream.MessagesPerSecond / r.Http.RequestsPerSecond),
                $"{r.Stream.P50Ms:F1} / {r.Stream.P99Ms:F1}", $"{r.Http.P50Ms:F2} / {r.Http.P99Ms:F2}", F(r.Stream.PublishedPerSecond),
                $"{r.RestBatch:F1} / {r.StreamBatch:F1}");
        }

        Console.WriteLine();
        Console.WriteLine("CPU per request / message (user + system, µs, best round): backend / worker / nats-server / load generator (publisher + output reader)");
        MarkdownTable.Header("model batching", "REST", "stream");
        foreach (var r in results)
        {
            MarkdownTable.Row(r.Model == Batched ? "on" : "off", CpuText(r.RestCpu), CpuText(r.StreamCpu));
        }

        if (memory is { } m)
        {
            Console.WriteLine();
            Console.WriteLine($"memory of the backend with {m.Waiting:N0} small messages ({Body.Length} bytes + headers) waiting behind a model with no Ready replica (MaxInFlight per stream bounds what is held)");
            MarkdownTable.Header("moment", "RSS MiB", "managed heap MiB", "backlog (consumer pending)", "note");
            foreach (var row in m.Rows)
            {
                MarkdownTable.Row(row.Moment, Mib(row.Rss), row.Heap is long h ? Mib(h) : "n/a", row.Backlog?.ToString("N0", CultureInfo.InvariantCulture) ?? "", row.Note);
            }
        }

        return 0;
    }

    private sealed record StreamResult(int Outputs, double MessagesPerSecond, double PublishedPerSecond, double P50Ms, double P99Ms);

    private sealed record MemoryRow(string Moment, long Rss, long? Heap, long? Backlog, string Note);

    private sealed record MemoryReport(int Waiting, List<MemoryRow> Rows);

    /// <summary>
    /// Publishes <paramref name="count"/> messages to the model's input (ids <c>{tag}-{i}</c>, a window of
    /// <see cref="PublishWindow"/> publishes awaiting their acks) while reading its outputs from the moment before the
    /// first publish; ends when every id has an output (or nothing new came for 60 s).
    /// </summary>
    private static async Task<StreamResult> StreamAsync(NatsJSContext js, string model, int count, string tag, CancellationToken ct)
    {
        string subject = $"mds.models.{model}.inputs";
        var started = DateTimeOffset.UtcNow;
        var consumer = await js.CreateOrderedConsumerAsync($"mds-models-{model}-outputs",
            new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartTime, OptStartTime = started.AddSeconds(-1) }, ct);
        var seen = new bool[count];
        var latency = new double[count];
        int outputs = 0;
        long lastProgress = Stopwatch.GetTimestamp();
        DateTimeOffset lastStored = started;
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        string prefix = tag + "-";
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var msg in consumer.ConsumeAsync(Raw, cancellationToken: reading.Token))
                {
                    if (msg.Headers is not { } h || !h.TryGetValue(StreamHeadersId, out var id) || !id.ToString().StartsWith(prefix, StringComparison.Ordinal)
                        || !int.TryParse(id.ToString().AsSpan(prefix.Length), CultureInfo.InvariantCulture, out int i) || i < 0 || i >= count || seen[i])
                    {
                        continue;
                    }

                    seen[i] = true;
                    var stored = msg.Metadata?.Timestamp ?? DateTimeOffset.UtcNow;
                    long sentUs = h.TryGetValue(SentHeader, out var sent) ? long.Parse(sent.ToString(), CultureInfo.InvariantCulture) : 0;
                    latency[i] = (stored - DateTimeOffset.FromUnixTimeMilliseconds(0)).TotalMicroseconds - sentUs;
                    if (stored > lastStored)
                    {
                        lastStored = stored;
                    }

                    lastProgress = Stopwatch.GetTimestamp();
                    if (++outputs == count)
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (reading.IsCancellationRequested)
            {
            }
        }, ct);

        double publishedPerSecond = await PublishAsync(js, subject, count, tag, ct);
        while (!reader.IsCompleted && Stopwatch.GetElapsedTime(lastProgress) < TimeSpan.FromSeconds(60))
        {
            await Task.WhenAny(reader, Task.Delay(500, ct));
        }

        await reading.CancelAsync();
        await reader;
        if (outputs < count)
        {
            Console.WriteLine($"  {tag}: only {outputs:N0} of {count:N0} outputs came (nothing new for 60 s)");
        }

        double[] ms = [.. latency.Where((_, i) => seen[i]).Select(us => us / 1000)];
        Array.Sort(ms);
        double P(double q) => ms.Length == 0 ? double.NaN : ms[Math.Min(ms.Length - 1, (int)(q * ms.Length))];
        double seconds = Math.Max(1e-3, (lastStored - started).TotalSeconds);
        return new StreamResult(outputs, outputs / seconds, publishedPerSecond, P(0.5), P(0.99));
    }

    private const string StreamHeadersId = "mds-request-id";

    /// <summary>Publishes <paramref name="count"/> messages as fast as one publisher can: up to <see cref="PublishWindow"/> awaiting their JetStream acks. Returns messages/s.</summary>
    private static async Task<double> PublishAsync(NatsJSContext js, string subject, int count, string tag, CancellationToken ct, Action<int>? progress = null)
    {
        using var window = new SemaphoreSlim(PublishWindow, PublishWindow);
        int failed = 0;
        string? firstError = null;
        long started = Stopwatch.GetTimestamp();
        async Task OneAsync(NatsHeaders headers)
        {
            try
            {
                var ack = await js.PublishAsync(subject, Body, Raw, headers: headers, cancellationToken: ct);
                ack.EnsureSuccess();
            }
            catch (Exception e) when (e is NatsException or TimeoutException)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, e.Message, null);
            }
            finally
            {
                window.Release();
            }
        }

        for (int i = 0; i < count; i++)
        {
            await window.WaitAsync(ct);
            var headers = new NatsHeaders
            {
                ["mds-request-id"] = $"{tag}-{i.ToString(CultureInfo.InvariantCulture)}",
                ["content-type"] = "application/json",
                [SentHeader] = ((long)(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(0)).TotalMicroseconds).ToString(CultureInfo.InvariantCulture),
            };
            _ = OneAsync(headers);
            if (progress is not null && (i + 1) % 100_000 == 0)
            {
                progress(i + 1);
            }
        }

        for (int k = 0; k < PublishWindow; k++)
        {
            await window.WaitAsync(ct); // every ack in
        }

        if (failed > 0)
        {
            throw new InvalidOperationException($"{failed} of {count} publishes failed (first: {firstError})");
        }

        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    /// <summary>
    /// The model is uploaded with no worker to run it, stream-enabled, and <paramref name="count"/> messages published;
    /// the backend's memory is sampled before, while they wait, while they flow once a worker comes, and after the
    /// stream is disabled and cleaned. Returns the worker it started.
    /// </summary>
    private static async Task<(MemoryReport, ServiceHost)> MemoryPhaseAsync(
        LocalCluster cluster, HttpClient admin, NatsJSContext js, string onnx, int count, int drainSeconds, CancellationToken ct)
    {
        Console.WriteLine($"memory: {Unready} uploaded with no worker (no Ready replica), stream-enabled; publishing {count:N0} messages …  ({Machine.LoadAverage()})");
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new StringContent(Unready), "name");
            var file = new ByteArrayContent(await File.ReadAllBytesAsync(onnx, ct));
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", "model.onnx");
            using var uploaded = await admin.PostAsync(new Uri("/api/models", UriKind.Relative), form, ct);
            uploaded.EnsureSuccessStatusCode();
        }

        await EnableAsync(admin, js, Unready, ct);
        int pid = cluster.Backend.ProcessId;
        var rows = new List<MemoryRow>();
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        rows.Add(new MemoryRow("before (stream enabled, empty)", Rss(pid), await HeapAsync(cluster.Backend.Url, ct), 0, Machine.LoadAverage()));
        Console.WriteLine($"  {rows[^1]}");

        long peakRss = 0, peakHeap = 0;
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakRss = Math.Max(peakRss, Rss(pid));
                peakHeap = Math.Max(peakHeap, await HeapAsync(cluster.Backend.Url, CancellationToken.None) ?? 0);
                try
                {
                    await Task.Delay(1000, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, ct);

        double rate = await PublishAsync(js, $"mds.models.{Unready}.inputs", count, "wait", ct,
            n => Console.WriteLine($"  published {n:N0}; backend RSS {Mib(Rss(pid))} MiB  ({Machine.LoadAverage()})"));
        Console.WriteLine($"  published {count:N0} at {rate:F0} msg/s; waiting 20 s more");
        await Task.Delay(TimeSpan.FromSeconds(20), ct);
        var counters = await CountersAsync(admin, Unready, ct);
        rows.Add(new MemoryRow($"while {count:N0} wait (peak over the publish + 20 s)", peakRss, peakHeap,
            await BacklogAsync(js, ct),
            $"state {await StateAsync(admin, Unready, ct)}; received (with redeliveries) {counters.Received:N0}, in flight {counters.InFlight}, errors {counters.Errors}; {Machine.LoadAverage()}"));
        Console.WriteLine($"  {rows[^1]}");

        (peakRss, peakHeap) = (0, 0);
        var worker = await cluster.StartWorkerAsync("streams", new Dictionary<string, string>(), ct);
        long publishedBefore = counters.Published;
        var readyBy = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(drainSeconds), ct);
        counters = await CountersAsync(admin, Unready, ct);
        rows.Add(new MemoryRow($"flowing ({drainSeconds} s after a worker came; peak)", peakRss, peakHeap, await BacklogAsync(js, ct),
            $"{counters.Published - publishedBefore:N0} outputs in {readyBy.Elapsed.TotalSeconds:F0} s (the worker's start and the model's load included); {Machine.LoadAverage()}"));
        Console.WriteLine($"  {rows[^1]}");

        await sampling.CancelAsync();
        await sampler;
        await DisableAsync(admin, Unready, clean: true, ct);
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        rows.Add(new MemoryRow("after (disabled, cleanOnDisable: backlog deleted)", Rss(pid), await HeapAsync(cluster.Backend.Url, ct), null, Machine.LoadAverage()));
        Console.WriteLine($"  {rows[^1]}");
        return (new MemoryReport(count, rows), worker);
    }

    private static async Task<long?> BacklogAsync(NatsJSContext js, CancellationToken ct)
    {
        var consumer = await js.GetConsumerAsync($"mds-models-{Unready}-inputs", $"mds-models-{Unready}", ct);
        return (long)consumer.Info.NumPending + consumer.Info.NumAckPending;
    }

    /// <summary>Enables the model's stream and waits until its streams exist and its consumer runs (or waits for a replica).</summary>
    private static async Task EnableAsync(HttpClient admin, NatsJSContext js, string model, CancellationToken ct)
    {
        using (var put = await admin.PutAsJsonAsync(new Uri($"/api/models/{model}/streaming", UriKind.Relative), new StreamingRequest(true), ct))
        {
            if (!put.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"enabling the stream of {model}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync(ct)}");
            }
        }

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await js.GetConsumerAsync($"mds-models-{model}-inputs", $"mds-models-{model}", ct);
                await js.GetStreamAsync($"mds-models-{model}-outputs", cancellationToken: ct);
                return;
            }
            catch (NatsJSApiException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(200, ct);
            }
        }
    }

    private static async Task DisableAsync(HttpClient admin, string model, bool clean, CancellationToken ct)
    {
        using var put = await admin.PutAsJsonAsync(new Uri($"/api/models/{model}/streaming", UriKind.Relative), new StreamingRequest(false, clean), ct);
        put.EnsureSuccessStatusCode();
    }

    private static async Task<StreamCountersDto> CountersAsync(HttpClient admin, string model, CancellationToken ct) =>
        (await admin.GetFromJsonAsync<StreamDto>(new Uri($"/api/models/{model}/streaming", UriKind.Relative), ct))!.Counters;

    private static async Task<string> StateAsync(HttpClient admin, string model, CancellationToken ct)
    {
        var dto = (await admin.GetFromJsonAsync<StreamDto>(new Uri($"/api/models/{model}/streaming", UriKind.Relative), ct))!;
        return dto.Reason is null ? dto.State : $"{dto.State} ({dto.Reason})";
    }

    /// <summary>The process's resident set, from <c>/proc/{pid}/status</c> (0 where missing).</summary>
    private static long Rss(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>The backend's managed heap (prometheus-net's <c>dotnet_total_memory_bytes</c> on <c>/metrics</c>), or null when it does not say.</summary>
    private static async Task<long?> HeapAsync(Uri backend, CancellationToken ct)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = backend, Timeout = TimeSpan.FromSeconds(10) };
            string text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
            foreach (string line in text.Split('\n'))
            {
                if (line.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal))
                {
                    return (long)double.Parse(line["dotnet_total_memory_bytes ".Length..], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (HttpRequestException)
        {
        }

        return null;
    }

    private static TimeSpan[] Cpu(int[] pids) => Array.ConvertAll(pids, ProcessCpu.Of);

    private static double[] PerUnit(int[] pids, TimeSpan[] before, long units) =>
        [.. pids.Select((pid, i) => (ProcessCpu.Of(pid) - before[i]).TotalMicroseconds / Math.Max(1, units))];

    private static double MeanBatch(Mds.Contracts.Inference.ModelStatistics before, Mds.Contracts.Inference.ModelStatistics after) =>
        (double)(after.InferenceCount - before.InferenceCount) / Math.Max(1, after.ExecutionCount - before.ExecutionCount);

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string CpuText(double[] cpu) => string.Join(" / ", cpu.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)));

    private static string Mib(long bytes) => (bytes / 1024.0 / 1024).ToString("F0", CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}
