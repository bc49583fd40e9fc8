using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Mds.Backend.Gateway;
using Mds.Backend.Streams;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mds.UnitTests.Streams;

/// <summary>A model for the tests: input <c>x</c> FP32 [n, 4] → output <c>y</c> = 2x; a row with 666 makes it refuse the whole call.</summary>
internal sealed class DoublingModel : IStreamInference
{
    public ConcurrentQueue<(string RequestId, string Caller, long Rows)> Calls { get; } = new();
    public volatile bool Ready = true;
    public BatchingSettings? Batching { get; set; }

    public ValueTask<StreamTarget> TargetAsync(StreamResource resource, CancellationToken ct) =>
        ValueTask.FromResult(Ready ? new StreamTarget(true, null, Batching) : new StreamTarget(false, "model 'm' version 1 has no ready replica (Loading)", null));

    public Task<InferenceResponse> InferAsync(StreamResource resource, InferenceRequest request, string requestId, string caller, CancellationToken ct)
    {
        if (!Ready)
        {
            throw new ReplicaUnavailableException("model 'm' has no ready replica");
        }

        var x = request.Inputs.Single();
        if (x.Name != "x")
        {
            throw new InferenceRejectedException(400, $"model 'm' has no input named '{x.Name}'");
        }

        if (x.Shape.Length != 2 || x.Shape[1] != 4 || x.Data is not float[] data)
        {
            throw new InferenceRejectedException(400, $"input 'x' must be FP32 [-1, 4], got [{string.Join(',', x.Shape)}]");
        }

        if (data.Contains(666f))
        {
            throw new InferenceRejectedException(400, "input 'x' has a value the model refuses");
        }

        Calls.Enqueue((requestId, caller, x.Shape[0]));
        var y = data.Select(v => v * 2).ToArray();
        return Task.FromResult(new InferenceResponse
        {
            ModelName = "m", ModelVersion = "1", Id = request.Id,
            Outputs = [new InferenceTensor("y", TensorDatatype.Fp32, (long[])x.Shape.Clone(), y)],
        });
    }
}

public sealed class StreamConsumerTests : IAsyncDisposable
{
    private static readonly StreamResource Resource = new(StreamResource.Models, "m");
    private readonly InMemoryStreamTransport _transport = new();
    private readonly DoublingModel _model = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private Task? _running;

    private StreamConsumer Start(StreamingOptions? options = null)
    {
        options ??= new StreamingOptions { RetryDelay = TimeSpan.FromMilliseconds(50) };
        var consumer = new StreamConsumer(Resource, _transport, _model, options, new StreamMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System, NullLogger.Instance);
        _running = consumer.RunAsync(_stop.Token);
        return consumer;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running;
        }

