using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Grpc;

/// <summary>An MDS whose one worker also serves gRPC (<c>Mds:Worker:GrpcPort</c>), so every model lands on it.</summary>
public sealed class GrpcClusterFixture : IAsyncLifetime
{
    public MdsCluster Cluster { get; } = new() { InitialWorkers = 0 };

    public ServiceProcess Worker { get; private set; } = null!;

    public int GrpcPort { get; private set; }

    /// <summary>An analyst's token, for calling the worker directly.</summary>
    public string Token { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        GrpcPort = TestEnvironment.FreePort();
        Worker = await Cluster.StartWorkerAsync("grpc-worker", settings: new Dictionary<string, string>
        {
            ["Mds__Worker__GrpcPort"] = GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        Token = await Cluster.TokenAsync(Mds.Contracts.Api.Roles.Analyst);
    }

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class GrpcCollection : ICollectionFixture<GrpcClusterFixture>
{
    public const string Name = "grpc";
}

/// <summary>
/// The Open Inference Protocol's gRPC service on a real worker process, called with the generated client: every
/// datatype with typed and raw contents, health, metadata and errors, each checked against what the same worker
/// answers over REST.
/// </summary>
[Collection(GrpcCollection.Name)]
public sealed class GrpcInferenceTests(GrpcClusterFixture fixture)
{
    private static readonly long[] Shape = [2, 3];
    private static readonly string[] Strings = ["a", "", "héllo", "3", "four words", "🙂"];

    public static TheoryData<TensorDatatype> Datatypes() =>
    [
        TensorDatatype.Bool, TensorDatatype.UInt8, TensorDatatype.UInt16, TensorDatatype.UInt32, TensorDatatype.UInt64,
        TensorDatatype.Int8, TensorDatatype.Int16, TensorDatatype.Int32, TensorDatatype.Int64,
        TensorDatatype.Fp16, TensorDatatype.Bf16, TensorDatatype.Fp32, TensorDatatype.Fp64, TensorDatatype.Bytes,
    ];

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task Every_datatype_round_trips_with_typed_and_raw_contents_giving_the_same_values_as_rest(TensorDatatype datatype)
    {
        string model = await DeployIdentityAsync(datatype);
        var (client, channel) = Client();
        using var _ = channel;
        string[] expected = Expected(datatype);

        // raw_input_contents in, raw_output_contents out (as Triton answers a raw request)
        var raw = Request(model, datatype);
        raw.Inputs[0].Contents = null;
        raw.RawInputContents.Add(RawBytes(datatype));
        var rawResponse = await client.ModelInferAsync(raw);
        Assert.Equal("1", rawResponse.ModelVersion);
        Assert.Equal("req-1", rawResponse.Id);
        var rawOutput = Assert.Single(rawResponse.Outputs);
        Assert.Equal(datatype.ToWireName(), rawOutput.Datatype);
        Assert.Equal(Shape, rawOutput.Shape.ToArray());
        Assert.Equal(expected, FromRaw(datatype, Assert.Single(rawResponse.RawOutputContents).ToByteArray()));

        // typed contents in and out; FP16 and BF16 have no typed field, so they are refused in and answered raw
        var typed = Request(model, datatype);
        if (datatype is TensorDatatype.Fp16 or TensorDatatype.Bf16)
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(typed).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            Assert.Contains("raw_input_contents", refused.Status.Detail, StringComparison.Ordinal);
        }
        else
        {
            var typedResponse = await client.ModelInferAsync(typed);
            Assert.Empty(typedResponse.RawOutputContents);
            Assert.Equal(expected, FromTyped(datatype, Assert.Single(typedResponse.Outputs).Contents));
        }

        // REST on the same worker gives the same values
        using var rest = await fixture.Cluster.WorkerClientAsync(fixture.Worker.Url);
        var response = await rest.PostAsync($"/v2/models/{model}/infer", V2Json.Request("input", Shape, datatype.ToWireName(), JsonData(datatype)));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var data = V2Json.Output(JsonNode.Parse(text)!, "output")["data"]!.AsArray();
        Assert.Equal(expected, data.Select(n => FromJson(datatype, n!)).ToArray());
    }

    [Fact]
    public async Task Server_is_live_ready_and_describes_itself()
    {
        var (client, channel) = Client();
        using var _ = channel;
        Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await client.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var metadata = await client.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("mds-worker", metadata.Name);
        Assert.False(string.IsNullOrEmpty(metadata.Version));
        Assert.Equal(["statistics", BinaryTensorData.Extension], metadata.Extensions);
    }

    [Fact]
    public async Task Model_readiness_and_metadata_match_rest()
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        var (client, channel) = Client();
        using var _ = channel;
        Assert.True((await client.ModelReadyAsync(new ModelReadyRequest { Name = model })).Ready);
        Assert.True((await client.ModelReadyAsync(new ModelReadyRequest { Name = model, Version = "1" })).Ready);
        Assert.False((await client.ModelReadyAsync(new ModelReadyRequest { Name = model, Version = "9" })).Ready);
        Assert.False((await client.ModelReadyAsync(new ModelReadyRequest { Name = "no-such-model" })).Ready);

        var metadata = await client.ModelMetadataAsync(new ModelMetadataRequest { Name = model });
        using var rest = await fixture.Cluster.WorkerClientAsync(fixture.Worker.Url);
        var expected = (await rest.GetFromJsonAsync<ModelMetadata>($"/v2/models/{model}"))!;
        Assert.Equal(expected.Name, metadata.Name);
        Assert.Equal(expected.Platform, metadata.Platform);
        Assert.Equal(expected.Versions, metadata.Versions.ToArray());
        Assert.Equal(expected.Inputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))), metadata.Inputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))));
        Assert.Equal(expected.Outputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))), metadata.Outputs.Select(t => (t.Name, t.Datatype, string.Join(',', t.Shape))));
        Assert.Equal(["-1", "3"], metadata.Inputs[0].Shape.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.ModelMetadataAsync(new ModelMetadataRequest { Name = "no-such-model" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("not loaded on this worker", missing.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("shape")]
    [InlineData("datatype")]
    [InlineData("name")]
    public async Task A_request_that_does_not_fit_the_model_is_invalid_argument_with_the_message_rest_gives(string mistake)
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        var (client, channel) = Client();
        using var _ = channel;
        var request = Request(model, TensorDatatype.Fp32);
        string datatype = "FP32";
        string name = "input";
        long[] shape = Shape;
        double[] values = [1, 2, 3, 4, 5, 6];
        switch (mistake)
        {
            case "shape":
                shape = [3, 2];
                request.Inputs[0].Shape.Clear();
                request.Inputs[0].Shape.AddRange(shape);
                break;
            case "datatype":
                datatype = "INT64";
                request.Inputs[0].Datatype = datatype;
                request.Inputs[0].Contents = new InferTensorContents { Int64Contents = { 1, 2, 3, 4, 5, 6 } };
                break;
            default:
                name = "wrong";
                request.Inputs[0].Name = name;
                break;
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);

        using var rest = await fixture.Cluster.WorkerClientAsync(fixture.Worker.Url);
        var response = await rest.PostAsync($"/v2/models/{model}/infer", V2Json.Request(name, shape, datatype, values));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string restError = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(restError, error.Status.Detail);
    }

    [Fact]
    public async Task Malformed_contents_are_invalid_argument_naming_the_problem_and_the_worker_keeps_serving()
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        var (client, channel) = Client();
        using var _ = channel;

        var shortRaw = Request(model, TensorDatatype.Fp32);
        shortRaw.Inputs[0].Contents = null;
        shortRaw.RawInputContents.Add(ByteString.CopyFrom(new byte[23]));
        var error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(shortRaw).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("expected 24 bytes", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("input 'input'", error.Status.Detail, StringComparison.Ordinal);

        var fewElements = Request(model, TensorDatatype.Fp32);
        fewElements.Inputs[0].Contents = new InferTensorContents { Fp32Contents = { 1f, 2f } };
        error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(fewElements).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("expected 6 elements for shape [2,3] but got 2", error.Status.Detail, StringComparison.Ordinal);

        var unknownDatatype = Request(model, TensorDatatype.Fp32);
        unknownDatatype.Inputs[0].Datatype = "FP8";
        error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(unknownDatatype).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("unsupported datatype 'FP8'", error.Status.Detail, StringComparison.Ordinal);

        var unknownModel = Request("no-such-model", TensorDatatype.Fp32);
        error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(unknownModel).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("model 'no-such-model' is not loaded on this worker", error.Status.Detail);

        var ok = await client.ModelInferAsync(Request(model, TensorDatatype.Fp32));
        Assert.Equal(Expected(TensorDatatype.Fp32), FromTyped(TensorDatatype.Fp32, Assert.Single(ok.Outputs).Contents));
    }

    [Fact]
    public async Task An_anonymous_caller_cannot_run_a_model_on_a_worker_over_grpc()
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        using var channel = MdsCluster.ChannelWithToken($"http://127.0.0.1:{fixture.GrpcPort}", token: null);
        var anonymous = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var infer = await Assert.ThrowsAsync<RpcException>(() => anonymous.ModelInferAsync(Request(model, TensorDatatype.Fp32)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, infer.StatusCode);
        var metadata = await Assert.ThrowsAsync<RpcException>(() => anonymous.ModelMetadataAsync(new ModelMetadataRequest { Name = model }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, metadata.StatusCode);

        // a forged caller in the metadata is no credential either
        var forged = await Assert.ThrowsAsync<RpcException>(() => anonymous.ModelInferAsync(Request(model, TensorDatatype.Fp32), new Metadata { { "mds-caller", "explainer" } }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, forged.StatusCode);

        // health stays open
        Assert.True((await anonymous.ServerLiveAsync(new ServerLiveRequest())).Live);
    }

    [Fact]
    public async Task A_signed_out_users_token_is_refused_by_workers_over_grpc()
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        using var admin = await fixture.Cluster.ClientAsync(Mds.Contracts.Api.Roles.Admin);
        var user = await Auth.SessionRevocationTests.CreateAsync(admin, $"grpc-sign-out-{Guid.NewGuid():N}@test.local", Mds.Contracts.Api.Roles.Analyst);
        using var onBackend = await Auth.SessionRevocationTests.SignedInAsync(fixture.Cluster.BackendUrl, user.Email);
        using var channel = MdsCluster.ChannelWithToken($"http://127.0.0.1:{fixture.GrpcPort}", onBackend.DefaultRequestHeaders.Authorization!.Parameter);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        await client.ModelInferAsync(Request(model, TensorDatatype.Fp32)); // validated, now remembered

        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await onBackend.PostAsync("/api/auth/signout", null)).StatusCode);
        var revokedAt = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await client.ModelInferAsync(Request(model, TensorDatatype.Fp32));
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(15), "the signed-out token to be refused over gRPC");
        Assert.True(revokedAt.Elapsed < TimeSpan.FromSeconds(9), $"refused only after {revokedAt.Elapsed} (the interval is 5 s)");
    }

    [Fact]
    public async Task Grpc_inferences_are_recorded_in_the_audit_log_like_rest_ones()
    {
        string model = await DeployIdentityAsync(TensorDatatype.Fp32);
        var (client, channel) = Client();
        using var _ = channel;
        string id = "grpc-audit-" + Guid.NewGuid().ToString("N");
        var ok = Request(model, TensorDatatype.Fp32);
        ok.Id = id;
        await client.ModelInferAsync(ok);
        var bad = Request(model, TensorDatatype.Fp32);
        bad.Id = id + "-bad";
        bad.Inputs[0].Shape[1] = 2;
        await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(bad).ResponseAsync);

        using var analyst = await fixture.Cluster.ClientAsync(Mds.Contracts.Api.Roles.Analyst);
        var record = await WaitForRecordAsync(analyst, id);
        Assert.Equal((model, 1, 200, MdsCluster.EmailOf(Mds.Contracts.Api.Roles.Analyst)), (record.ModelName, record.Version, record.Status, record.Caller));
        var full = (await analyst.GetFromJsonAsync<Mds.Contracts.Api.InferenceRecordDto>($"/api/records/{record.Id}"))!;
        Assert.Equal(Numbers(TensorDatatype.Fp32), full.Response!.Value.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetDouble()));
        var failed = await WaitForRecordAsync(analyst, id + "-bad");
        Assert.Equal(400, failed.Status);
        Assert.Contains("input 'input': expected 4 elements for shape [2,2] but got 6", failed.Error, StringComparison.Ordinal);
    }

    private static async Task<Mds.Contracts.Api.InferenceRecordSummaryDto> WaitForRecordAsync(HttpClient client, string requestId)
    {
        Mds.Contracts.Api.InferenceRecordSummaryDto? found = null;
        await Eventually.TrueAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<Mds.Contracts.Api.InferenceRecordPageDto>($"/api/records?requestId={requestId}");
            found = page!.Records.FirstOrDefault();
            return found is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        return found!;
    }

    /// <summary>A generated client over cleartext HTTP/2 to the worker's gRPC port.</summary>
    private (GRPCInferenceService.GRPCInferenceServiceClient Client, GrpcChannel Channel) Client()
    {
        var channel = MdsCluster.ChannelWithToken($"http://127.0.0.1:{fixture.GrpcPort}", fixture.Token);
        return (new GRPCInferenceService.GRPCInferenceServiceClient(channel), channel);
    }

    private async Task<string> DeployIdentityAsync(TensorDatatype datatype)
    {
        string name = $"grpc-identity-{datatype.ToWireName().ToLowerInvariant()}";
        await fixture.Cluster.EnsureReadyAsync(name, TestGraphs.Identity(datatype, -1, 3));
        return name;
    }

    private static ModelInferRequest Request(string model, TensorDatatype datatype)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = datatype.ToWireName(), Shape = { Shape } };
        input.Contents = Typed(datatype);
        return new ModelInferRequest { ModelName = model, Id = "req-1", Inputs = { input } };
    }

    private static double[] Numbers(TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool => [1, 0, 1, 1, 0, 0],
        TensorDatatype.UInt8 => [0, 1, 2, 127, 128, 255],
        TensorDatatype.UInt16 => [0, 1, 300, 32768, 40000, 65535],
        TensorDatatype.UInt32 => [0, 1, 70000, 2147483648, 3000000000, 4294967295],
        TensorDatatype.UInt64 => [0, 1, 4294967296, 1e12, 1099511627776, 9007199254740992],
        TensorDatatype.Int8 => [-128, -1, 0, 1, 2, 127],
        TensorDatatype.Int16 => [-32768, -300, 0, 1, 300, 32767],
        TensorDatatype.Int32 => [-2147483648, -70000, 0, 1, 70000, 2147483647],
        TensorDatatype.Int64 => [-9007199254740992, -4294967296, 0, 1, 1e12, 9007199254740992],
        TensorDatatype.Fp16 => [0.5, -1.25, 2, 1024, -0.125, 3],
        TensorDatatype.Bf16 => [0.5, -1.25, 2, 3.3895313892515355e38, -0.125, 9.183549615799121e-41],
        TensorDatatype.Fp32 => [1.5, -2.25, 3.125, 0, 1e10, -7],
        TensorDatatype.Fp64 => [0.1, -2.5, 1e-300, 0, 123456789.123, -7],
        _ => throw new ArgumentOutOfRangeException(nameof(datatype)),
    };

    /// <summary>The identity model's output as text, whichever way it travelled.</summary>
    private static string[] Expected(TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bytes => Strings,
        TensorDatatype.Bool => [.. Numbers(datatype).Select(v => v != 0 ? "True" : "False")],
        _ => [.. Numbers(datatype).Select(Text)],
    };

    private static string Text(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    private static Array JsonData(TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bytes => Strings,
        TensorDatatype.Bool => Numbers(datatype).Select(v => v != 0).ToArray(),
        _ => Numbers(datatype),
    };

    private static string FromJson(TensorDatatype datatype, JsonNode node) => datatype switch
    {
        TensorDatatype.Bytes => (string)node!,
        TensorDatatype.Bool => ((bool)node).ToString(),
        TensorDatatype.Bf16 => Text((BFloat16)(double)node), // JSON carries the shortest text that reads back as the BF16
        _ => Text((double)node),
    };

    private static InferTensorContents Typed(TensorDatatype datatype)
    {
        var c = new InferTensorContents();
        if (datatype == TensorDatatype.Bytes)
        {
            c.BytesContents.AddRange(Strings.Select(ByteString.CopyFromUtf8));
            return c;
        }

        foreach (double v in Numbers(datatype))
        {
            switch (datatype)
            {
                case TensorDatatype.Bool: c.BoolContents.Add(v != 0); break;
                case TensorDatatype.UInt8 or TensorDatatype.UInt16 or TensorDatatype.UInt32: c.UintContents.Add((uint)v); break;
                case TensorDatatype.UInt64: c.Uint64Contents.Add((ulong)v); break;
                case TensorDatatype.Int8 or TensorDatatype.Int16 or TensorDatatype.Int32: c.IntContents.Add((int)v); break;
                case TensorDatatype.Int64: c.Int64Contents.Add((long)v); break;
                case TensorDatatype.Fp32: c.Fp32Contents.Add((float)v); break;
                case TensorDatatype.Fp64: c.Fp64Contents.Add(v); break;
                default: break; // FP16, BF16: no typed field
            }
        }

        return c;
    }

    private static string[] FromTyped(TensorDatatype datatype, InferTensorContents c) => datatype switch
    {
        TensorDatatype.Bytes => [.. c.BytesContents.Select(b => b.ToStringUtf8())],
        TensorDatatype.Bool => [.. c.BoolContents.Select(b => b.ToString())],
        TensorDatatype.UInt8 or TensorDatatype.UInt16 or TensorDatatype.UInt32 => [.. c.UintContents.Select(v => Text(v))],
        TensorDatatype.UInt64 => [.. c.Uint64Contents.Select(v => Text(v))],
        TensorDatatype.Int8 or TensorDatatype.Int16 or TensorDatatype.Int32 => [.. c.IntContents.Select(v => Text(v))],
        TensorDatatype.Int64 => [.. c.Int64Contents.Select(v => Text(v))],
        TensorDatatype.Fp32 => [.. c.Fp32Contents.Select(v => Text(v))],
        TensorDatatype.Fp64 => [.. c.Fp64Contents.Select(Text)],
        _ => throw new ArgumentOutOfRangeException(nameof(datatype)),
    };

    /// <summary>Little-endian elements; a BYTES element is a 4-byte length and its UTF-8 bytes.</summary>
    private static ByteString RawBytes(TensorDatatype datatype)
    {
        if (datatype == TensorDatatype.Bytes)
        {
            var stream = new MemoryStream();
            foreach (string s in Strings)
            {
                byte[] utf8 = Encoding.UTF8.GetBytes(s);
                var length = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
                stream.Write(length);
                stream.Write(utf8);
            }

            return ByteString.CopyFrom(stream.ToArray());
        }

        double[] v = Numbers(datatype);
        byte[] bytes = datatype switch
        {
            TensorDatatype.Bool => [.. v.Select(x => x != 0 ? (byte)1 : (byte)0)],
            TensorDatatype.UInt8 => [.. v.Select(x => (byte)x)],
            TensorDatatype.UInt16 => Le(v.Select(x => (ushort)x).ToArray()),
            TensorDatatype.UInt32 => Le(v.Select(x => (uint)x).ToArray()),
            TensorDatatype.UInt64 => Le(v.Select(x => (ulong)x).ToArray()),
            TensorDatatype.Int8 => Le(v.Select(x => (sbyte)x).ToArray()),
            TensorDatatype.Int16 => Le(v.Select(x => (short)x).ToArray()),
            TensorDatatype.Int32 => Le(v.Select(x => (int)x).ToArray()),
            TensorDatatype.Int64 => Le(v.Select(x => (long)x).ToArray()),
            TensorDatatype.Fp16 => Le(v.Select(x => (Half)x).ToArray()),
            TensorDatatype.Bf16 => Le(v.Select(x => (BFloat16)x).ToArray()),
            TensorDatatype.Fp32 => Le(v.Select(x => (float)x).ToArray()),
            _ => Le(v),
        };
        return ByteString.CopyFrom(bytes);
    }

    private static byte[] Le<T>(T[] values)
        where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private static string[] FromRaw(TensorDatatype datatype, byte[] bytes)
    {
        if (datatype == TensorDatatype.Bytes)
        {
            var strings = new List<string>();
            for (int offset = 0; offset < bytes.Length;)
            {
                int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
                strings.Add(Encoding.UTF8.GetString(bytes, offset + 4, length));
                offset += 4 + length;
            }

            return [.. strings];
        }

        return datatype switch
        {
            TensorDatatype.Bool => [.. bytes.Select(b => (b != 0).ToString())],
            TensorDatatype.UInt8 => [.. bytes.Select(b => Text(b))],
            TensorDatatype.UInt16 => [.. MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.UInt32 => [.. MemoryMarshal.Cast<byte, uint>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.UInt64 => [.. MemoryMarshal.Cast<byte, ulong>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Int8 => [.. MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Int16 => [.. MemoryMarshal.Cast<byte, short>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Int32 => [.. MemoryMarshal.Cast<byte, int>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Int64 => [.. MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Fp16 => [.. MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(x => Text((double)x))],
            TensorDatatype.Bf16 => [.. MemoryMarshal.Cast<byte, BFloat16>(bytes).ToArray().Select(x => Text(x))],
            TensorDatatype.Fp32 => [.. MemoryMarshal.Cast<byte, float>(bytes).ToArray().Select(x => Text(x))],
            _ => [.. MemoryMarshal.Cast<byte, double>(bytes).ToArray().Select(Text)],
        };
    }
}
