using System.Diagnostics;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;
using Mds.ModelGen;
using Mds.Workers.Inference;

namespace Mds.UnitTests.Workers;

/// <summary>
/// Adaptive batching on real ONNX Runtime sessions: concurrent requests are joined into fewer runs, and every request
/// gets exactly what it would have got alone.
/// </summary>
public sealed class DynamicBatcherTests : IDisposable
{
    // Long enough that requests started together always meet in one batch; the tests never wait for it to pass
    // unless a batch cannot fill.
    private static readonly BatchingSettings Patient = new(MaxBatchSize: 16, MaxLatencyMicroseconds: 200_000);

    private readonly WorkerModels _models = new();

    [Fact]
    public async Task Concurrent_requests_in_batches_get_exactly_the_outputs_of_single_calls()
    {
        var onnx = await File.ReadAllBytesAsync(Path.Combine(Samples.LocateDirectory(AppContext.BaseDirectory), "iris", "model.onnx"));
        await _models.LoadAsync(onnx, "alone");
        var batched = await _models.LoadAsync(onnx, "batched");
        Assert.Null(batched.ConfigureBatching(Patient, _models.Metrics));

        var random = new Random(7);
        var requests = Enumerable.Range(0, 40).Select(i =>
        {
            int rows = 1 + (i % 3);
            var features = new float[rows * 4];
            for (int k = 0; k < features.Length; k++)
            {
                features[k] = (float)Math.Round(random.NextDouble() * 8, 1);
            }

            return new InferenceRequest { Id = $"r{i}", Inputs = [new InferenceTensor("Features", TensorDatatype.Fp32, [rows, 4], features)] };
        }).ToArray();

        var expected = requests.Select(r => _models.Run("alone", null, r)).ToArray();
        var actual = await Task.WhenAll(requests.Select(r => Task.Run(() => _models.Runner.InferAsync("batched", null, r, Stopwatch.GetTimestamp()).AsTask())));

        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(requests[i].Id, actual[i].Id);
            Assert.Equal(expected[i].Outputs.Select(o => o.Name), actual[i].Outputs.Select(o => o.Name));
            for (int o = 0; o < expected[i].Outputs.Count; o++)
            {
                var (want, got) = (expected[i].Outputs[o], actual[i].Outputs[o]);
                Assert.Equal(want.Shape, got.Shape);
                if (want.Data is float[] wantScores)
                {
                    // ONNX Runtime's GEMM takes other kernels for other row counts, so scores may differ in the last
                    // bits, exactly as they do between a 1-row and a 3-row call made alone.
                    var gotScores = (float[])got.Data;
                    for (int k = 0; k < wantScores.Length; k++)
                    {
                        Assert.InRange(gotScores[k], wantScores[k] - 1e-6f, wantScores[k] + 1e-6f);
                    }
                }
                else
                {
                    Assert.Equal(want.Data, got.Data); // the predicted labels: exactly
                }
            }
        }

