using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mds.Contracts.Api;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Npgsql;

namespace Mds.IntegrationTests.Streams;

/// <summary>One MDS (backend, one worker) on a real nats-server for <see cref="StreamTests"/>, and a NATS client of the test's own.</summary>
public sealed class StreamClusterFixture : IAsyncLifetime
{
    /// <summary>How long a delivered message may stay unacknowledged before JetStream hands it to another backend.</summary>
    public static readonly TimeSpan AckWait = TimeSpan.FromSeconds(4);

    public NatsServer Nats { get; private set; } = null!;
    public MdsCluster Cluster { get; private set; } = null!;
    public NatsConnection Connection { get; private set; } = null!;
    public NatsJSContext Js { get; private set; } = null!;

    /// <summary>The settings of every backend of this class (small intervals so the tests wait little).</summary>
    public static Dictionary<string, string> StreamSettings(string giveUpAfter = "00:01:00") => new()
    {
        ["Mds__Streaming__Nats__AckWait"] = AckWait.ToString("c", CultureInfo.InvariantCulture),
        ["Mds__Streaming__RetryDelay"] = "00:00:00.200",
        ["Mds__Streaming__GiveUpAfter"] = giveUpAfter,
        ["Mds__Streaming__RefreshInterval"] = "00:00:00.500",
        ["Mds__Streaming__CounterInterval"] = "00:00:00.500",
    };

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        Cluster = new MdsCluster { Nats = Nats, BackendSettings = StreamSettings() };
        await Cluster.InitializeAsync();
        Connection = new NatsConnection(new NatsOpts { Url = Nats.Url, Name = "stream-tests" });
        await Connection.ConnectAsync();
        Js = new NatsJSContext(Connection);
    }

    public async Task DisposeAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
    }
}

/// <summary>
/// Streams end to end on the real stack: a real nats-server, the backend and worker processes, PostgreSQL. Each test
/// publishes with a NATS client of its own and reads the output stream with a JetStream consumer of its own.
/// </summary>
public sealed class StreamTests(StreamClusterFixture fixture) : IClassFixture<StreamClusterFixture>
{
    private static readonly NatsRawSerializer<byte[]> Raw = NatsRawSerializer<byte[]>.Default;
    private static readonly TimeSpan FlowTimeout = TimeSpan.FromSeconds(120);
    private MdsCluster Cluster => fixture.Cluster;
    private NatsJSContext Js => fixture.Js;

    /// <summary>x FP32 [-1, 2] → y = x0 + 2·x1 + 0.5.</summary>
    private static byte[] LinearModel() => TestGraphs.Linear([1f, 2f], 0.5f);

    private static float Expected(int i) => (i % 100) + 2f * 1f + 0.5f;

