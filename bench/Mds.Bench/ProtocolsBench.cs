using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Net.Client;
using Mds.Contracts.Inference.Grpc;
using Mds.ModelGen;

namespace Mds.Bench;

/// <summary>
/// <c>protocols</c>: what the wire format costs, against one worker called directly (audit off). For the iris sample
/// (a tiny request): V2 REST with a JSON body against gRPC <c>ModelInfer</c> with typed contents. For a model with a
/// large input (FP32 [1, 3, 224, 224], 588 KiB, pooled to ten outputs: the encoding of the input dominates): REST
/// JSON, gRPC with <c>raw_input_contents</c>, and REST with the binary tensor data extension (Triton's form: the
/// JSON header, then the tensor's bytes; <c>Inference-Header-Content-Length</c>; <c>binary_data_size</c> on the
/// input). Closed-loop clients at each concurrency, each phase <c>--rounds</c> times in rotating order, best round.
/// A worker that refuses the binary extension gets "n/a" for it instead of failing the run.
/// </summary>
internal static class ProtocolsBench
{
    private const string Iris = "bench-iris";
    private const string Image = "bench-image";
    private const int Channels = 3, Side = 224, Classes = 10;
    private const string NoBinary = "n/a (worker lacks binary extension)";
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (AuditBenchOptions.Parse(args, defaultConcurrency: "1,8,64", defaultSeconds: 5, defaultRounds: 2) is not { } options)
        {
            return 2;
        }

        Console.WriteLine(Machine.Describe());
        Console.WriteLine("starting a database, the backend and a worker with gRPC (audit off) …");
        string scratch = Directory.CreateTempSubdirectory("mds-bench-protocols-").FullName;
        string imageOnnx = Path.Combine(scratch, "image.onnx");
        await File.WriteAllBytesAsync(imageOnnx, TestGraphs.GlobalPoolClassifier(7, Channels, Side, Side, Classes), ct);

        await using var cluster = await LocalCluster.StartAsync(options.ServerConnectionString, ct);
        var grpcUrl = ServiceHost.FreeLoopbackUrl();
        var worker = await cluster.StartWorkerAsync("protocols", new Dictionary<string, string>
        {
            ["Mds__Audit__Enabled"] = "false",
            ["Mds__Worker__GrpcPort"] = grpcUrl.Port.ToString(CultureInfo.InvariantCulture),
            ["Mds__Worker__GrpcUrl"] = grpcUrl.ToString().TrimEnd('/'),
        }, ct);
        using (var admin = await cluster.AdminClientAsync(ct))
        {
            await LocalCluster.DeployAsync(admin, Iris, Path.Combine(ServiceHost.RepoRoot, "samples", "iris", "model.onnx"), replicas: 1, ct);
            await LocalCluster.DeployAsync(admin, Image, imageOnnx, replicas: 1, ct);
        }

