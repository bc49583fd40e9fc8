using Mds.Contracts.Inference;
using Mds.ModelGen;
using Mds.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Mds.UnitTests.Models;

public sealed class TestGraphsTests
{
    public static TheoryData<TensorDatatype> AllDatatypes =>
    [
        TensorDatatype.Bool, TensorDatatype.UInt8, TensorDatatype.UInt16, TensorDatatype.UInt32, TensorDatatype.UInt64,
        TensorDatatype.Int8, TensorDatatype.Int16, TensorDatatype.Int32, TensorDatatype.Int64,
        TensorDatatype.Fp16, TensorDatatype.Fp32, TensorDatatype.Fp64, TensorDatatype.Bytes,
    ];

    [Theory]
    [MemberData(nameof(AllDatatypes))]
    public void Identity_loads_with_the_datatype_and_a_symbolic_batch_dimension(TensorDatatype datatype)
    {
        using var session = new InferenceSession(TestGraphs.Identity(datatype, -1, 3));
        var schema = OnnxSchema.FromSession(session);

        var input = Assert.Single(schema.Inputs);
        var output = Assert.Single(schema.Outputs);
        Assert.Equal(("input", datatype.ToWireName(), "-1,3"), (input.Name, input.Datatype, string.Join(',', input.Shape)));
        Assert.Equal(("output", datatype.ToWireName(), "-1,3"), (output.Name, output.Datatype, string.Join(',', output.Shape)));
        Assert.Equal("N", session.InputMetadata["input"].SymbolicDimensions[0]);
    }

    [Theory]
    [MemberData(nameof(AllDatatypes))]
    public void Identity_returns_its_input_unchanged(TensorDatatype datatype)
    {
        var model = TestGraphs.Identity(datatype, -1, 3);
        switch (datatype)
        {
            case TensorDatatype.Bool: AssertRoundTrip(model, new[] { true, false, true, false, false, true }); break;
            case TensorDatatype.UInt8: AssertRoundTrip(model, new byte[] { 0, 1, 2, 127, 128, 255 }); break;
            case TensorDatatype.UInt16: AssertRoundTrip(model, new ushort[] { 0, 1, 300, 32768, 65534, 65535 }); break;
            case TensorDatatype.UInt32: AssertRoundTrip(model, new uint[] { 0, 1, 70000, 2147483648, 4000000000, uint.MaxValue }); break;
            case TensorDatatype.UInt64: AssertRoundTrip(model, new ulong[] { 0, 1, 1UL << 40, 1UL << 63, ulong.MaxValue - 1, ulong.MaxValue }); break;
            case TensorDatatype.Int8: AssertRoundTrip(model, new sbyte[] { sbyte.MinValue, -1, 0, 1, 42, sbyte.MaxValue }); break;
            case TensorDatatype.Int16: AssertRoundTrip(model, new short[] { short.MinValue, -300, 0, 1, 300, short.MaxValue }); break;
            case TensorDatatype.Int32: AssertRoundTrip(model, new[] { int.MinValue, -70000, 0, 1, 70000, int.MaxValue }); break;
            case TensorDatatype.Int64: AssertRoundTrip(model, new[] { long.MinValue, -(1L << 40), 0, 1, 1L << 40, long.MaxValue }); break;
            case TensorDatatype.Fp16: AssertRoundTrip(model, new[] { -2.5f, -0.0009765625f, 0f, 1f, 1.5f, 65504f }.Select(f => (Float16)f).ToArray()); break;
            case TensorDatatype.Fp32: AssertRoundTrip(model, new[] { float.MinValue, -1.25f, 0f, 1e-30f, 3.14159f, float.MaxValue }); break;
            case TensorDatatype.Fp64: AssertRoundTrip(model, new[] { double.MinValue, -1.25, 0.0, 1e-300, Math.PI, double.MaxValue }); break;
            case TensorDatatype.Bytes: AssertStringRoundTrip(model, ["", "a", "setosa", "ünïcödé", "with space", "x,y"]); break;
            default: Assert.Fail($"No values for {datatype}."); break;
        }
    }

    [Fact]
    public void Identity_keeps_fixed_dimensions_and_names_each_unknown_axis()
    {
        using var fixedShape = new InferenceSession(TestGraphs.Identity(TensorDatatype.Fp32, 2, 2));
        using var allUnknown = new InferenceSession(TestGraphs.Identity(TensorDatatype.Int64, -1, -1, 4));

        Assert.Equal([2, 2], fixedShape.InputMetadata["input"].Dimensions);
        Assert.Equal([-1, -1, 4], allUnknown.InputMetadata["input"].Dimensions);
        Assert.Equal(["N", "d1", ""], allUnknown.InputMetadata["input"].SymbolicDimensions);
    }

