using Mds.Contracts.Inference;
using Mds.ModelGen;

namespace Mds.UnitTests.Workers;

/// <summary>Binding V2 tensors to ONNX Runtime and back, and checking requests against the model, on real sessions.</summary>
public sealed class TensorBindingTests : IDisposable
{
    private readonly WorkerModels _models = new();

    public void Dispose() => _models.Dispose();

    public static TheoryData<TensorDatatype, Array> EveryDatatype() => new()
    {
        { TensorDatatype.Bool, new[] { true, false, false, true, true, false } },
        { TensorDatatype.UInt8, new byte[] { 0, 1, 2, 127, 128, 255 } },
        { TensorDatatype.UInt16, new ushort[] { 0, 1, 2, 300, 32768, ushort.MaxValue } },
        { TensorDatatype.UInt32, new uint[] { 0, 1, 2, 70000, 1u << 31, uint.MaxValue } },
        { TensorDatatype.UInt64, new ulong[] { 0, 1, 2, 1UL << 40, 1UL << 63, ulong.MaxValue } },
        { TensorDatatype.Int8, new sbyte[] { sbyte.MinValue, -1, 0, 1, 2, sbyte.MaxValue } },
        { TensorDatatype.Int16, new short[] { short.MinValue, -300, 0, 1, 300, short.MaxValue } },
        { TensorDatatype.Int32, new[] { int.MinValue, -70000, 0, 1, 70000, int.MaxValue } },
        { TensorDatatype.Int64, new[] { long.MinValue, -(1L << 40), 0, 1, 1L << 40, long.MaxValue } },
        { TensorDatatype.Fp16, new[] { (Half)0, (Half)(-1.5), (Half)0.1, Half.MaxValue, Half.NegativeInfinity, Half.NaN } },
        { TensorDatatype.Bf16, new[] { BFloat16.FromBits(0x8000), (BFloat16)(-1.5f), (BFloat16)0.1f, BFloat16.MaxValue, BFloat16.Epsilon, BFloat16.NaN } },
        { TensorDatatype.Fp32, new[] { 0f, -1.5f, 0.1f, float.MaxValue, float.NegativeInfinity, float.NaN } },
        { TensorDatatype.Fp64, new[] { 0d, -1.5d, 0.1d, double.Epsilon, double.PositiveInfinity, double.NaN } },
        { TensorDatatype.Bytes, new[] { "", "a", "héllo", "🙂 emoji", "with \"quotes\"", new string('x', 1000) } },
    };

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public async Task Every_datatype_comes_back_unchanged_through_an_identity_model(TensorDatatype datatype, Array data)
    {
        await _models.LoadAsync(TestGraphs.Identity(datatype, -1, 3), "identity");

        var response = _models.Infer("identity", new InferenceTensor("input", datatype, [2, 3], data));

        var output = Assert.Single(response.Outputs);
        Assert.Equal("output", output.Name);
        Assert.Equal(datatype, output.Datatype);
        Assert.Equal([2L, 3L], output.Shape);
        Assert.Equal(data.GetType(), output.Data.GetType());
        Assert.Equal(data.Cast<object>(), output.Data.Cast<object>());
    }

    [Fact]
    public async Task A_scalar_input_of_shape_empty_is_a_rank_0_tensor()
    {
        await _models.LoadAsync(TestGraphs.Identity(TensorDatatype.Fp64), "scalar");

        var response = _models.Infer("scalar", new InferenceTensor("input", TensorDatatype.Fp64, [], new[] { 4.25 }));

        var output = Assert.Single(response.Outputs);
        Assert.Empty(output.Shape);
        Assert.Equal(new[] { 4.25 }, output.Data);
    }

    [Fact]
    public async Task Response_names_model_and_version_and_echoes_the_request_id()
    {
        await _models.LoadAsync(TestGraphs.Identity(TensorDatatype.Int32, 2), "echo", version: 7);

        var response = _models.Run("echo", null, new InferenceRequest
        {
            Id = "req-42",
            Inputs = [new InferenceTensor("input", TensorDatatype.Int32, [2], new[] { 1, 2 })],
        });

        Assert.Equal("echo", response.ModelName);
        Assert.Equal("7", response.ModelVersion);
        Assert.Equal("req-42", response.Id);
    }

