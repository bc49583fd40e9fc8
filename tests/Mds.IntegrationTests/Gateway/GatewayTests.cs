using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.IntegrationTests.Gateway;

/// <summary>Upload → Ready → infer through the backend gateway, against a real worker process.</summary>
[Collection(ClusterCollection.Name)]
public sealed class GatewayTests(MdsCluster cluster)
{
    private static readonly float[] IrisRows = [6.5f, 2.9f, 4.9f, 1.2f, 4.6f, 3.6f, 1.5f, 0.3f, 7.2f, 3.2f, 6.0f, 1.8f];

    [Fact]
    public async Task Uploaded_iris_becomes_ready_and_answers_like_onnx_runtime_through_the_gateway()
    {
        byte[] onnx = await File.ReadAllBytesAsync(TestEnvironment.Sample("iris"));
        var version = await cluster.DeployAsync("iris-e2e", onnx);
        Assert.Equal(VersionStates.Ready, version.State);
        Assert.Equal("Features", Assert.Single(version.Inputs).Name);
        Assert.Equal([-1L, 4L], version.Inputs[0].Shape);

        using var client = await cluster.ClientAsync(Roles.Analyst);
        var response = await client.PostAsync("/v2/models/iris-e2e/infer", V2Json.Request("Features", [3, 4], "FP32", IrisRows, id: "req-42"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        Assert.Equal(32, Assert.Single(response.Headers.GetValues(MdsHeaders.RequestId)).Length); // the gateway's request id

        var json = JsonNode.Parse(text)!;
        Assert.Equal("iris-e2e", (string)json["model_name"]!);
        Assert.Equal("1", (string)json["model_version"]!);
        Assert.Equal("req-42", (string)json["id"]!);
        var labels = V2Json.Output(json, "PredictedLabel")["data"]!.AsArray().Select(n => (string)n!).ToArray();
        var scores = V2Json.Output(json, "Score")["data"]!.AsArray().Select(n => (float)n!).ToArray();

        var (expectedLabels, expectedScores) = RunLocally(onnx, IrisRows, 3);
        Assert.Equal(expectedLabels, labels);
        Assert.Equal(["versicolor", "setosa", "virginica"], labels);
        Assert.Equal(expectedScores.Length, scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.Equal(expectedScores[i], scores[i], 1e-6f);
        }
    }

    [Fact]
    public async Task Versioned_and_live_routes_pick_the_right_version()
    {
        await cluster.DeployAsync("linear", TestGraphs.Linear([1f, 2f], 0f));
        await cluster.DeployAsync("linear", TestGraphs.Linear([10f, 20f], 5f));
        using var client = await cluster.ClientAsync(Roles.Analyst);

        async Task<float> Y(string path)
        {
            var r = await client.PostAsync(path, V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 1f }));
            string body = await r.Content.ReadAsStringAsync();
            Assert.True(r.IsSuccessStatusCode, body);
            return (float)V2Json.Output(JsonNode.Parse(body)!, "y")["data"]![0]!;
        }

        Assert.Equal(3f, await Y("/v2/models/linear/versions/1/infer"));
        Assert.Equal(35f, await Y("/v2/models/linear/versions/2/infer"));
        Assert.Equal(35f, await Y("/v2/models/linear/infer")); // newest Ready answers the bare name

        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        var live = await researcher.PostAsync("/api/models/linear/versions/1/live", null);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(1, (await live.Content.ReadFromJsonAsync<ModelDto>())!.LiveVersion);
        Assert.Equal(3f, await Y("/v2/models/linear/infer"));

        var metadata = await client.GetFromJsonAsync<JsonObject>("/v2/models/linear");
        Assert.Equal("onnxruntime_onnx", (string)metadata!["platform"]!);
        Assert.Equal(["1", "2"], metadata["versions"]!.AsArray().Select(v => (string)v!).ToArray());
        Assert.Equal("x", (string)metadata["inputs"]![0]!["name"]!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/linear/versions/2/ready")).StatusCode);
    }

    [Fact]
    public async Task Unknown_model_is_404_with_a_v2_error()
    {
        using var client = await cluster.ClientAsync(Roles.Analyst);
        foreach (string path in new[] { "/v2/models/no-such-model/infer", "/v2/models/no-such-model/versions/1/infer" })
        {
            var response = await client.PostAsync(path, V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("no-such-model", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v2/models/no-such-model")).StatusCode);
    }

    [Fact]
    public async Task Model_that_fits_no_worker_stays_pending_with_the_reason_and_infer_is_503()
    {
        var upload = await cluster.UploadAsync("needs-gpu", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,gpu" });
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var version = await cluster.WaitForVersionAsync("needs-gpu", 1, VersionStates.Pending, TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () =>
        {
            version = await cluster.WaitForVersionAsync("needs-gpu", 1, VersionStates.Pending, TimeSpan.FromSeconds(10));
            return version.StateReason == "no worker with capability gpu";
        }, TimeSpan.FromSeconds(10), "the pending reason");

        using var client = await cluster.ClientAsync(Roles.Analyst);
        var response = await client.PostAsync("/v2/models/needs-gpu/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        string error = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Contains("no ready replica", error);
        Assert.Contains("no worker with capability gpu", error);
    }

    [Theory]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2,3]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"wrong","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""", "wrong")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":[1,2]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":["a","b"]}]}""", "x")]
    [InlineData("""{"inputs": [""", "JSON")]
    [InlineData("""[]""", "")]
    public async Task Bad_infer_requests_are_400_with_an_error_naming_the_problem(string body, string mentioned)
    {
        await cluster.EnsureReadyAsync("bad-input-target", TestGraphs.Linear([1f, 1f], 0f));
        using var client = await cluster.ClientAsync(Roles.Analyst);
        var response = await client.PostAsync("/v2/models/bad-input-target/infer", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        string error = (string)JsonNode.Parse(text)!["error"]!;
        Assert.Contains(mentioned, error, StringComparison.OrdinalIgnoreCase);

        // The worker is still serving after all of that.
        var ok = await client.PostAsync("/v2/models/bad-input-target/infer", V2Json.Request("x", [1, 2], "FP32", new[] { 2f, 3f }));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task The_body_decides_not_the_content_type()
    {
        // curl -d sends application/x-www-form-urlencoded: a V2 body is still answered, and anything else is a 400
        // naming the problem, never a bare 415.
        await cluster.EnsureReadyAsync("bad-input-target", TestGraphs.Linear([1f, 1f], 0f));
        using var client = await cluster.ClientAsync(Roles.Analyst);
        var form = await client.PostAsync("/v2/models/bad-input-target/infer", new StringContent(
            """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[2,3]}]}""", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        string answer = await form.Content.ReadAsStringAsync();
        Assert.True(form.StatusCode == HttpStatusCode.OK, answer);
        Assert.Equal(5f, JsonNode.Parse(answer)!["outputs"]![0]!["data"]![0]!.GetValue<float>());

        var text = await client.PostAsync("/v2/models/bad-input-target/infer", new StringContent("hello", System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, text.StatusCode);
        Assert.Contains("JSON", (string)JsonNode.Parse(await text.Content.ReadAsStringAsync())!["error"]!, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Workers_answer_v2_directly_too()
    {
        await cluster.EnsureReadyAsync("direct", TestGraphs.Linear([2f], 1f));
        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync("/v2/health/live")).StatusCode);
        var response = await worker.PostAsync("/v2/models/direct/infer", V2Json.Request("x", [2, 1], "FP32", new[] { 1f, 2f }));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        Assert.Equal([3f, 5f], V2Json.Output(JsonNode.Parse(text)!, "y")["data"]!.AsArray().Select(n => (float)n!).ToArray());
    }

    [Fact]
    public async Task A_worker_marks_its_not_loaded_404_so_the_gateway_can_tell_it_from_an_unknown_model()
    {
        await cluster.EnsureReadyAsync("direct", TestGraphs.Linear([2f], 1f));
        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        var response = await worker.PostAsync("/v2/models/direct/versions/99/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.True(response.Headers.Contains(MdsHeaders.NotLoaded));
        Assert.Contains("not loaded on this worker", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // through the gateway an unknown version is the registry's 404, not the worker's
        using var client = await cluster.ClientAsync(Roles.Analyst);
        var viaGateway = await client.PostAsync("/v2/models/direct/versions/99/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
        Assert.Equal(HttpStatusCode.NotFound, viaGateway.StatusCode);
        Assert.False(viaGateway.Headers.Contains(MdsHeaders.NotLoaded));
        Assert.Contains("has no version 99", await viaGateway.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_a_version_stops_it_answering()
    {
        await cluster.DeployAsync("short-lived", TestGraphs.Linear([1f], 0f));

        // as on a backend that has never stored a reference dataset: no datasets directory to delete a file from
        var datasets = new DirectoryInfo(Path.Combine(cluster.BackendDataDirectory, "datasets"));
        if (datasets.Exists)
        {
            datasets.Delete(recursive: true);
        }

        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.NoContent, (await researcher.DeleteAsync("/api/models/short-lived/versions/1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await researcher.GetAsync("/api/models/short-lived/versions/1")).StatusCode);

        using var client = await cluster.ClientAsync(Roles.Analyst);
        var response = await client.PostAsync("/v2/models/short-lived/versions/1/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);

        // and the worker lets go of it
        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        await Eventually.TrueAsync(async () => (await worker.GetAsync("/v2/models/short-lived/versions/1/ready")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(15), "the worker to unload short-lived v1");
    }

    private static (string[] Labels, float[] Scores) RunLocally(byte[] onnx, float[] rows, int count)
    {
        using var session = new InferenceSession(onnx);
        using var input = OrtValue.CreateTensorValueFromMemory(rows, [count, 4]);
        using var outputs = session.Run(new RunOptions(), ["Features"], [input], ["PredictedLabel", "Score"]);
        string[] labels = [.. outputs[0].GetStringTensorAsArray()];
        float[] scores = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        return (labels, scores);
    }
}
