using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Npgsql;

namespace Mds.IntegrationTests.Registry;

/// <summary><c>POST /api/models/inspect</c> reads what an upload would register, and stores nothing.</summary>
[Collection(ClusterCollection.Name)]
public sealed class InspectTests(MdsCluster cluster)
{
    [Fact]
    public async Task A_good_model_is_described_with_its_schema_features_and_classes_and_nothing_is_stored()
    {
        byte[] onnx = await File.ReadAllBytesAsync(TestEnvironment.Sample("iris"));
        long before = await ArtifactsAsync();
        var response = await cluster.PostFileAsync("/api/models/inspect", onnx, "iris.onnx");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var inspection = (await response.Content.ReadFromJsonAsync<ModelInspection>())!;

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(onnx)), inspection.Sha256);
        Assert.Equal(onnx.Length, inspection.SizeBytes);
        var input = Assert.Single(inspection.Inputs);
        Assert.Equal(("Features", "FP32"), (input.Name, input.Datatype));
        Assert.Equal([-1L, 4L], input.Shape);
        Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width"], inspection.FeatureNames!);
        Assert.Equal(["setosa", "versicolor", "virginica"], inspection.Classes!);
        Assert.Equal(before, await ArtifactsAsync());
    }

    [Fact]
    public async Task A_corrupt_file_is_rejected_with_the_reason()
    {
        var response = await cluster.PostFileAsync("/api/models/inspect", TestGraphs.Corrupt(), "bad.onnx");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("The file is not a valid ONNX model", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!);
    }

    [Fact]
    public async Task Uploaded_versions_carry_feature_and_class_names()
    {
        var response = await cluster.UploadAsync("inspect-iris", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var version = (await response.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        Assert.Equal(4, version.FeatureNames!.Count);
        Assert.Equal("virginica", version.Classes![2]);
    }

    [Fact]
    public async Task A_model_that_needs_more_memory_than_the_cap_is_refused_and_the_backend_survives()
    {
        // A few hundred bytes that ONNX Runtime's constant folding turns into 1 GiB while loading; the test backend's
        // cap (Mds:Registry:InspectMemoryMb) is 256 MiB.
        var response = await cluster.UploadAsync("memory-hog", TestGraphs.MemoryHog(1024));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The model needs more than 256 MiB to load (limit Mds:Registry:InspectMemoryMb).",
            (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!);
        Assert.False(cluster.Backend.HasExited);
        await AnswersNormallyAsync();
    }

    [Fact]
    public async Task A_model_that_crashes_the_parser_does_not_take_the_backend_down()
    {
        // Garbage where ONNX Runtime expects a protobuf: the parse fails in the inspector process, not the backend's.
        var response = await cluster.PostFileAsync("/api/models/inspect", TestGraphs.Corrupt(), "crash.onnx");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string detail = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!;
        Assert.DoesNotContain(cluster.BackendDataDirectory, detail, StringComparison.Ordinal);
        Assert.False(cluster.Backend.HasExited);
        await AnswersNormallyAsync();
    }

    [Fact]
    public async Task Without_its_inspector_the_backend_answers_503_with_the_reason_never_500()
    {
        await using var backend = await cluster.StartBackendAsync("backend-no-inspector",
            new Dictionary<string, string> { ["Mds__Registry__InspectorPath"] = "/nonexistent/Mds.ModelInspector.dll" });
        using var client = await cluster.ClientAsync(Roles.Researcher);
        client.BaseAddress = backend.Url;
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(TestEnvironment.Sample("iris"))), "file", "iris.onnx");

        var response = await client.PostAsync("/api/models/inspect", form);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("model inspector", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
    }

    /// <summary>The backend still inspects a good model after a bad one.</summary>
    private async Task AnswersNormallyAsync()
    {
        var next = await cluster.PostFileAsync("/api/models/inspect", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")), "iris.onnx");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    private async Task<long> ArtifactsAsync()
    {
        await using var conn = new NpgsqlConnection(cluster.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM artifacts", conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
