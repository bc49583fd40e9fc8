using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Gateway;

/// <summary>An MDS whose backend serves gRPC (<c>Mds:Gateway:GrpcPort</c>) and whose two workers serve gRPC too.</summary>
public sealed class GatewayGrpcFixture : IAsyncLifetime
{
    public GatewayGrpcFixture()
    {
        GrpcPort = TestEnvironment.FreePort();
        Cluster = new MdsCluster
        {
            InitialWorkers = 0,
            BackendSettings = new Dictionary<string, string> { ["Mds__Gateway__GrpcPort"] = GrpcPort.ToString(CultureInfo.InvariantCulture) },
        };
    }

    public MdsCluster Cluster { get; }

    /// <summary>The backend's gRPC port.</summary>
    public int GrpcPort { get; }

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        for (int i = 0; i < 2; i++)
        {
            string port = TestEnvironment.FreePort().ToString(CultureInfo.InvariantCulture);
            await Cluster.StartWorkerAsync($"gw-grpc-{i}", settings: new Dictionary<string, string>
            {
                ["Mds__Worker__GrpcPort"] = port,
                ["Mds__Worker__GrpcUrl"] = $"http://127.0.0.1:{port}",
            });
        }
    }

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class GatewayGrpcCollection : ICollectionFixture<GatewayGrpcFixture>
{
    public const string Name = "gateway-grpc";
}