        var stats = batched.Counters.Snapshot("batched", "1");
        Assert.Equal(40, stats.InferenceStats.Success.Count);
        Assert.Equal(requests.Sum(r => r.Inputs[0].Shape[0]), stats.InferenceCount);
        Assert.InRange(stats.ExecutionCount, 1, 39); // fewer runs than requests: they were joined
    }

    [Fact]
    public async Task Concurrent_requests_to_a_linear_model_get_bit_for_bit_the_outputs_of_single_calls()
    {
        byte[] onnx = TestGraphs.Linear([0.25f, -1.5f, 3f], 0.125f);
        await _models.LoadAsync(onnx, "alone");
        var batched = await _models.LoadAsync(onnx, "batched");
        Assert.Null(batched.ConfigureBatching(Patient, _models.Metrics));
        var requests = Enumerable.Range(0, 32).Select(i => new InferenceRequest
        {
            Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [2, 3], new[] { i, i * 0.5f, -i, 1f, 2f, i * 0.1f })],
        }).ToArray();

        var expected = requests.Select(r => (float[])_models.Run("alone", null, r).Outputs[0].Data).ToArray();
        var actual = await Task.WhenAll(requests.Select(r => Task.Run(() => _models.Runner.InferAsync("batched", null, r, Stopwatch.GetTimestamp()).AsTask())));

        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(new long[] { 2, 1 }, actual[i].Outputs[0].Shape);
            Assert.Equal(expected[i], (float[])actual[i].Outputs[0].Data);
        }

        Assert.InRange(batched.Counters.Snapshot("batched", "1").ExecutionCount, 1, 31);
    }

    [Fact]
    public async Task Requests_whose_shapes_differ_beyond_the_first_dimension_are_never_mixed()
    {
        var model = await _models.LoadAsync(TestGraphs.Identity(TensorDatatype.Fp32, -1, -1), "identity");
        Assert.Null(model.ConfigureBatching(Patient, _models.Metrics));

        var requests = Enumerable.Range(0, 12).Select(i =>
        {
            int width = 2 + (i % 2);
            var data = Enumerable.Range(0, width).Select(k => (float)(i * 10 + k)).ToArray();
            return new InferenceRequest { Inputs = [new InferenceTensor("input", TensorDatatype.Fp32, [1, width], data)] };
        }).ToArray();

        var responses = await Task.WhenAll(requests.Select(r => Task.Run(() => _models.Runner.InferAsync("identity", null, r, Stopwatch.GetTimestamp()).AsTask())));

        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(requests[i].Inputs[0].Shape, responses[i].Outputs[0].Shape);
            Assert.Equal(requests[i].Inputs[0].Data, responses[i].Outputs[0].Data);
        }

        // Two widths: at least two runs, and fewer than one per request.
        Assert.InRange(model.Counters.Snapshot("identity", "1").ExecutionCount, 2, 11);
    }

    [Fact]
    public async Task A_bad_request_fails_alone_and_the_rest_of_its_batch_is_answered()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([1f, 2f], 0.5f), "linear");
        Assert.Null(model.ConfigureBatching(Patient, _models.Metrics));

        var good = Enumerable.Range(0, 6).Select(i => Task.Run(() => _models.Runner.InferAsync("linear", null,
            new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [1, 2], new[] { (float)i, 1f })] }, Stopwatch.GetTimestamp()).AsTask())).ToArray();
        var bad = Task.Run(() => _models.Runner.InferAsync("linear", null,
            new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp64, [1, 2], new[] { 1.0, 2.0 })] }, Stopwatch.GetTimestamp()).AsTask());

        var error = await Assert.ThrowsAsync<InferenceProtocolException>(() => bad);
        Assert.Contains("datatype FP64", error.Message, StringComparison.Ordinal);
        var answers = await Task.WhenAll(good);
        for (int i = 0; i < answers.Length; i++)
        {
            Assert.Equal(new[] { i + 2f + 0.5f }, answers[i].Outputs[0].Data);
        }
    }

    [Fact]
    public async Task A_request_larger_than_the_batch_size_runs_on_its_own()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([1f], 0f), "linear");
        Assert.Null(model.ConfigureBatching(new BatchingSettings(4, 0), _models.Metrics));

        var x = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        var response = await _models.Runner.InferAsync("linear", null,
            new InferenceRequest { Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [10, 1], x)] }, Stopwatch.GetTimestamp());

        Assert.Equal(new long[] { 10, 1 }, response.Outputs[0].Shape);
        Assert.Equal(x, response.Outputs[0].Data);
        Assert.Equal(1, model.Counters.Snapshot("linear", "1").ExecutionCount);
    }

    [Fact]
    public async Task Batching_can_be_turned_off_and_on_again_while_the_model_serves()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([3f], 1f), "linear");
        Assert.Null(model.ConfigureBatching(new BatchingSettings(8, 0), _models.Metrics));
        var first = model.Batcher;
        Assert.NotNull(first);

        Assert.Null(model.ConfigureBatching(null, _models.Metrics));
        Assert.Null(model.Batcher);
        await first.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new[] { 7f }, _models.Infer("linear", new InferenceTensor("x", TensorDatatype.Fp32, [1, 1], new[] { 2f })).Outputs[0].Data);

        Assert.Null(model.ConfigureBatching(new BatchingSettings(8, 100), _models.Metrics));
        Assert.Equal(new BatchingSettings(8, 100), model.Batcher!.Settings);
        Assert.Equal(new[] { 10f }, _models.Infer("linear", new InferenceTensor("x", TensorDatatype.Fp32, [1, 1], new[] { 3f })).Outputs[0].Data);
    }

    [Fact]
    public async Task A_model_without_a_free_first_dimension_keeps_batching_off_and_says_why()
    {
        var model = await _models.LoadAsync(TestGraphs.Identity(TensorDatatype.Fp32, 2, 3), "fixed");

        string? why = model.ConfigureBatching(Patient, _models.Metrics);

        Assert.Equal("input 'input' has no free first (batch) dimension", why);
        Assert.Null(model.Batcher);
    }

    [Fact]
    public async Task Unloading_the_model_stops_its_batcher()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([1f], 0f), "linear");
        Assert.Null(model.ConfigureBatching(new BatchingSettings(8, 0), _models.Metrics));
        var batcher = model.Batcher!;

        var disposed = _models.Registry.Remove(model.ReplicaId)!;
        await disposed.WaitAsync(TimeSpan.FromSeconds(10));

        await batcher.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(batcher.TryEnqueue(new PendingInference([], [], 1, Stopwatch.GetTimestamp())));
    }

    [Theory]
    [InlineData(1, 0, "maxBatchSize must be between 2 and 4096 (got 1)")]
    [InlineData(5000, 0, "maxBatchSize must be between 2 and 4096 (got 5000)")]
    [InlineData(8, -1, "maxLatencyMicroseconds must be between 0 and 1000000 (got -1)")]
    [InlineData(8, 1_000_001, "maxLatencyMicroseconds must be between 0 and 1000000 (got 1000001)")]
    public void Settings_out_of_range_are_refused_with_the_reason(int size, int latency, string expected)
    {
        Assert.Equal(expected, new BatchingSettings(size, latency).Validate());
    }

    public void Dispose() => _models.Dispose();
}
