using Mds.Backend.Registry;
using Mds.Contracts.Inference;
using Mds.ModelGen;
using Mds.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mds.UnitTests.Onnx;

/// <summary>The inspector's JSON contract, and <see cref="OnnxInspector"/> running the real Mds.ModelInspector child process.</summary>
public sealed class ModelInspectorTests
{
    [Fact]
    public void The_schema_survives_the_trip_through_the_inspectors_json()
    {
        var schema = new OnnxSchema(
            [new TensorMetadata("x", "FP32", [-1, 4])],
            [new TensorMetadata("label", "INT64", [-1]), new TensorMetadata("name", "BYTES", [-1, 1])],
            ["a", "b", "c", "d"], ["setosa", "virginica"],
            ["output 'p' is a map(int64 → tensor(float)), which has no V2 form"],
            new Mds.Contracts.Api.ModelFileInfo("skl2onnx", "1.17.0", "doc", "graph", new Dictionary<string, string> { ["k"] = "v" }, new Dictionary<string, string> { ["x"] = "sepal sizes" }));

        var (read, error) = InspectorOutput.Parse(InspectorOutput.Schema(schema));

        Assert.Null(error);
        Assert.Equal(("x", "FP32"), (read!.Inputs[0].Name, read.Inputs[0].Datatype));
        Assert.Equal([-1L, 4L], read.Inputs[0].Shape);
        Assert.Equal(["label", "name"], read.Outputs.Select(o => o.Name));
        Assert.Equal(["a", "b", "c", "d"], read.FeatureNames!);
        Assert.Equal(["setosa", "virginica"], read.Classes!);
        Assert.Equal(schema.Problems, read.Problems);
        Assert.Equal(("skl2onnx", "1.17.0", "sepal sizes"), (read.File!.Producer, read.File.ProducerVersion, read.File.DocStrings["x"]));
    }

    [Fact]
    public void An_error_is_read_back_as_the_error()
    {
        var (schema, error) = InspectorOutput.Parse(InspectorOutput.Error("Protobuf parsing failed."));
        Assert.Null(schema);
        Assert.Equal("Protobuf parsing failed.", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"inputs\": [")]
    [InlineData("{}")]
    [InlineData("null")]
    public void A_truncated_or_foreign_answer_is_not_mistaken_for_a_schema(string text) =>
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => InspectorOutput.Parse(text));

    [Fact]
    public async Task A_zipmap_output_is_reported_as_the_tensor_it_is_served_as_with_its_class_labels()
    {
        var result = await InspectAsync(TestGraphs.ZipMapClassifier());

        Assert.Null(result.Refusal);
        Assert.Null(result.Failure);
        Assert.Empty(result.Schema!.Problems!);
        Assert.Equal(["label", "probabilities"], result.Schema.Outputs.Select(o => o.Name).Order());
        var probabilities = result.Schema.Outputs.Single(o => o.Name == "probabilities");
        Assert.Equal("FP32", probabilities.Datatype);
        Assert.NotNull(probabilities.ClassLabels);
        Assert.Equal([-1L, probabilities.ClassLabels!.Count], probabilities.Shape);
        Assert.Equal("x", Assert.Single(result.Schema.Inputs).Name);
    }

    [Fact]
    public async Task A_model_that_needs_more_memory_than_the_cap_is_killed_and_refused()
    {
        var result = await InspectAsync(TestGraphs.MemoryHog(1024), memoryMb: 256);

        Assert.Null(result.Schema);
        Assert.Equal("The model needs more than 256 MiB to load (limit Mds:Registry:InspectMemoryMb).", result.Refusal);
    }

    [Fact]
    public async Task A_corrupt_file_is_refused_with_the_reason_and_without_the_server_path()
    {
        string path = Path.Combine(Path.GetTempPath(), "mds-inspect-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(path, TestGraphs.Corrupt());
        try
        {
            var result = await Inspector().InspectAsync(path, CancellationToken.None);
            Assert.StartsWith("The file is not a valid ONNX model: ", result.Refusal);
            Assert.DoesNotContain(path, result.Refusal, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_missing_inspector_is_the_servers_failure_not_the_models()
    {
        var result = await InspectAsync(TestGraphs.Linear([1f], 0f), inspectorPath: "/nonexistent/Mds.ModelInspector.dll");

        Assert.Null(result.Refusal);
        Assert.Contains("model inspector", result.Failure, StringComparison.Ordinal);
    }

    private static async Task<ModelInspectionResult> InspectAsync(byte[] onnx, int memoryMb = 2048, string? inspectorPath = null)
    {
        string path = Path.GetTempFileName();
        await File.WriteAllBytesAsync(path, onnx);
        try
        {
            return await Inspector(memoryMb, inspectorPath).InspectAsync(path, CancellationToken.None);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static OnnxInspector Inspector(int memoryMb = 2048, string? inspectorPath = null) =>
        new(Options.Create(new RegistryOptions { InspectMemoryMb = memoryMb, InspectorPath = inspectorPath }), NullLogger<OnnxInspector>.Instance);
}