/// <summary>
/// The Open Inference Protocol over gRPC on the backend's gateway, called with the generated client as a Triton or
/// KServe client would call it, and the statistics extension on the gateway summed over the workers.
/// </summary>
[Collection(GatewayGrpcCollection.Name)]
public sealed class GatewayGrpcTests(GatewayGrpcFixture fixture) : IDisposable
{
    private const string Iris = "gw-grpc-iris";
    private static readonly float[] IrisRows = [6.5f, 2.9f, 4.9f, 1.2f, 4.6f, 3.6f, 1.5f, 0.3f, 7.2f, 3.2f, 6.0f, 1.8f];
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.GrpcPort}");

    private MdsCluster Cluster => fixture.Cluster;

    private GRPCInferenceService.GRPCInferenceServiceClient Gateway => new(_channel);

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Infer_through_the_gateway_answers_as_the_worker_does_with_typed_and_raw_contents()
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var directChannel = await Cluster.WorkerChannelAsync(await WorkerGrpcUrlAsync(Iris));
        var direct = new GRPCInferenceService.GRPCInferenceServiceClient(directChannel);

        var typed = IrisRequest(raw: false);
        var call = Gateway.ModelInferAsync(typed, await AuthAsync(("x-request-id", "gw-grpc-req-1")));
        var viaGateway = await call.ResponseAsync;
        Assert.Equal("gw-grpc-req-1", (await call.ResponseHeadersAsync).GetValue("x-request-id"));
        Assert.Equal((Iris, "1", "req-iris"), (viaGateway.ModelName, viaGateway.ModelVersion, viaGateway.Id));
        var expected = await direct.ModelInferAsync(typed);
        Assert.Equal(expected.Outputs, viaGateway.Outputs);
        Assert.Empty(viaGateway.RawOutputContents);
        var labels = viaGateway.Outputs.Single(o => o.Datatype == "BYTES").Contents.BytesContents.Select(b => b.ToStringUtf8());
        Assert.Equal(["versicolor", "setosa", "virginica"], labels);

        var raw = IrisRequest(raw: true);
        var rawViaGateway = await Gateway.ModelInferAsync(raw, await AuthAsync());
        var rawExpected = await direct.ModelInferAsync(raw);
        Assert.Equal(rawExpected.Outputs, rawViaGateway.Outputs);
        Assert.NotEmpty(rawViaGateway.RawOutputContents);
        Assert.Equal(rawExpected.RawOutputContents, rawViaGateway.RawOutputContents);
    }

    [Fact]
    public async Task Server_and_model_metadata_and_readiness_come_from_the_gateway()
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var auth = await AuthAsync();

        Assert.True((await Gateway.ServerLiveAsync(new ServerLiveRequest())).Live); // health needs no credentials, as on REST
        Assert.True((await Gateway.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var server = await Gateway.ServerMetadataAsync(new ServerMetadataRequest(), auth);
        Assert.Equal("mds", server.Name);
        Assert.Contains("statistics", server.Extensions);
        Assert.Contains("model_repository", server.Extensions);
        using var rest = await Cluster.ClientAsync(Roles.Analyst);
        Assert.Contains("statistics", (await rest.GetFromJsonAsync<ServerMetadata>("/v2"))!.Extensions);

        Assert.True((await Gateway.ModelReadyAsync(new ModelReadyRequest { Name = Iris }, auth)).Ready);
        Assert.True((await Gateway.ModelReadyAsync(new ModelReadyRequest { Name = Iris, Version = "1" }, auth)).Ready);
        Assert.False((await Gateway.ModelReadyAsync(new ModelReadyRequest { Name = Iris, Version = "9" }, auth)).Ready);
        Assert.False((await Gateway.ModelReadyAsync(new ModelReadyRequest { Name = "no-such-model" }, auth)).Ready);

        var metadata = await Gateway.ModelMetadataAsync(new ModelMetadataRequest { Name = Iris }, auth);
        var expected = (await rest.GetFromJsonAsync<ModelMetadata>($"/v2/models/{Iris}"))!;
        Assert.Equal((expected.Name, expected.Platform), (metadata.Name, metadata.Platform));
        Assert.Equal(["1"], metadata.Versions.ToArray());
        Assert.Equal(expected.Inputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))), metadata.Inputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))));
        Assert.Equal(expected.Outputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))), metadata.Outputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))));
        Assert.Equal(("Features", "FP32", "-1,4"), (metadata.Inputs[0].Name, metadata.Inputs[0].Datatype, string.Join(',', metadata.Inputs[0].Shape)));
    }

    [Fact]
    public async Task An_unknown_model_or_version_is_not_found()
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var auth = await AuthAsync();
        var request = IrisRequest(raw: false);
        request.ModelName = "no-such-model";
        var infer = await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(request, auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, infer.StatusCode);
        Assert.Contains("no-such-model", infer.Status.Detail, StringComparison.Ordinal);

        var version = IrisRequest(raw: false);
        version.ModelVersion = "9";
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(version, auth).ResponseAsync)).StatusCode);
        var metadata = await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelMetadataAsync(new ModelMetadataRequest { Name = "no-such-model" }, auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, metadata.StatusCode);
    }

    [Fact]
    public async Task A_model_without_a_ready_replica_is_unavailable_but_still_described()
    {
        const string model = "gw-grpc-pending";
        var uploaded = await Cluster.UploadAsync(model, TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,gpu" });
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        var auth = await AuthAsync();

        var refused = await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(LinearRequest(model, [1, 1], [1]), auth).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("no ready replica", refused.Status.Detail, StringComparison.Ordinal);
        Assert.False((await Gateway.ModelReadyAsync(new ModelReadyRequest { Name = model }, auth)).Ready);
        Assert.Equal("x", Assert.Single((await Gateway.ModelMetadataAsync(new ModelMetadataRequest { Name = model }, auth)).Inputs).Name);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer not-a-key")]
    public async Task A_call_without_valid_credentials_is_unauthenticated(string? authorization)
    {
        var headers = authorization is null ? new Metadata() : new Metadata { { "authorization", authorization } };
        var infer = await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(IrisRequest(raw: false), headers).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, infer.StatusCode);
        var metadata = await Assert.ThrowsAsync<RpcException>(() => Gateway.ServerMetadataAsync(new ServerMetadataRequest(), headers).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, metadata.StatusCode);
    }

    [Theory]
    [InlineData("shape")]
    [InlineData("missing input")]
    public async Task A_request_that_does_not_fit_is_invalid_argument_with_the_worker_s_message(string mistake)
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var request = IrisRequest(raw: false);
        if (mistake == "shape")
        {
            request.Inputs[0].Shape[1] = 5;
        }
        else
        {
            request.Inputs[0].Name = "Petals";
        }

        var auth = await AuthAsync();
        var refused = await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(request, auth).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        using var directChannel = await Cluster.WorkerChannelAsync(await WorkerGrpcUrlAsync(Iris));
        var direct = await Assert.ThrowsAsync<RpcException>(() => new GRPCInferenceService.GRPCInferenceServiceClient(directChannel).ModelInferAsync(request).ResponseAsync);
        Assert.Equal(direct.Status.Detail, refused.Status.Detail);
    }

    [Fact]
    public async Task Gateway_grpc_calls_are_counted_in_the_traffic_and_metrics()
    {
        const string model = "gw-grpc-traffic";
        await Cluster.DeployAsync(model, TestGraphs.Linear([2f], 1f));
        var before = await PrometheusText.ScrapeAsync(Cluster.BackendUrl);
        var auth = await AuthAsync();
        for (int i = 0; i < 3; i++)
        {
            var ok = await Gateway.ModelInferAsync(LinearRequest(model, [1, 1], [i]), auth);
            Assert.Equal(2f * i + 1f, Assert.Single(ok.Outputs).Contents.Fp32Contents[0]);
        }

        var bad = LinearRequest(model, [1, 2], [1, 2]);
        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(() => Gateway.ModelInferAsync(bad, auth).ResponseAsync)).StatusCode);

        using var admin = await Cluster.ClientAsync(Roles.Admin);
        var points = (await admin.GetFromJsonAsync<List<TrafficPointDto>>("/api/stats/traffic?minutes=60"))!.Where(p => p.Model == model).ToList();
        Assert.Equal((4, 1), (points.Sum(p => p.Requests), points.Sum(p => p.Errors)));
        var after = await PrometheusText.ScrapeAsync(Cluster.BackendUrl);
        double Moved(string status) =>
            after.Sum("mds_gateway_requests_total", ("model", model), ("status", status)) - before.Sum("mds_gateway_requests_total", ("model", model), ("status", status));
        Assert.Equal((3d, 1d), (Moved("ok"), Moved("invalid")));
    }

    [Fact]
    public async Task Gateway_statistics_sum_the_counts_of_every_ready_replica()
    {
        const string model = "gw-stats-linear";
        await Cluster.DeployAsync(model, TestGraphs.Linear([2f, 1f], 0f), new Dictionary<string, string> { ["replicas"] = "2" });
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        await Eventually.TrueAsync(async () =>
        {
            var v = await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1");
            return v!.ReplicaStates.Count(r => r.State == ReplicaStates.Ready) == 2;
        }, TimeSpan.FromSeconds(60), $"both replicas of {model} to be Ready");

        // 4 over REST and 4 over gRPC, 3 rows each; one refused request besides
        using var rest = await Cluster.ClientAsync(Roles.Analyst);
        var auth = await AuthAsync();
        float[] rows = [1, 2, 3, 4, 5, 6];
        for (int i = 0; i < 4; i++)
        {
            var ok = await rest.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [3, 2], "FP32", rows));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            await Gateway.ModelInferAsync(LinearRequest(model, [3, 2], rows), auth);
        }

        var bad = await rest.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [1, 3], "FP32", new float[] { 1, 2, 3 }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var stats = await StatsAsync(rest, $"/v2/models/{model}/versions/1/stats");
        Assert.Equal((model, "1"), (stats.Name, stats.Version));
        Assert.Equal((8L, 24L, 8L, 1L), (stats.ExecutionCount, stats.InferenceCount, stats.InferenceStats.Success.Count, stats.InferenceStats.Fail.Count));
        Assert.True(stats.InferenceStats.ComputeInfer.Ns > 0);

        // the same as the workers' own statistics added up
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Where(w => w.Name.StartsWith("gw-grpc-", StringComparison.Ordinal));
        long directSuccess = 0, directNs = 0;
        foreach (var w in workers)
        {
            using var direct = await Cluster.WorkerClientAsync(new Uri(w.RestUrl));
            var own = await StatsAsync(direct, $"/v2/models/{model}/versions/1/stats");
            (directSuccess, directNs) = (directSuccess + own.InferenceStats.Success.Count, directNs + own.InferenceStats.ComputeInfer.Ns);
        }

        Assert.Equal((8L, stats.InferenceStats.ComputeInfer.Ns), (directSuccess, directNs));

        // the bare name and the list of every model give the same entry; "stats" is not taken for a model name
        Assert.Equal(stats, await StatsAsync(rest, $"/v2/models/{model}/stats"));
        var all = (await rest.GetFromJsonAsync<ModelStatisticsResponse>("/v2/models/stats"))!;
        Assert.Equal(stats, all.ModelStats.Single(s => s.Name == model));

        foreach (string unknown in new[] { "/v2/models/no-such-model/stats", $"/v2/models/{model}/versions/7/stats", "/v2/models/no-such-model/versions/1/stats" })
        {
            var missing = await rest.GetAsync(unknown);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.NotNull((await missing.Content.ReadFromJsonAsync<V2Error>())!.Error);
        }

        using var anonymous = await Cluster.ClientAsync(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/v2/models/{model}/stats")).StatusCode);
    }

    [Fact]
    public async Task A_bf16_model_answers_its_reference_over_json_binary_and_grpc_on_the_worker()
    {
        // Threat: BF16 values are mangled (or the model is refused) somewhere between the wire and ONNX Runtime.
        var (restUrl, grpcUrl) = await Bf16ModelAsync();
        using var rest = await Cluster.WorkerClientAsync(new Uri(restUrl));
        await AssertBf16AnswersAsync(rest);

        using var directChannel = await Cluster.WorkerChannelAsync(grpcUrl);
        await AssertBf16GrpcAnswersAsync(new GRPCInferenceService.GRPCInferenceServiceClient(directChannel), new Metadata());
    }

    [Fact]
    public async Task A_bf16_model_answers_its_reference_through_the_gateway_over_rest_and_grpc()
    {
        await Bf16ModelAsync();
        using var rest = await Cluster.ClientAsync(Roles.Analyst);
        var metadata = (await rest.GetFromJsonAsync<ModelMetadata>($"/v2/models/{Bf16Mlp}"))!;
        Assert.Equal(("input", "BF16", "-1,4"), (metadata.Inputs[0].Name, metadata.Inputs[0].Datatype, string.Join(',', metadata.Inputs[0].Shape)));
        Assert.Equal(("output", "BF16", "-1,3"), (metadata.Outputs[0].Name, metadata.Outputs[0].Datatype, string.Join(',', metadata.Outputs[0].Shape)));
        await AssertBf16AnswersAsync(rest);
        await AssertBf16GrpcAnswersAsync(Gateway, await AuthAsync());
    }

    private const string Bf16Mlp = "gw-grpc-bf16-mlp";

    /// <summary>Three rows of four features, each a value BF16 holds exactly.</summary>
    private static readonly float[][] Bf16Rows = [.. new[]
    {
        new[] { 5.1f, 3.5f, 1.4f, 0.2f },
        new[] { 6.5f, 2.9f, 4.9f, 1.2f },
        new[] { 7.2f, 3.2f, 6.0f, 1.8f },
    }.Select(r => r.Select(ExportStylesReference.RoundToBf16).ToArray())];

    /// <summary>Uploads the BF16 MLP (once), waits for Ready, and gives its ready replica's worker URLs.</summary>
    private async Task<(string RestUrl, string GrpcUrl)> Bf16ModelAsync()
    {
        await Cluster.EnsureReadyAsync(Bf16Mlp, ExportStyles.Bf16Mlp());
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{Bf16Mlp}/versions/1"))!;
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        var worker = workers.Single(w => w.Name == version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName);
        return (worker.RestUrl, worker.GrpcUrl!);
    }

    private static InferenceTensor Bf16Input() =>
        new("input", TensorDatatype.Bf16, [Bf16Rows.Length, 4], Bf16Rows.SelectMany(r => r).Select(v => (BFloat16)v).ToArray());

    /// <summary>Each output element equals the reference to BF16's precision (the model sums in FP32 and rounds once).</summary>
    private static void AssertBf16Reference(IReadOnlyList<float> actual)
    {
        Assert.Equal(Bf16Rows.Length * 3, actual.Count);
        for (int r = 0; r < Bf16Rows.Length; r++)
        {
            float[] expected = ExportStylesReference.Bf16Mlp(Bf16Rows[r]);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(expected[k], actual[(r * 3) + k], Math.Max(2e-2f, MathF.Abs(expected[k]) * 1e-2f));
            }
        }
    }

    /// <summary>V2 JSON (numbers in, numbers out) and the binary tensor data extension (2 bytes per element both ways).</summary>
    private static async Task AssertBf16AnswersAsync(HttpClient client)
    {
        var json = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(json, new InferenceRequest { Inputs = [Bf16Input()] });
        using var jsonContent = new ByteArrayContent(json.WrittenSpan.ToArray());
        jsonContent.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var jsonResponse = await client.PostAsync($"/v2/models/{Bf16Mlp}/infer", jsonContent);
        string text = await jsonResponse.Content.ReadAsStringAsync();
        Assert.True(jsonResponse.IsSuccessStatusCode, text);
        var output = System.Text.Json.Nodes.JsonNode.Parse(text)!["outputs"]![0]!;
        Assert.Equal("BF16", (string)output["datatype"]!);
        AssertBf16Reference([.. output["data"]!.AsArray().Select(n => (float)n!)]);

        var binary = new ArrayBufferWriter<byte>();
        var request = new InferenceRequest
        {
            Inputs = [Bf16Input()],
            Parameters = new Dictionary<string, object?> { [BinaryTensorData.AllOutputsParameter] = true },
        };
        int headerLength = BinaryTensorData.WriteRequest(binary, request, [true]);
        using var message = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Bf16Mlp}/infer") { Content = new ByteArrayContent(binary.WrittenSpan.ToArray()) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(BinaryTensorData.ContentType);
        message.Headers.Add(BinaryTensorData.HeaderLengthHeader, headerLength.ToString(CultureInfo.InvariantCulture));
        using var binaryResponse = await client.SendAsync(message);
        byte[] body = await binaryResponse.Content.ReadAsByteArrayAsync();
        Assert.True(binaryResponse.IsSuccessStatusCode, System.Text.Encoding.UTF8.GetString(body));
        int responseHeader = int.Parse(binaryResponse.Headers.GetValues(BinaryTensorData.HeaderLengthHeader).Single(), CultureInfo.InvariantCulture);
        Assert.Equal(Bf16Rows.Length * 3 * 2, body.Length - responseHeader);
        var decoded = Assert.Single(BinaryTensorData.DecodeResponse(body, responseHeader).Outputs);
        Assert.Equal(TensorDatatype.Bf16, decoded.Datatype);
        AssertBf16Reference([.. ((BFloat16[])decoded.Data).Select(v => (float)v)]);
    }

    /// <summary>gRPC: raw contents in and out; typed contents (which have no BF16 field) refused naming raw contents.</summary>
    private static async Task AssertBf16GrpcAnswersAsync(GRPCInferenceService.GRPCInferenceServiceClient client, Metadata headers)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "BF16", Shape = { Bf16Rows.Length, 4 } };
        var raw = new ModelInferRequest { ModelName = Bf16Mlp, Inputs = { input } };
        raw.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(((BFloat16[])Bf16Input().Data).AsSpan())));
        var response = await client.ModelInferAsync(raw, headers);
        var output = Assert.Single(response.Outputs);
        Assert.Equal(("BF16", $"{Bf16Rows.Length},3"), (output.Datatype, string.Join(',', output.Shape)));
        AssertBf16Reference([.. MemoryMarshal.Cast<byte, BFloat16>(Assert.Single(response.RawOutputContents).Span).ToArray().Select(v => (float)v)]);

        var typed = raw.Clone();
        typed.RawInputContents.Clear();
        typed.Inputs[0].Contents = new InferTensorContents { Fp32Contents = { Bf16Rows.SelectMany(r => r) } };
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(typed, headers).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("BF16 has no typed contents field; send it in raw_input_contents", refused.Status.Detail, StringComparison.Ordinal);
    }

    private static async Task<ModelStatistics> StatsAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Mds-Stats-Missing"));
        return (await response.Content.ReadFromJsonAsync<ModelStatisticsResponse>())!.ModelStats.Single();
    }

    private async Task<Metadata> AuthAsync(params (string Key, string Value)[] extra)
    {
        var headers = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } };
        foreach (var (key, value) in extra)
        {
            headers.Add(key, value);
        }

        return headers;
    }

    private async Task<string> WorkerGrpcUrlAsync(string model)
    {
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        string name = version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName;
        return workers.Single(w => w.Name == name).GrpcUrl!;
    }

    private static ModelInferRequest IrisRequest(bool raw)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "Features", Datatype = "FP32", Shape = { 3, 4 } };
        var request = new ModelInferRequest { ModelName = Iris, Id = "req-iris", Inputs = { input } };
        if (raw)
        {
            request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(IrisRows.AsSpan())));
        }
        else
        {
            input.Contents = new InferTensorContents { Fp32Contents = { IrisRows } };
        }

        return request;
    }

    private static ModelInferRequest LinearRequest(string model, long[] shape, float[] values) => new()
    {
        ModelName = model,
        Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { shape }, Contents = new InferTensorContents { Fp32Contents = { values } } } },
    };
}
