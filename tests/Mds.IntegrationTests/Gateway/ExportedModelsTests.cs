using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Gateway;

/// <summary>
/// Models exactly as scikit-learn (skl2onnx) and LightGBM (onnxmltools) export them, uploaded, placed on real workers
/// and called through the gateway over REST and gRPC; answers compared with <see cref="ExportStylesReference"/>.
/// </summary>
[Collection(GatewayGrpcCollection.Name)]
public sealed class ExportedModelsTests(GatewayGrpcFixture fixture) : IDisposable
{
    private static readonly float[][] IrisRows = [[5.1f, 3.5f, 1.4f, 0.2f], [6.0f, 2.7f, 5.1f, 1.6f], [6.9f, 3.1f, 5.4f, 2.1f]];
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.GrpcPort}");

    private MdsCluster Cluster => fixture.Cluster;

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task A_scikit_learn_ZipMap_classifier_answers_over_REST_with_probabilities_by_class_label()
    {
        const string name = "sk-zipmap-strings";
        await Cluster.EnsureReadyAsync(name, ExportStyles.SklearnLogisticRegression(intLabels: false));
        using var client = await Cluster.ClientAsync(Roles.Analyst);

        var response = await client.PostAsync($"/v2/models/{name}/infer", V2Json.Request("float_input", [3, 4], "FP32", IrisRows.SelectMany(r => r).ToArray()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outputs = (await response.Content.ReadFromJsonAsync<JsonObject>())!["outputs"]!.AsArray();
        var label = outputs.Single(o => (string)o!["name"]! == "output_label")!;
        var probability = outputs.Single(o => (string)o!["name"]! == "output_probability")!;
        Assert.Equal("FP32", (string)probability["datatype"]!);
        Assert.Equal([3L, 3L], probability["shape"]!.AsArray().Select(d => (long)d!));
        Assert.Equal(ExportStylesReference.IrisClasses, TensorMetadata.DecodeLabels((string?)probability["parameters"]?["class_labels"]));
        var values = probability["data"]!.AsArray().Select(v => (float)v!).ToArray();
        for (int row = 0; row < IrisRows.Length; row++)
        {
            var expected = ExportStylesReference.SklearnLogisticRegression(IrisRows[row]);
            Assert.Equal(ExportStylesReference.IrisClasses[expected.ClassIndex], (string)label["data"]![row]!);
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected.Probabilities[c], values[(row * 3) + c], 4);
            }
        }

        var metadata = (await client.GetFromJsonAsync<JsonObject>($"/v2/models/{name}"))!;
        var described = metadata["outputs"]!.AsArray().Single(o => (string)o!["name"]! == "output_probability")!;
        Assert.Equal([-1L, 3L], described["shape"]!.AsArray().Select(d => (long)d!));
        Assert.Equal(ExportStylesReference.IrisClasses, TensorMetadata.DecodeLabels((string?)described["parameters"]?["class_labels"]));

        var version = (await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{name}/versions/1"))!;
        Assert.Equal(ExportStylesReference.IrisClasses, version.Classes);
        Assert.Equal(("skl2onnx", "1.17.0"), (version.File?.Producer, version.File?.ProducerVersion));
    }

    [Fact]
    public async Task A_LightGBM_export_answers_over_gRPC_with_the_labels_as_a_parameter()
    {
        const string name = "lgbm-zipmap";
        await Cluster.EnsureReadyAsync(name, ExportStyles.LightGbmClassifier());
        var gateway = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        var input = new ModelInferRequest.Types.InferInputTensor
        {
            Name = "input", Datatype = "FP32", Shape = { 3, 4 },
            Contents = new InferTensorContents { Fp32Contents = { IrisRows.SelectMany(r => r) } },
        };
        var auth = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } };

        var response = await gateway.ModelInferAsync(new ModelInferRequest { ModelName = name, Inputs = { input } }, auth);

        var probabilities = response.Outputs.Single(o => o.Name == "probabilities");
        var labels = response.Outputs.Single(o => o.Name == "label").Contents.Int64Contents.ToArray();
        Assert.Equal("FP32", probabilities.Datatype);
        Assert.Equal([3L, 3L], probabilities.Shape.ToArray());
        Assert.Equal(["0", "1", "2"], TensorMetadata.DecodeLabels(probabilities.Parameters["class_labels"].StringParam));
        var values = probabilities.Contents.Fp32Contents.ToArray();
        for (int row = 0; row < IrisRows.Length; row++)
        {
            var expected = ExportStylesReference.LightGbmClassifier(IrisRows[row]);
            Assert.Equal(expected.ClassIndex, labels[row]);
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected.Probabilities[c], values[(row * 3) + c], 4);
            }
        }
    }

    [Fact]
    public async Task A_column_transformer_with_string_columns_answers_through_the_gateway()
    {
        const string name = "sk-columns";
        await Cluster.EnsureReadyAsync(name, ExportStyles.SklearnColumnTransformer());
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var body = new JsonObject
        {
            ["inputs"] = new JsonArray(
                Column("age", "FP32", new JsonArray(31, 58)),
                Column("income", "FP32", new JsonArray(42000, 120000)),
                Column("city", "BYTES", new JsonArray("paris", "oslo")),
                Column("plan", "BYTES", new JsonArray("pro", "team"))),
        };

        var response = await client.PostAsJsonAsync($"/v2/models/{name}/infer", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outputs = (await response.Content.ReadFromJsonAsync<JsonObject>())!["outputs"]!.AsArray();
        var probability = outputs.Single(o => (string)o!["name"]! == "output_probability")!["data"]!.AsArray().Select(v => (float)v!).ToArray();
        var first = ExportStylesReference.SklearnColumnTransformer(31, 42000, "paris", "pro");
        var second = ExportStylesReference.SklearnColumnTransformer(58, 120000, "oslo", "team");
        Assert.Equal(first.Probabilities[1], probability[1], 4);
        Assert.Equal(second.Probabilities[1], probability[3], 4);

        static JsonObject Column(string name, string datatype, JsonArray data) =>
            new() { ["name"] = name, ["datatype"] = datatype, ["shape"] = new JsonArray(data.Count, 1), ["data"] = data };
    }

    [Theory]
    [InlineData("map", "input 'features' is a map(string")]
    [InlineData("sequence", "input 'tensors' is a sequence of tensor(float)")]
    public async Task A_model_whose_input_is_not_a_tensor_is_refused_at_upload_with_the_reason(string kind, string reason)
    {
        var onnx = kind == "map" ? ExportStyles.MapInput() : ExportStyles.SequenceInput();

        var response = await Cluster.UploadAsync("not-a-tensor-" + kind, onnx);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string detail = await response.Content.ReadAsStringAsync();
        Assert.Contains(reason, detail, StringComparison.Ordinal);
    }
}