        string irisPath = $"/v2/models/{Iris}/versions/1/infer", imagePath = $"/v2/models/{Image}/versions/1/infer";
        byte[] irisJson = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"Features","shape":[1,4],"datatype":"FP32","data":[6.5,2.9,4.9,1.2]}]}""");
        var irisGrpc = GrpcRequest(Iris, "Features", [1, 4]);
        irisGrpc.Inputs[0].Contents = new InferTensorContents { Fp32Contents = { 6.5f, 2.9f, 4.9f, 1.2f } };

        var random = new Random(11);
        var pixels = new float[Channels * Side * Side];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = random.NextSingle();
        }

        long[] imageShape = [1, Channels, Side, Side];
        byte[] raw = MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray(); // little-endian, as the extension and gRPC want
        byte[] imageJson = Encoding.UTF8.GetBytes(
            $$"""{"inputs":[{"name":"x","shape":[1,{{Channels}},{{Side}},{{Side}}],"datatype":"FP32","data":[{{string.Join(',', pixels.Select(p => p.ToString(CultureInfo.InvariantCulture)))}}]}]}""");
        var imageGrpc = GrpcRequest(Image, "x", imageShape);
        imageGrpc.RawInputContents.Add(ByteString.CopyFrom(raw));
        byte[] header = Encoding.UTF8.GetBytes(
            $$$"""{"inputs":[{"name":"x","shape":[1,{{{Channels}}},{{{Side}}},{{{Side}}}],"datatype":"FP32","parameters":{"binary_data_size":{{{raw.Length}}}}}]}""");
        byte[] imageBinary = [.. header, .. raw];
        var binaryHeaders = new Dictionary<string, string> { ["Inference-Header-Content-Length"] = header.Length.ToString(CultureInfo.InvariantCulture) };
        Console.WriteLine($"image request: JSON {imageJson.Length / 1024.0:F0} KiB, binary extension {imageBinary.Length / 1024.0:F0} KiB, gRPC raw {imageGrpc.CalculateSize() / 1024.0:F0} KiB");

        bool binary = await CheckAnswersAsync(worker.Url, grpcUrl, imagePath, imageJson, imageGrpc, imageBinary, binaryHeaders, ct);
        var targets = new List<(string Name, Func<int, TimeSpan, Task<LoadResult>> Run)>
        {
            ("iris REST", (c, d) => InferenceLoad.RunAsync(worker.Url, irisPath, irisJson, c, d, ct)),
            ("iris gRPC", (c, d) => InferenceLoad.RunGrpcAsync(grpcUrl, irisGrpc, c, d, ct)),
            ("image JSON", (c, d) => InferenceLoad.RunAsync(worker.Url, imagePath, imageJson, c, d, ct)),
            ("image gRPC raw", (c, d) => InferenceLoad.RunGrpcAsync(grpcUrl, imageGrpc, c, d, ct)),
        };
        if (binary)
        {
            targets.Add(("image binary", (c, d) =>
                InferenceLoad.RunAsync(worker.Url, imagePath, imageBinary, c, d, ct, contentType: "application/octet-stream", headers: binaryHeaders)));
        }

        // On a busy machine the first seconds of each path run slower code (tiered JIT, connection set-up): warm every
        // target at one client and at several before anything counts.
        foreach (var t in targets)
        {
            Check(await t.Run(1, WarmUp), t.Name);
            Check(await t.Run(8, WarmUp), t.Name);
        }

        var best = new Dictionary<(string, int), LoadResult>();
        foreach (int concurrency in options.Concurrency)
        {
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < targets.Count; k++)
                {
                    var t = targets[(k + round) % targets.Count];
                    var result = Check(await t.Run(concurrency, options.PhaseDuration), t.Name);
                    Console.WriteLine($"concurrency {concurrency,3}  round {round + 1}  {t.Name,-14} {result.RequestsPerSecond,8:F0} req/s  p50 {result.P50Ms,7:F2} ms  p99 {result.P99Ms,7:F2} ms");
                    if (!best.TryGetValue((t.Name, concurrency), out var previous) || result.RequestsPerSecond > previous.RequestsPerSecond)
                    {
                        best[(t.Name, concurrency)] = result;
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine(Machine.Describe());
        Console.WriteLine($"one worker called directly (audit off); {options.Rounds} rounds of {options.PhaseDuration.TotalSeconds:0} s per target and concurrency, best round");
        Console.WriteLine();
        Console.WriteLine("iris (1 row, FP32[1,4]): V2 REST JSON against gRPC typed contents");
        MarkdownTable.Header("clients", "REST req/s", "gRPC req/s", "gRPC ÷ REST", "REST p50 / p99 ms", "gRPC p50 / p99 ms");
        foreach (int c in options.Concurrency)
        {
            var (rest, grpc) = (best[("iris REST", c)], best[("iris gRPC", c)]);
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), F(rest.RequestsPerSecond), F(grpc.RequestsPerSecond),
                R(grpc.RequestsPerSecond / rest.RequestsPerSecond), Latency(rest), Latency(grpc));
        }

        Console.WriteLine();
        Console.WriteLine($"image (FP32[1,{Channels},{Side},{Side}], {raw.Length / 1024} KiB of tensor): REST JSON, gRPC raw_input_contents, REST binary tensor extension");
        MarkdownTable.Header(
            "clients", "JSON req/s", "gRPC raw req/s", "binary req/s", "gRPC raw ÷ JSON", "binary ÷ JSON",
            "JSON p50 / p99 ms", "gRPC raw p50 / p99 ms", "binary p50 / p99 ms");
        foreach (int c in options.Concurrency)
        {
            var (json, grpc) = (best[("image JSON", c)], best[("image gRPC raw", c)]);
            var bin = binary ? best[("image binary", c)] : null;
            MarkdownTable.Row(
                c.ToString(CultureInfo.InvariantCulture), F(json.RequestsPerSecond), F(grpc.RequestsPerSecond),
                bin is null ? NoBinary : F(bin.RequestsPerSecond),
                R(grpc.RequestsPerSecond / json.RequestsPerSecond),
                bin is null ? NoBinary : R(bin.RequestsPerSecond / json.RequestsPerSecond),
                Latency(json), Latency(grpc), bin is null ? NoBinary : Latency(bin));
        }

        try
        {
            Directory.Delete(scratch, recursive: true);
        }
        catch (IOException)
        {
            // the temp directory is the OS's to clean
        }

        return 0;
    }

    private static ModelInferRequest GrpcRequest(string model, string input, long[] shape)
    {
        var request = new ModelInferRequest { ModelName = model, ModelVersion = "1" };
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = input, Datatype = "FP32" };
        tensor.Shape.AddRange(shape);
        request.Inputs.Add(tensor);
        return request;
    }

    /// <summary>
    /// One request of each encoding of the image: JSON and gRPC raw must give the same outputs (within float rounding
    /// of the JSON text), and so must the binary extension, unless the worker answers it with a 4xx — it lacks the
    /// extension, and the run goes on without it. Returns whether the binary extension is there.
    /// </summary>
    private static async Task<bool> CheckAnswersAsync(
        Uri rest, Uri grpcUrl, string path, byte[] json, ModelInferRequest grpcRequest, byte[] binary, Dictionary<string, string> binaryHeaders, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = rest, Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { Authorization = LocalCluster.WorkerAuthorization } };
        float[] viaJson = await RestOutputAsync(http, path, json, "application/json", [], ct)
            ?? throw new InvalidOperationException("image JSON: the worker refused the request");

        using var channel = GrpcChannel.ForAddress(grpcUrl);
        var reply = await new GRPCInferenceService.GRPCInferenceServiceClient(channel).ModelInferAsync(grpcRequest, LocalCluster.GrpcAuthorization(), cancellationToken: ct);
        float[] viaGrpc = reply.RawOutputContents.Count > 0
            ? MemoryMarshal.Cast<byte, float>(reply.RawOutputContents[0].Span).ToArray()
            : [.. reply.Outputs[0].Contents.Fp32Contents];
        Same("gRPC raw", viaJson, viaGrpc);

        float[]? viaBinary = await RestOutputAsync(http, path, binary, "application/octet-stream", binaryHeaders, ct);
        if (viaBinary is null)
        {
            Console.WriteLine($"image binary: the worker refused the binary tensor extension; that row is {NoBinary}");
            return false;
        }

        Same("binary extension", viaJson, viaBinary);
        return true;
    }

    /// <summary>The first output of a V2 REST answer (JSON), or null when the worker answers 4xx.</summary>
    private static async Task<float[]?> RestOutputAsync(
        HttpClient http, string path, byte[] body, string contentType, Dictionary<string, string> headers, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new(contentType);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request, ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode is >= 400 and < 500)
        {
            Console.WriteLine($"  {contentType} → {(int)response.StatusCode} {text}");
            return null;
        }

        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(text);
        return [.. document.RootElement.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];
    }

    private static void Same(string what, float[] expected, float[] actual)
    {
        if (expected.Length != actual.Length || expected.Where((e, i) => Math.Abs(e - actual[i]) > 1e-4 * Math.Max(1, Math.Abs(e))).Any())
        {
            throw new InvalidOperationException($"{what}: the outputs differ from the JSON request's ([{string.Join(", ", expected)}] against [{string.Join(", ", actual)}])");
        }
    }

    private static LoadResult Check(LoadResult result, string target) =>
        result.Failed == 0 ? result : throw new InvalidOperationException($"{target}: {result.Failed} requests failed (first: {result.FirstError})");

    private static string Latency(LoadResult r) => $"{r.P50Ms:F2} / {r.P99Ms:F2}";

    private static string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string R(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}