    [Fact]
    public async Task Linear_model_computes_x_times_w_plus_b_for_each_row()
    {
        await _models.LoadAsync(TestGraphs.Linear([1f, 2f, 3f], 0.5f), "linear");

        var response = _models.Infer("linear", new InferenceTensor("x", TensorDatatype.Fp32, [2, 3], new[] { 1f, 1f, 1f, 0f, -1f, 2f }));

        var y = Assert.Single(response.Outputs);
        Assert.Equal("y", y.Name);
        Assert.Equal([2L, 1L], y.Shape);
        Assert.Equal(new[] { 6.5f, 4.5f }, y.Data);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task A_free_dimension_takes_any_batch_size(int rows)
    {
        await _models.LoadAsync(TestGraphs.Linear([1f, 1f], 0f), "linear");
        var x = Enumerable.Range(0, rows * 2).Select(i => (float)i).ToArray();

        var response = _models.Infer("linear", new InferenceTensor("x", TensorDatatype.Fp32, [rows, 2], x));

        Assert.Equal([(long)rows, 1L], response.Outputs[0].Shape);
        Assert.Equal(Enumerable.Range(0, rows).Select(r => (float)(4 * r + 1)).ToArray(), response.Outputs[0].Data);
    }

    [Fact]
    public async Task Iris_sample_predicts_the_species_its_readme_shows()
    {
        var onnx = await File.ReadAllBytesAsync(Path.Combine(Samples.LocateDirectory(AppContext.BaseDirectory), "iris", "model.onnx"));
        await _models.LoadAsync(onnx, "iris");

        var response = _models.Infer("iris", new InferenceTensor("Features", TensorDatatype.Fp32, [3, 4],
            new[] { 6.5f, 2.9f, 4.9f, 1.2f, 4.6f, 3.6f, 1.5f, 0.3f, 5.1f, 3.1f, 1.5f, 0.5f }));

        var label = Assert.Single(response.Outputs, o => o.Name == "PredictedLabel");
        Assert.Equal(TensorDatatype.Bytes, label.Datatype);
        Assert.Equal(new[] { "versicolor", "setosa", "setosa" }, label.Data);
        var score = Assert.Single(response.Outputs, o => o.Name == "Score");
        Assert.Equal([3L, 3L], score.Shape);
    }

    [Fact]
    public async Task Requested_outputs_return_only_those_outputs_in_the_requested_order()
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");

        var response = _models.Run("two", null, new InferenceRequest
        {
            Inputs = TwoInputs(),
            Outputs = [new RequestedOutput("product")],
        });

        var product = Assert.Single(response.Outputs);
        Assert.Equal("product", product.Name);
        Assert.Equal(new[] { 4f, 10f, 18f }, product.Data);
    }

    [Fact]
    public async Task Without_requested_outputs_every_output_is_returned()
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");

        var response = _models.Run("two", null, new InferenceRequest { Inputs = TwoInputs() });

        Assert.Equal(["product", "sum"], response.Outputs.Select(o => o.Name).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { 5f, 7f, 9f }, response.Outputs.Single(o => o.Name == "sum").Data);
    }

    [Fact]
    public async Task Inputs_may_come_in_any_order()
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");

        var response = _models.Infer("two", [.. TwoInputs().Reverse()]);

        Assert.Equal(new[] { 5f, 7f, 9f }, response.Outputs.Single(o => o.Name == "sum").Data);
    }

    public static TheoryData<string, InferenceTensor[], string[]> InvalidRequests() => new()
    {
        {
            "unknown input name",
            [Fp32("a", [1, 3]), Fp32("b", [1, 3]), Fp32("c", [1, 3])],
            ["'c'", "not an input", "a, b"]
        },
        {
            "missing input",
            [Fp32("a", [1, 3])],
            ["'b'", "missing", "FP32", "[-1,3]"]
        },
        {
            "input given twice",
            [Fp32("a", [1, 3]), Fp32("a", [1, 3]), Fp32("b", [1, 3])],
            ["'a'", "more than once"]
        },
        {
            "wrong datatype",
            [Fp32("a", [1, 3]), new InferenceTensor("b", TensorDatatype.Fp64, [1, 3], new double[3])],
            ["'b'", "FP64", "expects FP32"]
        },
        {
            "wrong fixed dimension",
            [Fp32("a", [1, 3]), Fp32("b", [1, 4])],
            ["'b'", "[1,4]", "[-1,3]"]
        },
        {
            "wrong rank",
            [Fp32("a", [1, 3]), Fp32("b", [3])],
            ["'b'", "[3]", "[-1,3]"]
        },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task A_request_that_does_not_fit_the_model_is_rejected_naming_the_tensor(string situation, InferenceTensor[] inputs, string[] messageParts)
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");

        var error = Assert.Throws<InferenceProtocolException>(() => _models.Infer("two", inputs));

        foreach (string part in messageParts)
        {
            Assert.True(error.Message.Contains(part, StringComparison.Ordinal), $"{situation}: '{error.Message}' should contain {part}");
        }
    }

    [Fact]
    public async Task An_unknown_requested_output_is_rejected_naming_it()
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");

        var error = Assert.Throws<InferenceProtocolException>(() => _models.Run("two", null, new InferenceRequest
        {
            Inputs = TwoInputs(),
            Outputs = [new RequestedOutput("difference")],
        }));

        Assert.Contains("'difference'", error.Message, StringComparison.Ordinal);
        Assert.Contains("not an output", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_request_leaves_the_model_serving()
    {
        await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "two");
        Assert.Throws<InferenceProtocolException>(() => _models.Infer("two", Fp32("a", [1, 3])));

        var response = _models.Infer("two", TwoInputs());

        Assert.Equal(2, response.Outputs.Count);
        Assert.Equal(0, _models.Runner.InFlight);
        Assert.Equal(0, _models.Registry.Loaded.Single().InFlight);
    }

    private static InferenceTensor[] TwoInputs() =>
    [
        new InferenceTensor("a", TensorDatatype.Fp32, [1, 3], new[] { 1f, 2f, 3f }),
        new InferenceTensor("b", TensorDatatype.Fp32, [1, 3], new[] { 4f, 5f, 6f }),
    ];

    private static InferenceTensor Fp32(string name, long[] shape) =>
        new(name, TensorDatatype.Fp32, shape, new float[InferenceTensor.ElementCount(shape)]);
}