    [Fact]
    public async Task Ten_thousand_messages_to_a_batching_model_give_each_output_once_in_its_encoding_with_headers_and_records()
    {
        const string model = "st-linear";
        const int count = 10_000;
        await DeployWithBatchingAsync(model);
        await EnableAsync("models", model);

        var ids = Enumerable.Range(0, count).Select(i => $"m-{i}").ToList();
        await PublishAsync($"mds.models.{model}.inputs", count, i => ids[i], protobuf: i => i % 2 == 1);
        var outputs = await ReadOutputsAsync(NatsOutputStream("models", model), ids, FlowTimeout, model);

        for (int i = 0; i < count; i++)
        {
            var output = outputs[ids[i]];
            Assert.Equal($"trace-{i}", output.Headers["traceparent"]);
            Assert.Equal($"x-{i}", output.Headers["x-tenant"]);
            Assert.Equal(Expected(i), OutputValue(output, protobuf: i % 2 == 1), 3);
        }

        // Every streamed inference is on record under the stream's caller: the rows of the (combined) records add up.
        await Eventually.TrueAsync(async () => await ScalarAsync(
            "SELECT coalesce(sum((\"Request\"->'inputs'->0->'shape'->>0)::bigint), 0) FROM inference_records WHERE \"ModelName\" = @m AND \"Caller\" = @c",
            ("m", model), ("c", "stream:" + model)) == count, TimeSpan.FromSeconds(60), "the inference records of every streamed row");
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM inference_records WHERE \"ModelName\" = @m AND \"Caller\" IS DISTINCT FROM @c",
            ("m", model), ("c", "stream:" + model)));

        var state = await StateAsync("models", model);
        Assert.Equal(StreamStates.Running, state.State);
    }

    [Fact]
    public async Task A_thousand_messages_to_a_streaming_pipeline_give_each_output_once()
    {
        const string pipeline = "st-pipe";
        const int count = 1_000;
        await Cluster.EnsureReadyAsync("st-pipe-step", LinearModel());
        using (var researcher = await Cluster.ClientAsync(Roles.Researcher))
        {
            // streaming: true in the spec enables the stream.
            using var spec = new StringContent($"name: {pipeline}\nstreaming: true\nsteps:\n  - name: lin\n    model: st-pipe-step\n", Encoding.UTF8, "application/yaml");
            using var applied = await researcher.PostAsync("/api/pipelines", spec);
            Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
        }

        await Eventually.TrueAsync(async () => (await StateAsync("pipelines", pipeline)).Enabled, TimeSpan.FromSeconds(30), "the pipeline's stream to be enabled");
        var ids = Enumerable.Range(0, count).Select(i => $"p-{i}").ToList();
        await PublishAsync($"mds.pipelines.{pipeline}.inputs", count, i => ids[i], protobuf: i => i % 3 == 0);
        var outputs = await ReadOutputsAsync(NatsOutputStream("pipelines", pipeline), ids, FlowTimeout, pipeline);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal($"trace-{i}", outputs[ids[i]].Headers["traceparent"]);
            Assert.Equal(Expected(i), OutputValue(outputs[ids[i]], protobuf: i % 3 == 0), 3);
        }

        await Eventually.TrueAsync(async () => await ScalarAsync(
            "SELECT count(DISTINCT \"RequestId\") FROM inference_records WHERE \"Caller\" = @c", ("c", "stream:" + pipeline)) >= count,
            TimeSpan.FromSeconds(60), "an inference record for every pipeline run");
    }

    [Fact]
    public async Task A_backend_killed_mid_stream_loses_no_message_and_a_second_backend_shares_the_work()
    {
        const string model = "st-kill";
        const int count = 3_000;
        await DeployWithBatchingAsync(model);
        var second = await Cluster.StartBackendAsync("backend-stream-2", StreamClusterFixture.StreamSettings());
        try
        {
            await EnableAsync("models", model);
            // Both backends have a consumer for the stream (its in-flight gauge appears) before anything is published.
            string label = $"models/{model}";
            foreach (var backend in new[] { second.Url, Cluster.BackendUrl })
            {
                await Eventually.TrueAsync(async () => (await PrometheusText.ScrapeAsync(backend)).Samples
                    .Any(x => x.Name == "mds_stream_in_flight" && x.Labels.TryGetValue("stream", out var s) && s == label),
                    TimeSpan.FromSeconds(30), $"a consumer of {label} on {backend}");
            }

            var ids = Enumerable.Range(0, count).Select(i => $"k-{i}").ToList();
            // The first half before the kill, the second after: the kill comes mid-stream however fast this machine
            // publishes, and the second backend dies holding messages it took (redelivered to the others).
            var publishing = PublishAsync($"mds.models.{model}.inputs", count / 2, i => ids[i], protobuf: _ => false, window: 8);

            // Both backends take messages from the one durable consumer.
            await Eventually.TrueAsync(async () =>
                (await PrometheusText.ScrapeAsync(second.Url)).Sum("mds_stream_messages_received_total", ("stream", label)) > 0
                && (await PrometheusText.ScrapeAsync(Cluster.BackendUrl)).Sum("mds_stream_messages_received_total", ("stream", label)) > 0,
                TimeSpan.FromSeconds(60), "both backends to receive messages of the stream");

            second.Kill(); // SIGKILL mid-stream: what it held unacknowledged is redelivered
            await publishing;
            await PublishAsync($"mds.models.{model}.inputs", count - count / 2, i => ids[count / 2 + i], protobuf: _ => false, window: 8);
            second = await Cluster.StartBackendAsync("backend-stream-2b", StreamClusterFixture.StreamSettings());
            await ReadOutputsAsync(NatsOutputStream("models", model), ids, FlowTimeout, model);
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task Malformed_messages_each_give_one_error_with_the_reason_and_the_good_ones_around_them_flow()
    {
        const string model = "st-bad";
        await Cluster.EnsureReadyAsync(model, LinearModel());
        await EnableAsync("models", model);
        string subject = $"mds.models.{model}.inputs";

        var bad = new (string Id, string ContentType, byte[] Body, string Reason)[]
        {
            ("bad-proto", "application/x-protobuf", [0xff, 0xff, 0xff, 0x01, 0x02], "invalid message"),
            ("bad-json", "application/json", "{\"inputs\": [ not json"u8.ToArray(), "invalid message"),
            ("bad-name", "application/json", Encoding.UTF8.GetBytes(Json("nope", [1, 2], [1f, 2f])), "nope"),
            ("bad-size", "application/json", Encoding.UTF8.GetBytes(Json("x", [1, 2], [1f, 2f, 3f])), "invalid message"),
            ("bad-huge", "application/json", Encoding.UTF8.GetBytes(Json("x", [1_000_000_000, 1_000_000_000], [1f, 2f])), "invalid message"),
            ("bad-huge-proto", "application/x-protobuf", HugeProtobuf(), "invalid message"),
            ("bad-type", "text/plain", "hello"u8.ToArray(), "content-type"),
        };
        var good = new List<string>();
        int n = 0;
        foreach (var b in bad)
        {
            string before = $"good-{n++}";
            good.Add(before);
            await PublishOneAsync(subject, before, n, protobuf: false);
            await PublishRawAsync(subject, b.Id, b.ContentType, b.Body);
        }

        good.Add($"good-{n}");
        await PublishOneAsync(subject, $"good-{n}", n, protobuf: true);

        await ReadOutputsAsync(NatsOutputStream("models", model), good, FlowTimeout, model);
        var errors = await ReadErrorsAsync(bad.Select(b => b.Id).ToHashSet(), TimeSpan.FromSeconds(60));
        foreach (var b in bad)
        {
            var error = Assert.Single(errors, e => e.Headers["mds-request-id"] == b.Id);
            Assert.Equal($"models/{model}", error.Headers["mds-resource"]);
            Assert.Contains(b.Reason, error.Headers["mds-error"], StringComparison.OrdinalIgnoreCase);
            Assert.Equal(b.Body, error.Data); // the original message
        }

        // The wrong tensor name is the model's refusal; the wrong size and the huge shape say what is wrong.
        Assert.Contains("refused", Error(errors, "bad-name"));
        Assert.Contains("shape", Error(errors, "bad-size"), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("shape", Error(errors, "bad-huge"), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(errors, e => e.Headers["mds-request-id"].StartsWith("good-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Messages_for_a_model_with_no_ready_replica_wait_without_errors_and_flow_once_it_is_ready()
    {
        const string model = "st-wait";
        using (var upload = await Cluster.UploadAsync(model, LinearModel(), new Dictionary<string, string> { ["requirements"] = "onnx,st-wait-cap" }))
        {
            Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
        }

        await EnableAsync("models", model);
        var ids = Enumerable.Range(0, 20).Select(i => $"w-{i}").ToList();
        await PublishAsync($"mds.models.{model}.inputs", ids.Count, i => ids[i], protobuf: i => i % 2 == 0);

        await Eventually.TrueAsync(async () => (await StateAsync("models", model)) is { State: StreamStates.Waiting, Reason: not null },
            TimeSpan.FromSeconds(30), "the stream to say it waits for a replica");
        Assert.Empty(await ReadErrorsAsync(ids.ToHashSet(), TimeSpan.FromMilliseconds(500)));

        var worker = await Cluster.StartWorkerAsync("worker-st-wait", "onnx,cpu,st-wait-cap");
        try
        {
            await ReadOutputsAsync(NatsOutputStream("models", model), ids, FlowTimeout, model);
            Assert.Empty(await ReadErrorsAsync(ids.ToHashSet(), TimeSpan.FromMilliseconds(200)));
            // Held while nothing could answer (handed back only after HoldWhileWaiting), then answered: every one published.
            await Eventually.TrueAsync(async () => (await StateAsync("models", model)).Counters.Published >= ids.Count,
                TimeSpan.FromSeconds(10), $"the counters to show all {ids.Count} published");
        }
        finally
        {
            await Cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task Messages_that_wait_longer_than_give_up_after_go_to_errors_with_that_reason()
    {
        const string model = "st-never";
        using (var upload = await Cluster.UploadAsync(model, LinearModel(), new Dictionary<string, string> { ["requirements"] = "onnx,st-no-such-cap" }))
        {
            Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
        }

        // A backend that gives up after 1 s (the first one waits a minute: the messages go back and forth between them).
        await using var impatient = await Cluster.StartBackendAsync("backend-impatient", StreamClusterFixture.StreamSettings(giveUpAfter: "00:00:01"));
        await EnableAsync("models", model);
        var ids = new[] { "g-0", "g-1", "g-2" };
        await PublishAsync($"mds.models.{model}.inputs", ids.Length, i => ids[i], protobuf: _ => false);

        var errors = await ReadErrorsAsync(ids.ToHashSet(), TimeSpan.FromSeconds(60), expected: ids.Length);
        foreach (var id in ids)
        {
            Assert.Contains("gave up after waiting", Error(errors, id));
        }
    }

    [Fact]
    public async Task Disabling_with_clean_on_disable_removes_the_streams_and_the_consumer()
    {
        const string model = "st-clean";
        await Cluster.EnsureReadyAsync(model, LinearModel());
        await EnableAsync("models", model);
        await PublishAsync($"mds.models.{model}.inputs", 3, i => $"c-{i}", protobuf: _ => false);
        await ReadOutputsAsync(NatsOutputStream("models", model), ["c-0", "c-1", "c-2"], FlowTimeout, model);
        var consumer = await Js.GetConsumerAsync($"mds-models-{model}-inputs", $"mds-models-{model}");
        Assert.NotNull(consumer);

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var put = await researcher.PutAsJsonAsync($"/api/models/{model}/streaming", new { enabled = false, cleanOnDisable = true });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

        var noConsumer = await Assert.ThrowsAsync<NatsJSApiException>(() => Js.GetConsumerAsync($"mds-models-{model}-inputs", $"mds-models-{model}").AsTask());
        Assert.Equal(404, noConsumer.Error.Code);
        foreach (var stream in new[] { $"mds-models-{model}-inputs", $"mds-models-{model}-outputs" })
        {
            var gone = await Assert.ThrowsAsync<NatsJSApiException>(() => Js.GetStreamAsync(stream).AsTask());
            Assert.Equal(404, gone.Error.Code);
        }

        var state = await StateAsync("models", model);
        Assert.Equal((false, StreamStates.Disabled), (state.Enabled, state.State));
        Assert.NotNull(await Js.GetStreamAsync("mds-errors")); // shared by every stream: stays
    }

    // ---- helpers ----

    private sealed record Received(string RequestId, IReadOnlyDictionary<string, string> Headers, byte[] Data);

    private async Task DeployWithBatchingAsync(string model)
    {
        await Cluster.EnsureReadyAsync(model, LinearModel());
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var on = await researcher.PutAsJsonAsync($"/api/models/{model}/versions/1/batching", new BatchingDto(true, 64, 0));
        Assert.True(on.IsSuccessStatusCode, await on.Content.ReadAsStringAsync());
    }

    private async Task EnableAsync(string kind, string name)
    {
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var put = await researcher.PutAsJsonAsync($"/api/{kind}/{name}/streaming", new { enabled = true });
        Assert.True(put.IsSuccessStatusCode, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
    }

    private async Task<StreamDto> StateAsync(string kind, string name)
    {
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        return (await analyst.GetFromJsonAsync<StreamDto>($"/api/{kind}/{name}/streaming"))!;
    }

    private static string NatsOutputStream(string kind, string name) => $"mds-{kind}-{name}-outputs";

    private static string Json(string input, long[] shape, float[] data) =>
        new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = input,
                ["datatype"] = "FP32",
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
                ["data"] = new JsonArray(data.Select(d => (JsonNode)d).ToArray()),
            }),
        }.ToJsonString();

    private static byte[] Body(int i, bool protobuf)
    {
        float[] row = [i % 100, 1f];
        if (!protobuf)
        {
            return Encoding.UTF8.GetBytes(Json("x", [1, 2], row));
        }

        var request = new ModelInferRequest { Id = $"body-{i}" };
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Contents = new InferTensorContents() };
        tensor.Shape.AddRange([1, 2]);
        tensor.Contents.Fp32Contents.AddRange(row);
        request.Inputs.Add(tensor);
        return request.ToByteArray();
    }

    private static byte[] HugeProtobuf()
    {
        var request = new ModelInferRequest();
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Contents = new InferTensorContents() };
        tensor.Shape.AddRange([1L << 40, 1L << 20]);
        tensor.Contents.Fp32Contents.AddRange([1f, 2f]);
        request.Inputs.Add(tensor);
        return request.ToByteArray();
    }

    private static NatsHeaders Headers(string id, int i, string contentType) => new()
    {
        ["content-type"] = contentType,
        ["mds-request-id"] = id,
        ["traceparent"] = $"trace-{i}",
        ["x-tenant"] = $"x-{i}",
    };

    private Task PublishOneAsync(string subject, string id, int i, bool protobuf) =>
        PublishRawAsync(subject, id, protobuf ? "application/x-protobuf" : "application/json", Body(i, protobuf), i);

    private async Task PublishRawAsync(string subject, string id, string contentType, byte[] body, int i = 0)
    {
        var ack = await Js.PublishAsync(subject, body, Raw, headers: Headers(id, i, contentType));
        ack.EnsureSuccess();
    }

    /// <summary>Publishes <paramref name="count"/> good messages, up to <paramref name="window"/> awaiting their acknowledgement at once.</summary>
    private async Task PublishAsync(string subject, int count, Func<int, string> id, Func<int, bool> protobuf, int window = 256)
    {
        using var slots = new SemaphoreSlim(window);
        var pending = new List<Task>(count);
        for (int i = 0; i < count; i++)
        {
            await slots.WaitAsync();
            int n = i;
            pending.Add(Task.Run(async () =>
            {
                try
                {
                    await PublishOneAsync(subject, id(n), n, protobuf(n));
                }
                finally
                {
                    slots.Release();
                }
            }));
        }

        await Task.WhenAll(pending);
    }

    /// <summary>
    /// Reads <paramref name="stream"/> from its start with an ordered consumer until every id of <paramref name="ids"/>
    /// is there; then checks that each came exactly once (the stream holds nothing else) and no other id came.
    /// </summary>
    private async Task<Dictionary<string, Received>> ReadOutputsAsync(string stream, IReadOnlyCollection<string> ids, TimeSpan timeout, string resource)
    {
        var wanted = ids.ToHashSet();
        var seen = new Dictionary<string, Received>();
        var duplicates = new List<string>();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var consumer = await Js.CreateOrderedConsumerAsync(stream, cancellationToken: cts.Token);
            await foreach (var msg in consumer.ConsumeAsync(Raw, cancellationToken: cts.Token))
            {
                var received = ToReceived(msg);
                if (!seen.TryAdd(received.RequestId, received))
                {
                    duplicates.Add(received.RequestId);
                }

                if (wanted.IsSubsetOf(seen.Keys))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            var missing = wanted.Except(seen.Keys).ToList();
            var errors = await ReadErrorsAsync(missing.Take(20).ToHashSet(), TimeSpan.FromSeconds(1));
            Assert.Fail($"{missing.Count} of {wanted.Count} outputs missing after {timeout} (e.g. {string.Join(", ", missing.Take(10))}); " +
                $"errors: {string.Join("; ", errors.Select(e => e.RequestId + ": " + e.Headers.GetValueOrDefault("mds-error")))}; " +
                $"state: {System.Text.Json.JsonSerializer.Serialize(await StateAsync(resource.StartsWith("st-pipe", StringComparison.Ordinal) ? "pipelines" : "models", resource))}\n" +
                $"backend:\n{Cluster.Backend.OutputTail}");
        }

        Assert.Empty(duplicates);
        Assert.Equal(wanted.OrderBy(x => x), seen.Keys.OrderBy(x => x));
        var info = await Js.GetStreamAsync(stream);
        Assert.Equal(wanted.Count, (int)info.Info.State.Messages);
        return seen;
    }

    /// <summary>The messages on mds.errors whose request id is in <paramref name="ids"/>, read for <paramref name="wait"/> or until <paramref name="expected"/> came.</summary>
    private async Task<List<Received>> ReadErrorsAsync(HashSet<string> ids, TimeSpan wait, int? expected = null)
    {
        expected ??= ids.Count;
        var found = new List<Received>();
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var consumer = await Js.CreateOrderedConsumerAsync("mds-errors", cancellationToken: cts.Token);
            await foreach (var msg in consumer.ConsumeAsync(Raw, cancellationToken: cts.Token))
            {
                var received = ToReceived(msg);
                if (ids.Contains(received.RequestId))
                {
                    found.Add(received);
                    if (found.Count >= expected)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // read what came in the time given
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            // no stream has failed anything yet
        }

        return found;
    }

    private static string Error(List<Received> errors, string id) => Assert.Single(errors, e => e.RequestId == id).Headers["mds-error"];

    private static Received ToReceived(INatsJSMsg<byte[]> msg)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in msg.Headers ?? new NatsHeaders())
        {
            headers[name] = values.ToString();
        }

        return new Received(headers.GetValueOrDefault("mds-request-id", ""), headers, msg.Data ?? []);
    }

    private static float OutputValue(Received output, bool protobuf)
    {
        Assert.Equal(protobuf ? "application/x-protobuf" : "application/json", output.Headers["content-type"]);
        if (protobuf)
        {
            var response = ModelInferResponse.Parser.ParseFrom(output.Data);
            return Assert.Single(Assert.Single(response.Outputs).Contents.Fp32Contents);
        }

        var json = JsonNode.Parse(output.Data)!;
        return Assert.Single(json["outputs"]!.AsArray())!["data"]![0]!.GetValue<float>();
    }

    private async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
