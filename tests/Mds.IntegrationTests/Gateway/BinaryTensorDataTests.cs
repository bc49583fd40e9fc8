using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Gateway;

/// <summary>
/// The binary tensor data extension (Inference-Header-Content-Length) on a real worker and through the gateway, which
/// forwards the body and headers unchanged both ways.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BinaryTensorDataTests(MdsCluster cluster)
{
    private const string Iris = "iris-binary";
    private static readonly float[] IrisRows = [6.5f, 2.9f, 4.9f, 1.2f, 4.6f, 3.6f, 1.5f, 0.3f, 7.2f, 3.2f, 6.0f, 1.8f];

    [Fact]
    public async Task A_binary_request_answers_like_the_json_request_on_the_worker_and_through_the_gateway()
    {
        var (gateway, worker) = await ClientsAsync();
        using var _ = gateway;
        using var __ = worker;
        InferenceResponse expected = await JsonInferAsync(gateway, IrisRequest());
        Assert.Equal(["versicolor", "setosa", "virginica"], (string[])Output(expected, "PredictedLabel").Data);

        foreach (HttpClient client in new[] { gateway, worker })
        {
            using var response = await client.SendAsync(BinaryRequest($"/v2/models/{Iris}/infer", IrisRequest(), [true]));
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType); // no binary outputs asked for
            Assert.False(response.Headers.Contains(BinaryTensorData.HeaderLengthHeader));
            AssertSameOutputs(expected, V2JsonCodec.DecodeResponse(Encoding.UTF8.GetBytes(text)));
        }
    }

    [Fact]
    public async Task Binary_outputs_follow_the_json_header_whose_length_the_response_gives()
    {
        var (gateway, worker) = await ClientsAsync();
        using var _ = gateway;
        using var __ = worker;
        InferenceResponse expected = await JsonInferAsync(gateway, IrisRequest());

        var allBinary = IrisRequest(parameters: new Dictionary<string, object?> { [BinaryTensorData.AllOutputsParameter] = true });
        foreach (HttpClient client in new[] { gateway, worker })
        {
            var (header, response) = await BinaryInferAsync(client, BinaryRequest($"/v2/models/{Iris}/versions/1/infer", allBinary, [true]));
            AssertSameOutputs(expected, response);
            foreach (JsonElement output in header.GetProperty("outputs").EnumerateArray())
            {
                Assert.False(output.TryGetProperty("data", out JsonElement ____));
                Assert.True(output.GetProperty("parameters").GetProperty("binary_data_size").GetInt64() > 0);
            }
        }

        // Per output: Score binary; PredictedLabel's binary_data false overrides the request-level flag. Input as JSON.
        var mixed = IrisRequest(
            parameters: new Dictionary<string, object?> { [BinaryTensorData.AllOutputsParameter] = true },
            outputs: [new RequestedOutput("Score"), new RequestedOutput("PredictedLabel", new Dictionary<string, object?> { [BinaryTensorData.OutputParameter] = false })]);
        using var json = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Iris}/infer") { Content = JsonContent(mixed) };
        var (mixedHeader, mixedResponse) = await BinaryInferAsync(gateway, json);
        AssertSameOutputs(expected, mixedResponse);
        JsonElement[] outputs = [.. mixedHeader.GetProperty("outputs").EnumerateArray()];
        JsonElement score = outputs.Single(o => o.GetProperty("name").GetString() == "Score");
        JsonElement label = outputs.Single(o => o.GetProperty("name").GetString() == "PredictedLabel");
        Assert.Equal(3 * 3 * 4, score.GetProperty("parameters").GetProperty("binary_data_size").GetInt64());
        Assert.Equal(["versicolor", "setosa", "virginica"], label.GetProperty("data").EnumerateArray().Select(e => e.GetString()));
    }

    public static TheoryData<string, string, byte[], string> Malformed => new()
    {
        { "abc", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[16], "Inference-Header-Content-Length must be a non-negative integer, not 'abc'" },
        { "-3", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[16], "Inference-Header-Content-Length must be a non-negative integer, not '-3'" },
        { "9999", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[16], "Inference-Header-Content-Length is 9999 but the body has only 117 bytes" },
        { "", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":12}}]}""", new byte[12], "input 'Features': 'binary_data_size' is 12 bytes but shape [1,4] of FP32 needs 16 (4 per element)" },
        { "", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[20], "the inputs' 'binary_data_size' add up to 16 bytes but 20 bytes of binary data follow the JSON header" },
        { "", """{"inputs":[{"name":"Features","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}""", new byte[16], "input 'Features': 'binary_data_size' 32 goes past the end of the binary data (16 of 16 bytes left)" },
        { "", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[1,2,3,4],"parameters":{"binary_data_size":16}}]}""", new byte[16], "input 'Features': 'data' and 'binary_data_size' cannot both be given (binary data replaces 'data')" },
        { "", """{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32"}]}""", new byte[16], "input 'Features' has no 'data'" },
        { "", """{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}""", [9, 0, 0, 0, 1, 2], "input 's': BYTES element 0 has length 9 but only 2 bytes of the tensor's binary data are left" },
    };

    /// <summary>An empty header value means "the JSON's real length".</summary>
    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_binary_request_is_400_with_the_problem_named_on_the_worker_and_through_the_gateway(string headerLength, string json, byte[] binary, string error)
    {
        var (gateway, worker) = await ClientsAsync();
        using var _ = gateway;
        using var __ = worker;
        byte[] header = Encoding.UTF8.GetBytes(json);
        foreach (HttpClient client in new[] { gateway, worker })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Iris}/infer") { Content = new ByteArrayContent([.. header, .. binary]) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(BinaryTensorData.ContentType);
            request.Headers.TryAddWithoutValidation(BinaryTensorData.HeaderLengthHeader, headerLength.Length > 0 ? headerLength : header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(error, (await response.Content.ReadFromJsonAsync<V2Error>())!.Error);
        }

        // The worker is fine afterwards.
        using var ok = await worker.SendAsync(BinaryRequest($"/v2/models/{Iris}/infer", IrisRequest(), [true]));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    /// <summary>An identity model per datatype: binary in, binary out, the same bytes; JSON out, the same values.</summary>
    [Theory]
    [InlineData(TensorDatatype.Bool)]
    [InlineData(TensorDatatype.UInt8)]
    [InlineData(TensorDatatype.UInt16)]
    [InlineData(TensorDatatype.UInt32)]
    [InlineData(TensorDatatype.UInt64)]
    [InlineData(TensorDatatype.Int8)]
    [InlineData(TensorDatatype.Int16)]
    [InlineData(TensorDatatype.Int32)]
    [InlineData(TensorDatatype.Int64)]
    [InlineData(TensorDatatype.Fp16)]
    [InlineData(TensorDatatype.Fp32)]
    [InlineData(TensorDatatype.Fp64)]
    [InlineData(TensorDatatype.Bytes)]
    public async Task Every_datatype_round_trips_as_binary_data_through_a_worker(TensorDatatype datatype)
    {
        string model = $"binary-identity-{datatype.ToWireName().ToLowerInvariant()}";
        await cluster.EnsureReadyAsync(model, TestGraphs.Identity(datatype, -1, 3));
        using var gateway = await cluster.ClientAsync(Roles.Analyst);
        Array values = Values(datatype);
        var request = new InferenceRequest
        {
            Parameters = new Dictionary<string, object?> { [BinaryTensorData.AllOutputsParameter] = true },
            Inputs = [new InferenceTensor("input", datatype, [2, 3], values)],
        };

        var (_, binaryOut) = await BinaryInferAsync(gateway, BinaryRequest($"/v2/models/{model}/infer", request, [true]));
        InferenceTensor output = Assert.Single(binaryOut.Outputs);
        Assert.Equal(datatype, output.Datatype);
        Assert.Equal([2L, 3L], output.Shape);
        Assert.Equal(values, output.Data);

        // Only the input binary: the response is plain JSON with the same values.
        var jsonOut = new InferenceRequest { Inputs = request.Inputs };
        using var response = await gateway.SendAsync(BinaryRequest($"/v2/models/{model}/infer", jsonOut, [true]));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal(values, Assert.Single(V2JsonCodec.DecodeResponse(Encoding.UTF8.GetBytes(text)).Outputs).Data);
    }

    [Fact]
    public async Task A_binary_request_is_recorded_with_its_decoded_tensors()
    {
        var (gateway, worker) = await ClientsAsync();
        using var _ = gateway;
        using var __ = worker;
        string requestId = "binary-audit-" + Guid.NewGuid().ToString("N");
        using var request = BinaryRequest($"/v2/models/{Iris}/infer", IrisRequest(), [true]);
        request.Headers.Add(MdsHeaders.RequestId, requestId);
        using var response = await gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        InferenceRecordSummaryDto? found = null;
        await Eventually.TrueAsync(async () =>
        {
            found = (await gateway.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!.Records.FirstOrDefault();
            return found is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        var full = (await gateway.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{found!.Id}"))!;
        JsonElement input = full.Request!.Value.GetProperty("inputs")[0];
        Assert.Equal(IrisRows, input.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
        Assert.False(input.TryGetProperty("parameters", out JsonElement ___)); // binary_data_size is not part of the record
        Assert.Equal(["versicolor", "setosa", "virginica"],
            full.Response!.Value.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "PredictedLabel")
                .GetProperty("data").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Server_metadata_of_the_worker_and_the_gateway_lists_the_extension()
    {
        var (gateway, worker) = await ClientsAsync();
        using var _ = gateway;
        using var __ = worker;
        var fromWorker = (await worker.GetFromJsonAsync<ServerMetadata>("/v2"))!;
        Assert.Equal(["statistics", BinaryTensorData.Extension], fromWorker.Extensions);
        var fromGateway = (await gateway.GetFromJsonAsync<ServerMetadata>("/v2"))!;
        Assert.Contains(BinaryTensorData.Extension, fromGateway.Extensions);
    }

    private async Task<(HttpClient Gateway, HttpClient Worker)> ClientsAsync()
    {
        await cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var gateway = await cluster.ClientAsync(Roles.Analyst);
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{Iris}/versions/1"))!;
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        string name = version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName;
        return (gateway, await cluster.WorkerClientAsync(new Uri(workers.Single(w => w.Name == name).RestUrl)));
    }

    private static InferenceRequest IrisRequest(Dictionary<string, object?>? parameters = null, RequestedOutput[]? outputs = null) => new()
    {
        Id = "iris-req",
        Parameters = parameters,
        Inputs = [new InferenceTensor("Features", TensorDatatype.Fp32, [3, 4], IrisRows)],
        Outputs = outputs,
    };

    private static HttpRequestMessage BinaryRequest(string path, InferenceRequest request, bool[] binaryInputs)
    {
        var body = new ArrayBufferWriter<byte>();
        int headerLength = BinaryTensorData.WriteRequest(body, request, binaryInputs);
        var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body.WrittenSpan.ToArray()) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(BinaryTensorData.ContentType);
        message.Headers.Add(BinaryTensorData.HeaderLengthHeader, headerLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return message;
    }

    private static ByteArrayContent JsonContent(InferenceRequest request)
    {
        var body = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(body, request);
        var content = new ByteArrayContent(body.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static async Task<InferenceResponse> JsonInferAsync(HttpClient client, InferenceRequest request)
    {
        using var response = await client.PostAsync($"/v2/models/{Iris}/infer", JsonContent(request));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return V2JsonCodec.DecodeResponse(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Sends a request that asks for binary outputs; returns the response's JSON header and the decoded response.</summary>
    private static async Task<(JsonElement Header, InferenceResponse Response)> BinaryInferAsync(HttpClient client, HttpRequestMessage request)
    {
        using var _ = request;
        using var response = await client.SendAsync(request);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, Encoding.UTF8.GetString(body));
        Assert.Equal(BinaryTensorData.ContentType, response.Content.Headers.ContentType!.MediaType);
        int headerLength = int.Parse(Assert.Single(response.Headers.GetValues(BinaryTensorData.HeaderLengthHeader)), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(headerLength, 2, body.Length - 1);
        using var header = JsonDocument.Parse(body.AsMemory(0, headerLength));
        return (header.RootElement.Clone(), BinaryTensorData.DecodeResponse(body, headerLength));
    }

    private static InferenceTensor Output(InferenceResponse response, string name) => response.Outputs.Single(o => o.Name == name);

    private static void AssertSameOutputs(InferenceResponse expected, InferenceResponse actual)
    {
        Assert.Equal(Iris, actual.ModelName);
        Assert.Equal("iris-req", actual.Id);
        Assert.Equal(expected.Outputs.Select(o => o.Name).Order(), actual.Outputs.Select(o => o.Name).Order());
        foreach (InferenceTensor output in expected.Outputs)
        {
            InferenceTensor other = Output(actual, output.Name);
            Assert.Equal(output.Datatype, other.Datatype);
            Assert.Equal(output.Shape, other.Shape);
            Assert.Equal(output.Data, other.Data); // same model, same input: bit for bit
        }
    }

    private static Array Values(TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool => new[] { true, false, true, true, false, false },
        TensorDatatype.UInt8 => new byte[] { 0, 1, 2, 127, 128, 255 },
        TensorDatatype.UInt16 => new ushort[] { 0, 1, 300, 32768, 40000, 65535 },
        TensorDatatype.UInt32 => new uint[] { 0, 1, 70000, 2147483648, 3000000000, 4294967295 },
        TensorDatatype.UInt64 => new ulong[] { 0, 1, 4294967296, ulong.MaxValue, 1099511627776, 9007199254740993 },
        TensorDatatype.Int8 => new sbyte[] { -128, -1, 0, 1, 2, 127 },
        TensorDatatype.Int16 => new short[] { -32768, -1, 0, 1, 300, 32767 },
        TensorDatatype.Int32 => new[] { int.MinValue, -1, 0, 1, 70000, int.MaxValue },
        TensorDatatype.Int64 => new[] { long.MinValue, -1, 0, 1, 9007199254740993, long.MaxValue },
        TensorDatatype.Fp16 => new[] { (Half)0.1, (Half)(-2.5), Half.MaxValue, Half.Epsilon, (Half)0, (Half)1 },
        TensorDatatype.Fp32 => new[] { 0.1f, -2.5f, float.MaxValue, float.Epsilon, 0f, 1f / 3 },
        TensorDatatype.Fp64 => new[] { 0.1, -2.5, double.MaxValue, double.Epsilon, 0.0, 1.0 / 3 },
        TensorDatatype.Bytes => new[] { "a", "", "h\u00e9llo", "3", "four words", "\ud83d\ude42" },
        _ => throw new ArgumentOutOfRangeException(nameof(datatype)),
    };
}