        _stop.Dispose();
        await _services.DisposeAsync();
    }

    private static byte[] Json(string id, params float[][] rows) =>
        Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
        {
            id,
            inputs = new[] { new { name = "x", datatype = "FP32", shape = new[] { rows.Length, 4 }, data = rows.SelectMany(r => r).ToArray() } },
        }));

    private static Dictionary<string, string> Headers(string requestId, string contentType = StreamHeaders.Json) => new()
    {
        [StreamHeaders.RequestId] = requestId,
        [StreamHeaders.ContentType] = contentType,
    };

    private async Task WaitForAsync(Func<bool> condition, int seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out: {_transport.On(Resource.OutputSubject).Count} outputs, {_transport.On(StreamSubjects.Errors).Count} errors, {_transport.Acked} acked");
            await Task.Delay(10);
        }
    }

    private IReadOnlyList<StoredMessage> Outputs => _transport.On(Resource.OutputSubject);

    private IReadOnlyList<StoredMessage> Errors => _transport.On(StreamSubjects.Errors);

    [Fact]
    public async Task JsonMessage_AnsweredInJson_WithItsRequestIdTraceAndXHeaders_AsStreamCaller_AckedAfterPublish()
    {
        var headers = Headers("r-1");
        headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        headers["x-tenant"] = "acme";
        headers["authorization"] = "secret";
        _transport.Send(Resource, Json("body-id", [1, 2, 3, 4]), headers);
        Start();

        await WaitForAsync(() => _transport.Acked == 1);
        var output = Assert.Single(Outputs);
        Assert.Equal("r-1", output.Headers[StreamHeaders.RequestId]);
        Assert.Equal(headers["traceparent"], output.Headers["traceparent"]);
        Assert.Equal("acme", output.Headers["x-tenant"]);
        Assert.False(output.Headers.ContainsKey("authorization"));
        Assert.Equal(StreamHeaders.Json, output.Headers[StreamHeaders.ContentType]);
        var response = V2JsonCodec.DecodeResponse(output.Data.Span);
        Assert.Equal("body-id", response.Id);
        Assert.Equal(new float[] { 2, 4, 6, 8 }, (float[])response.Outputs[0].Data);
        var call = Assert.Single(_model.Calls);
        Assert.Equal(("r-1", "stream:m"), (call.RequestId, call.Caller));
        Assert.Empty(Errors);
    }

    [Fact]
    public async Task ProtobufMessage_AnsweredInProtobuf_RawInRawOut()
    {
        var request = new ModelInferRequest { ModelName = "m", Id = "p" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1, 4 } });
        var raw = new byte[16];
        Buffer.BlockCopy(new float[] { 1, 1, 1, 1 }, 0, raw, 0, 16);
        request.RawInputContents.Add(ByteString.CopyFrom(raw));
        _transport.Send(Resource, request.ToByteArray(), Headers("pb-1", StreamHeaders.Protobuf));
        Start();

        await WaitForAsync(() => _transport.Acked == 1);
        var output = Assert.Single(Outputs);
        Assert.Equal(StreamHeaders.Protobuf, output.Headers[StreamHeaders.ContentType]);
        var response = ModelInferResponse.Parser.ParseFrom(output.Data.Span);
        Assert.Equal("p", response.Id);
        Assert.Single(response.RawOutputContents);
        Assert.Equal(2f, BitConverter.ToSingle(response.RawOutputContents[0].Span[..4]));
    }

    [Fact]
    public async Task MalformedMessages_EachOneErrorWithTheReasonAndTheOriginal_TheStreamKeepsFlowing()
    {
        var garbage = new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
        _transport.Send(Resource, garbage, Headers("not-protobuf", StreamHeaders.Protobuf));
        _transport.Send(Resource, "{\"inputs\": [ nope"u8.ToArray(), Headers("not-json"));
        _transport.Send(Resource, Encoding.UTF8.GetBytes("""{"inputs":[{"name":"z","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}"""), Headers("wrong-name"));
        _transport.Send(Resource, Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3]}]}"""), Headers("wrong-size"));
        _transport.Send(Resource, Encoding.UTF8.GetBytes("""{"inputs":[{"name":"x","datatype":"FP32","shape":[1000000000,1000000000,4],"data":[1,2,3,4]}]}"""), Headers("huge-shape"));
        var hugeProto = new ModelInferRequest { ModelName = "m" };
        hugeProto.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1L << 40, 4 } });
        hugeProto.RawInputContents.Add(ByteString.CopyFrom(new byte[16]));
        _transport.Send(Resource, hugeProto.ToByteArray(), Headers("huge-shape-pb", StreamHeaders.Protobuf));
        _transport.Send(Resource, new byte[3000], Headers("too-big"));
        _transport.Send(Resource, "{}"u8.ToArray(), Headers("odd-type", "text/plain"));
        _transport.Send(Resource, Json("ok", [1, 2, 3, 4]), Headers("good"));
        Start(new StreamingOptions { MaxMessageBytes = 2048 });

        await WaitForAsync(() => _transport.Acked == 9);
        Assert.Equal("good", Assert.Single(Outputs).Headers[StreamHeaders.RequestId]);
        var errors = Errors.ToDictionary(e => e.Headers[StreamHeaders.RequestId]);
        Assert.Equal(8, errors.Count);
        foreach (var (id, error) in errors)
        {
            Assert.Equal("models/m", error.Headers[StreamHeaders.Resource]);
            Assert.False(string.IsNullOrWhiteSpace(error.Headers[StreamHeaders.Error]), id);
        }

        Assert.Equal(garbage, errors["not-protobuf"].Data.ToArray());
        Assert.Contains("ModelInferRequest", errors["not-protobuf"].Headers[StreamHeaders.Error]);
        Assert.Contains("no input named 'z'", errors["wrong-name"].Headers[StreamHeaders.Error]);
        Assert.Contains("invalid message", errors["wrong-size"].Headers[StreamHeaders.Error]);
        Assert.Contains("invalid message", errors["huge-shape"].Headers[StreamHeaders.Error]);
        Assert.Contains("invalid message", errors["huge-shape-pb"].Headers[StreamHeaders.Error]);
        Assert.Contains("2048", errors["too-big"].Headers[StreamHeaders.Error]);
        Assert.Contains("text/plain", errors["odd-type"].Headers[StreamHeaders.Error]);
    }

    [Fact]
    public async Task BatchingModel_MessagesCombinedIntoFewCalls_EachGetsItsOwnRows()
    {
        _model.Batching = new BatchingSettings(16, 1000);
        for (int i = 0; i < 40; i++)
        {
            _transport.Send(Resource, Json($"b{i}", [i, i, i, i]), Headers($"id-{i}"));
        }

        Start(new StreamingOptions { MaxConcurrentCalls = 1 });
        await WaitForAsync(() => _transport.Acked == 40);
        Assert.True(_model.Calls.Count < 40 / 2, $"{_model.Calls.Count} calls for 40 messages");
        Assert.All(_model.Calls, c => Assert.True(c.Rows <= 16));
        foreach (var output in Outputs)
        {
            var response = V2JsonCodec.DecodeResponse(output.Data.Span);
            int i = int.Parse(output.Headers[StreamHeaders.RequestId]["id-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"b{i}", response.Id);
            Assert.Equal(new long[] { 1, 4 }, response.Outputs[0].Shape);
            Assert.Equal(Enumerable.Repeat(2f * i, 4), (float[])response.Outputs[0].Data);
        }

        Assert.Equal(40, Outputs.Select(o => o.Headers[StreamHeaders.RequestId]).Distinct().Count());
    }

    [Fact]
    public async Task BatchRefused_EachMessageRunsAlone_OnlyTheBadOneFails()
    {
        _model.Batching = new BatchingSettings(64, 1000);
        for (int i = 0; i < 10; i++)
        {
            _transport.Send(Resource, Json($"b{i}", [i == 5 ? 666 : i, 0, 0, 0]), Headers($"id-{i}"));
        }

        Start(new StreamingOptions { MaxConcurrentCalls = 1 });
        await WaitForAsync(() => _transport.Acked == 10);
        Assert.Equal(9, Outputs.Count);
        Assert.Equal("id-5", Assert.Single(Errors).Headers[StreamHeaders.RequestId]);
    }

    [Fact]
    public async Task WithoutBatching_OneCallPerMessage()
    {
        for (int i = 0; i < 10; i++)
        {
            _transport.Send(Resource, Json($"b{i}", [i, 0, 0, 0]), Headers($"id-{i}"));
        }

        Start();
        await WaitForAsync(() => _transport.Acked == 10);
        Assert.Equal(10, _model.Calls.Count);
    }

    [Fact]
    public async Task UnreadyModel_MessagesAreHeldNotHandedBackRoundAndRound_AndFlowWhenReady_StateSaysWhy()
    {
        // Handing each message back at once would walk the whole backlog again and again while the model is unready.
        _model.Ready = false;
        _transport.Send(Resource, Json("w", [1, 1, 1, 1]), Headers("waits"));
        var consumer = Start();
        await WaitForAsync(() => consumer.State == StreamStates.Waiting);
        await Task.Delay(300); // six retry delays
        Assert.Empty(Outputs);
        Assert.Empty(Errors);
        Assert.Equal((0, 0), (_transport.Acked, _transport.Naked));
        Assert.Contains("no ready replica", consumer.Reason);

        _model.Ready = true;
        await WaitForAsync(() => Outputs.Count == 1);
        await WaitForAsync(() => consumer.State == StreamStates.Running);
        Assert.Equal((1, 0), (_transport.Acked, _transport.Naked));
    }

    [Fact]
    public async Task UnreadyModel_HeldMessagesGoBackToTheEngineAfterTheHold_AndComeAgain()
    {
        _model.Ready = false;
        _transport.Send(Resource, Json("w", [1, 1, 1, 1]), Headers("waits"));
        var consumer = Start(new StreamingOptions { RetryDelay = TimeSpan.FromMilliseconds(50), HoldWhileWaiting = TimeSpan.FromMilliseconds(200) });
        await WaitForAsync(() => _transport.Naked >= 2);
        Assert.Empty(Outputs);
        Assert.Empty(Errors);

        _model.Ready = true;
        await WaitForAsync(() => Outputs.Count == 1);
        Assert.True(consumer.Redeliveries >= 2);
    }

    [Fact]
    public async Task UnreadyModel_PastGiveUpAfter_ToErrors()
    {
        _model.Ready = false;
        _transport.Send(Resource, Json("old", [1, 1, 1, 1]), Headers("old"), DateTimeOffset.UtcNow.AddMinutes(-11));
        Start();
        await WaitForAsync(() => Errors.Count == 1);
        Assert.Contains("gave up", Errors[0].Headers[StreamHeaders.Error]);
        Assert.Equal(1, _transport.Acked);
    }

    [Fact]
    public async Task OutputPublishFails_InputNotAcked_ComesAgain()
    {
        _transport.FailPublishTo = Resource.OutputSubject;
        _transport.Send(Resource, Json("x", [1, 1, 1, 1]), Headers("again"));
        Start();
        await WaitForAsync(() => _transport.Naked >= 1);
        Assert.Equal(0, _transport.Acked);
        _transport.FailPublishTo = null;
        await WaitForAsync(() => Outputs.Count == 1);
        Assert.Equal(1, _transport.Acked);
    }

    [Fact]
    public async Task MissingRequestId_OneIsMadeUp_OutputAndRecordCarryIt()
    {
        _transport.Send(Resource, Json("no-id", [1, 1, 1, 1]), new Dictionary<string, string>());
        Start();
        await WaitForAsync(() => Outputs.Count == 1);
        string id = Outputs[0].Headers[StreamHeaders.RequestId];
        Assert.Equal(32, id.Length);
        Assert.Equal(id, Assert.Single(_model.Calls).RequestId);
    }

    [Fact]
    public void Batching_MatchesByTheWorkersRules()
    {
        static DecodedMessage D(string json) => StreamCodec.Decode(new Fixed(Encoding.UTF8.GetBytes(json)), "id", 1 << 20, new GrpcRequestLimits());
        var a = D("""{"inputs":[{"name":"x","datatype":"FP32","shape":[2,4],"data":[1,2,3,4,5,6,7,8]}]}""");
        Assert.Equal(2, a.Rows);
        Assert.True(StreamBatching.Matches(a, D("""{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}""")));
        Assert.False(StreamBatching.Matches(a, D("""{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}]}""")));
        Assert.False(StreamBatching.Matches(a, D("""{"inputs":[{"name":"x","datatype":"FP64","shape":[1,4],"data":[1,2,3,4]}]}""")));
        Assert.False(StreamBatching.Matches(a, D("""{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}],"outputs":[{"name":"y"}]}""")));
        Assert.False(StreamBatching.Matches(a, D("""{"parameters":{"p":1},"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}""")));
    }

    private sealed class Fixed(byte[] data) : StreamMessage
    {
        public override ReadOnlyMemory<byte> Data => data;
        public override IReadOnlyDictionary<string, string> Headers { get; } = new Dictionary<string, string>();
        public override int DeliveryCount => 1;
        public override DateTimeOffset Timestamp => DateTimeOffset.UtcNow;
        public override ValueTask AckAsync(CancellationToken ct) => ValueTask.CompletedTask;
        public override ValueTask NakAsync(TimeSpan delay, CancellationToken ct) => ValueTask.CompletedTask;
    }
}
