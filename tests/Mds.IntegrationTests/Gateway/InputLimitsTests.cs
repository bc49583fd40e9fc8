using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Gateway;

/// <summary>
/// Threat: one hostile request exhausts a process's memory. gRPC messages are counted before they are parsed, REST
/// bodies are refused over the same limit on the gateway and the workers, multipart text fields are capped as they stream.
/// </summary>
[Collection(GatewayGrpcCollection.Name)]
public sealed class InputLimitsTests(GatewayGrpcFixture fixture)
{
    private const string Iris = "gw-grpc-iris";
    private const long LimitBytes = 64L * 1024 * 1024; // Mds:Gateway:MaxRequestBodyMb and Mds:Worker:MaxRequestBodyMb
    private const long MemoryBound = 300L * 1024 * 1024;

    /// <summary>
    /// The largest text field the test cluster lets through to the form reader: its upload limit is 2 MiB and bodies up
    /// to twice that are read to the end before a 413 (with the default 512 MiB, a 120 MB field is read the same way).
    /// </summary>
    private const long FieldBytes = MdsCluster.MaxUploadBytes * 2;

    private MdsCluster Cluster => fixture.Cluster;

    /// <summary>ModelInfer with the request as wire bytes: the test process never parses (or builds) the hostile message.</summary>
    private static readonly Method<byte[], ModelInferResponse> RawInfer = new(
        MethodType.Unary, "inference.GRPCInferenceService", "ModelInfer",
        Marshallers.Create(b => b, b => b),
        Marshallers.Create(m => m.ToByteArray(), ModelInferResponse.Parser.ParseFrom));

    /// <summary>An iris request (one input, model name) followed by 30 million empty raw_input_contents entries: 60 MB.</summary>
    private static byte[] EmptyRawEntries()
    {
        var head = new ModelInferRequest { ModelName = Iris, Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "float_input", Datatype = "FP32", Shape = { 1, 4 } } } }.ToByteArray();
        const int entries = 30_000_000;
        var wire = new byte[head.Length + entries * 2];
        head.CopyTo(wire, 0);
        for (int i = head.Length; i < wire.Length; i += 2)
        {
            wire[i] = (7 << 3) | 2;
        }

        return wire;
    }

    [Fact]
    public async Task A_grpc_message_of_empty_raw_entries_is_refused_without_exhausting_memory_on_worker_and_gateway()
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var (workerUrl, worker) = await WorkerAsync(Iris);
        byte[] wire = EmptyRawEntries();
        var auth = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } };

        foreach (var (url, process, headers) in new[] { (workerUrl, worker, auth), ($"http://127.0.0.1:{fixture.GrpcPort}", Cluster.Backend, auth) })
        {
            using var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { MaxSendMessageSize = null });
            long peakBefore = process.PeakResidentBytes;

            var e = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(RawInfer, null, new CallOptions(headers), wire).ResponseAsync);

            Assert.True(e.StatusCode == StatusCode.ResourceExhausted, $"{process.Name}: {e.Status}\n{process.OutputTail}");
            Assert.Contains("raw_input_contents", e.Status.Detail, StringComparison.Ordinal);
            Assert.Contains("MaxTensors", e.Status.Detail, StringComparison.Ordinal);
            long growth = process.PeakResidentBytes - peakBefore;
            Assert.True(growth < MemoryBound, $"{process.Name}'s peak memory grew by {growth / (1024 * 1024)} MiB");
            Assert.False(process.HasExited);
        }
    }

    [Fact]
    public async Task A_rest_body_just_over_the_limit_gets_413_from_both_gateway_and_worker()
    {
        await Cluster.EnsureReadyAsync(Iris, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        var (_, worker) = await WorkerAsync(Iris);
        using var gateway = await Cluster.ClientAsync(Roles.Analyst);
        using var direct = await Cluster.WorkerClientAsync(worker.Url);
        var body = new byte[LimitBytes + 1];

        foreach (var (client, name) in new[] { (gateway, "gateway"), (direct, "worker") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Iris}/versions/1/infer") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.ExpectContinue = true; // the answer comes before the body is sent
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{name}: {response.StatusCode}");
            Assert.Contains("larger than 64 MiB", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_huge_multipart_text_field_is_refused_while_streaming()
    {
        using var client = await Cluster.ClientAsync(Roles.Researcher);
        long peakBefore = Cluster.Backend.PeakResidentBytes;

        using var response = await client.PostAsync("/api/models", new HugeFieldContent(FieldBytes));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("longer than 4000 characters", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        long growth = Cluster.Backend.PeakResidentBytes - peakBefore;
        Assert.True(growth < 100L * 1024 * 1024, $"the backend's peak memory grew by {growth / (1024 * 1024)} MiB");
    }

    private async Task<(string GrpcUrl, ServiceProcess Process)> WorkerAsync(string model)
    {
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
        var workers = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!;
        string name = version.ReplicaStates.First(r => r.State == ReplicaStates.Ready).WorkerName;
        return (workers.Single(w => w.Name == name).GrpcUrl!, Cluster.Workers.Single(w => w.Name == name));
    }

    /// <summary>multipart/form-data with one text field of <c>length</c> bytes, streamed (never held by the test).</summary>
    private sealed class HugeFieldContent : HttpContent
    {
        private const string Boundary = "limits-boundary";
        private readonly long _length;

        public HugeFieldContent(long length)
        {
            _length = length;
            Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"));
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'a');
            for (long sent = 0; sent < _length; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk);
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n"));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n".Length + ((_length + (64 * 1024) - 1) / (64 * 1024) * 64 * 1024) + $"\r\n--{Boundary}--\r\n".Length;
            return true;
        }
    }
}