    [Fact]
    public void Linear_computes_x_dot_w_plus_b_per_row()
    {
        float[] weights = [0.5f, -1f, 2f];
        using var session = new InferenceSession(TestGraphs.Linear(weights, 0.25f));
        float[] x = [1f, 2f, 3f, 0f, 0f, 0f, -4f, 0.5f, 10f];

        var y = Run(session, ("x", x, [3, 3]))["y"];

        Assert.Equal([3L, 1L], y.Shape);
        Assert.Equal([4.75f, 0.25f, 17.75f], y.Data);
        Assert.Equal([-1L, 3L], session.InputMetadata["x"].Dimensions.Select(d => (long)d));
    }

    [Fact]
    public void TwoInputsTwoOutputs_adds_and_multiplies_elementwise()
    {
        using var session = new InferenceSession(TestGraphs.TwoInputsTwoOutputs());
        float[] a = [1f, 2f, 3f, -1f, 0.5f, 10f];
        float[] b = [4f, 5f, 6f, 2f, 2f, -0.1f];

        var outputs = Run(session, ("a", a, [2, 3]), ("b", b, [2, 3]));

        Assert.Equal([5f, 7f, 9f, 1f, 2.5f, 9.9f], outputs["sum"].Data);
        Assert.Equal([4f, 10f, 18f, -2f, 1f, -1f], outputs["product"].Data);
        Assert.Equal([2L, 3L], outputs["product"].Shape);
    }

    [Fact]
    public void Corrupt_is_rejected_by_ONNX_Runtime()
    {
        var bytes = TestGraphs.Corrupt();

        Assert.NotEmpty(bytes);
        Assert.Equal(bytes, TestGraphs.Corrupt());
        Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(bytes).Dispose());
    }

    [Fact]
    public void Corrupt_is_rejected_by_the_schema_reader_with_a_message()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mds-corrupt-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, TestGraphs.Corrupt());
        try
        {
            var error = Assert.Throws<InvalidOnnxModelException>(() => OnnxSchema.Read(path));
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertRoundTrip<T>(byte[] model, T[] values)
        where T : unmanaged
    {
        using var session = new InferenceSession(model);
        using var options = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(values, [2, 3]);
        using var outputs = session.Run(options, ["input"], [input], ["output"]);

        Assert.Equal([2L, 3L], outputs[0].GetTensorTypeAndShape().Shape);
        Assert.Equal(values, outputs[0].GetTensorDataAsSpan<T>().ToArray());
    }

    [Fact]
    public void PerColumnClassifier_encodes_the_city_and_answers_an_int64_label_beside_its_probabilities()
    {
        using var session = new InferenceSession(TestGraphs.PerColumnClassifier());
        using var options = new RunOptions();
        using var age = OrtValue.CreateTensorValueFromMemory(new[] { 30f, 30f, 30f, 30f }, [4, 1]);
        using var city = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [4, 1]);
        string[] cities = ["paris", "rome", "oslo", "lima"];
        for (int i = 0; i < cities.Length; i++)
        {
            city.StringTensorSetElementAt(cities[i], i);
        }

        using var outputs = session.Run(options, ["age", "city"], [age, city], ["label", "probabilities"]);

        Assert.Equal([0L, 1L, 2L, 0L], outputs[0].GetTensorDataAsSpan<long>().ToArray());
        float[] rome = outputs[1].GetTensorDataAsSpan<float>()[3..6].ToArray();
        double sum = 1 + Math.E + Math.Exp(0.6);
        Assert.Equal([1 / sum, Math.E / sum, Math.Exp(0.6) / sum], rome.Select(p => (double)p), new ToleranceComparer(1e-5));
        Assert.Equal([-1L, 1L], session.InputMetadata["city"].Dimensions.Select(d => (long)d));
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }

    private static void AssertStringRoundTrip(byte[] model, string[] values)
    {
        using var session = new InferenceSession(model);
        using var options = new RunOptions();
        using var input = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [2, 3]);
        for (int i = 0; i < values.Length; i++)
        {
            input.StringTensorSetElementAt(values[i], i);
        }

        using var outputs = session.Run(options, ["input"], [input], ["output"]);

        Assert.Equal([2L, 3L], outputs[0].GetTensorTypeAndShape().Shape);
        Assert.Equal(values, outputs[0].GetStringTensorAsArray());
    }

    private static Dictionary<string, (long[] Shape, float[] Data)> Run(InferenceSession session, params (string Name, float[] Data, long[] Shape)[] inputs)
    {
        using var options = new RunOptions();
        var values = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape)).ToArray();
        try
        {
            var names = session.OutputNames.ToArray();
            using var outputs = session.Run(options, inputs.Select(i => i.Name).ToArray(), values, names);
            return names.Select((n, i) => (n, (outputs[i].GetTensorTypeAndShape().Shape, outputs[i].GetTensorDataAsSpan<float>().ToArray())))
                .ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }
}
