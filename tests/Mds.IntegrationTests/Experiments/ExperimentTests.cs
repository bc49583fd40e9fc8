using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.IntegrationTests.Pipelines;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Experiments;

/// <summary>
/// Experiments (issue 13) on the pipeline tests' cluster (two real workers, arithmetic models): p-scale answers 2x+1,
/// p-shift x+10, so every answer says which candidate ran. Each test ends its experiment, so the models' own endpoints
/// answer as before for the other tests in the collection.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class ExperimentTests(PipelineFixture fixture)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private const string Body = """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,1]}]}""";
    private MdsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Split_SeventyThirty_Over2000Requests_WithinBinomial999Interval_AndEveryAnswerCarriesItsRoute()
    {
        await using var _ = await CreateAsync("exp-split", """
            name: exp-split
            candidates:
              - { name: p-scale, weight: 70 }
              - { name: p-shift, weight: 30 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        int scale = 0, shift = 0;
        for (int batch = 0; batch < 125; batch++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => InferAsync(client, "/v2/models/exp-split.experiment/infer")));
            foreach (var (status, y, route) in answers)
            {
                Assert.Equal(HttpStatusCode.OK, status);
                Assert.Equal(y == 3 ? "exp-split:p-scale" : "exp-split:p-shift", route);
                scale += y == 3 ? 1 : 0;
                shift += y == 11 ? 1 : 0;
            }
        }

        Assert.Equal(2000, scale + shift);
        Assert.InRange(scale, 1333, 1467); // 1400 ± 3.29 σ (σ = √(2000·0.7·0.3) ≈ 20.5)
    }

    [Fact]
    public async Task StickyRoute_SentBack_NeverSwitches_AndRouteKeyIsStable()
    {
        await using var _ = await CreateAsync("exp-sticky", """
            name: exp-sticky
            candidates:
              - { name: p-scale, weight: 50 }
              - { name: p-shift, weight: 50 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var (_, first, route) = await InferAsync(client, "/v2/models/exp-sticky.experiment/infer");
        for (int i = 0; i < 50; i++)
        {
            var (status, y, again) = await InferAsync(client, "/v2/models/exp-sticky.experiment/infer", (MdsHeaders.Route, route!));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(first, y);
            Assert.Equal(route, again);
        }

        var keyed = await InferAsync(client, "/v2/models/exp-sticky.experiment/infer", (MdsHeaders.RouteKey, "user-42"));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(keyed.Y, (await InferAsync(client, "/v2/models/exp-sticky.experiment/infer", (MdsHeaders.RouteKey, "user-42"))).Y);
        }
    }

    [Fact]
    public async Task FailingMirror_GetsItsPercent_NeverFailsTheCaller_AndIsRecordedNotReturned()
    {
        // p-fail takes what p-scale takes, but x = 1 is outside its table: the request fails there, every time.
        await using var _ = await CreateAsync("exp-mirror", """
            name: exp-mirror
            candidates:
              - { name: p-scale, weight: 1 }
            mirror: { name: p-fail, percent: 50 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        for (int batch = 0; batch < 25; batch++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => InferAsync(client, "/v2/models/exp-mirror.experiment/infer")));
            Assert.All(answers, a => Assert.Equal((HttpStatusCode.OK, 3f), (a.Status, a.Y)));
        }

        ExperimentDto? dto = null;
        await Eventually.TrueAsync(async () =>
        {
            dto = await client.GetFromJsonAsync<ExperimentDto>("/api/experiments/exp-mirror", Web);
            var results = await client.GetFromJsonAsync<ExperimentResultsDto>("/api/experiments/exp-mirror/results", Web);
            return results!.Mirror!.MirrorErrors == dto!.Mirror!.Sent && results.Candidates[0].Requests == 400;
        }, TimeSpan.FromSeconds(20), "the mirror's failed calls recorded");
        Assert.InRange(dto!.Mirror!.Sent + dto.Mirror.Dropped, 160, 240); // 200 ± 4 σ
    }

    [Fact]
    public async Task ForwardedCalls_StillLogPredictedAndScore_JsonAndBinary_AndTheMirrorGetsTheCallersBytes()
    {
        // Model candidates go through the plain gateway's forwarder (nothing decoded on the request path): the call log
        // must still read each answer's prediction from its bytes, and the mirror must still answer from the caller's bytes.
        await using var _ = await CreateAsync("exp-fast", """
            name: exp-fast
            candidates:
              - { name: p-scale, weight: 1 }
            mirror: { name: p-shift, percent: 100 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal((HttpStatusCode.OK, 3f, "exp-fast:p-scale"), await InferAsync(client, "/v2/models/exp-fast.experiment/infer"));
        }

        var binary = new Mds.Contracts.Inference.InferenceRequest
        {
            Parameters = new Dictionary<string, object?> { [Mds.Contracts.Inference.BinaryTensorData.AllOutputsParameter] = true },
            Inputs = [new Mds.Contracts.Inference.InferenceTensor("x", Mds.Contracts.Inference.TensorDatatype.Fp32, [1, 2], new float[] { 1, 1 })],
        };
        var body = new System.Buffers.ArrayBufferWriter<byte>();
        int headerLength = Mds.Contracts.Inference.BinaryTensorData.WriteRequest(body, binary, [true]);
        for (int i = 0; i < 10; i++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v2/models/exp-fast.experiment/infer") { Content = new ByteArrayContent(body.WrittenSpan.ToArray()) };
            message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Mds.Contracts.Inference.BinaryTensorData.ContentType);
            message.Headers.Add(Mds.Contracts.Inference.BinaryTensorData.HeaderLengthHeader, headerLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var response = await client.SendAsync(message);
            byte[] bytes = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, Encoding.UTF8.GetString(bytes));
            Assert.Equal("exp-fast:p-scale", Assert.Single(response.Headers.GetValues(MdsHeaders.Route)));
            int answerHeader = int.Parse(Assert.Single(response.Headers.GetValues(Mds.Contracts.Inference.BinaryTensorData.HeaderLengthHeader)), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal([3f, 3f], (float[])Assert.Single(Mds.Contracts.Inference.BinaryTensorData.DecodeResponse(bytes, answerHeader).Outputs).Data);
        }

        ExperimentResultsDto? results = null;
        await Eventually.TrueAsync(async () =>
        {
            results = await client.GetFromJsonAsync<ExperimentResultsDto>("/api/experiments/exp-fast/results", Web);
            return results!.Candidates[0].Requests == 20 && results.Mirror!.Paired == 20;
        }, TimeSpan.FromSeconds(20), "20 calls and 20 paired mirror copies logged");
        // Paired rows compare the logged predictions: p-scale answers 3, p-shift 11, for JSON and binary answers alike.
        Assert.Equal(0, results!.Mirror!.MirrorErrors);
        Assert.Equal(0.0, results.Mirror.LabelAgreement);
        Assert.Equal(8.0, results.Mirror.MeanAbsoluteScoreDifference!.Value, 6);
    }

    [Fact]
    public async Task WeightsChangedUnderLoad_ZeroFailedRequests_AndTheNewSplitHolds()
    {
        await using var _ = await CreateAsync("exp-weights", """
            name: exp-weights
            candidates:
              - { name: p-scale, weight: 50 }
              - { name: p-shift, weight: 50 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var stop = new CancellationTokenSource();
        int failed = 0, done = 0;
        var load = Enumerable.Range(0, 8).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, _, _) = await InferAsync(client, "/v2/models/exp-weights.experiment/infer");
                Interlocked.Increment(ref done);
                if (status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }).ToList();
        for (int i = 0; i < 10; i++)
        {
            using var put = await researcher.PutAsJsonAsync("/api/experiments/exp-weights/weights",
                new ExperimentWeightsRequest(new Dictionary<string, double> { ["p-scale"] = i % 2 == 0 ? 100 : 1, ["p-shift"] = i % 2 == 0 ? 0 : 99 }));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            await Task.Delay(50);
        }

        using (var last = await researcher.PutAsJsonAsync("/api/experiments/exp-weights/weights", new ExperimentWeightsRequest(new Dictionary<string, double> { ["p-scale"] = 0, ["p-shift"] = 1 })))
        {
            Assert.Equal(HttpStatusCode.OK, last.StatusCode);
        }

        stop.Cancel();
        await Task.WhenAll(load);
        Assert.Equal(0, failed);
        Assert.True(done > 50, $"only {done} requests ran");
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(11f, (await InferAsync(client, "/v2/models/exp-weights.experiment/infer")).Y);
        }

        var history = (await client.GetFromJsonAsync<ExperimentDto>("/api/experiments/exp-weights", Web))!.History;
        Assert.Equal(11, history.Count(h => h.Kind == "weights"));
    }

    [Fact]
    public async Task DefaultTakeover_ModelsOwnEndpointAndGrpcRouted_ExplicitVersionNot_StopGivesItBack()
    {
        await using var experiment = await CreateAsync("exp-default", """
            name: exp-default
            candidates:
              - { name: p-scale, weight: 0.0001 }
              - { name: p-shift, weight: 100 }
            default: p-scale
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var taken = await InferAsync(client, "/v2/models/p-scale/infer");
        Assert.Equal(("exp-default:p-shift", 11f), (taken.Route, taken.Y));
        var pinned = await InferAsync(client, "/v2/models/p-scale/versions/1/infer");
        Assert.Equal((null, 3f), (pinned.Route, pinned.Y));

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.GrpcPort}");
        var grpc = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var request = new ModelInferRequest { ModelName = "p-scale" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1, 2 }, Contents = new InferTensorContents { Fp32Contents = { 1f, 1f } } };
        request.Inputs.Add(input);
        var call = grpc.ModelInferAsync(request, new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } });
        var response = await call;
        Assert.Equal("exp-default:p-shift", (await call.ResponseHeadersAsync).GetValue("mds-route"));
        Assert.Equal(11f, response.Outputs.Count > 0 && response.Outputs[0].Contents is { } c && c.Fp32Contents.Count > 0 ? c.Fp32Contents[0]
            : BitConverter.ToSingle(response.RawOutputContents[0].Span[..4]));

        // The experiment's own name answers metadata and readiness like a model, over gRPC as over REST.
        var auth = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } };
        var metadata = await grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = "exp-default.experiment" }, auth);
        Assert.Equal(("exp-default.experiment", "mds_experiment"), (metadata.Name, metadata.Platform));
        Assert.Equal(("x", "FP32", "-1,2"), (metadata.Inputs.Single().Name, metadata.Inputs[0].Datatype, string.Join(",", metadata.Inputs[0].Shape)));
        Assert.Equal("y", metadata.Outputs.Single().Name);
        Assert.True((await grpc.ModelReadyAsync(new ModelReadyRequest { Name = "exp-default.experiment" }, auth)).Ready);
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = "exp-none.experiment" }, auth));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var rest = JsonNode.Parse(await client.GetStringAsync("/v2/models/exp-default.experiment"))!;
        Assert.Equal(("mds_experiment", "x"), (rest["platform"]!.GetValue<string>(), rest["inputs"]![0]!["name"]!.GetValue<string>()));

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var stopped = await researcher.PostAsync("/api/experiments/exp-default/stop", null);
        Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
        var after = await InferAsync(client, "/v2/models/p-scale/infer");
        Assert.Equal((null, 3f), (after.Route, after.Y));
    }

    [Fact]
    public async Task PipelinesAsCandidates_RoutedByWeight_AndDefaultPipelineTakenOver()
    {
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        foreach (var (name, model) in new[] { ("exp-pa", "p-scale"), ("exp-pb", "p-shift") })
        {
            using var applied = await researcher.PostAsync("/api/pipelines", new StringContent($"name: {name}\nsteps:\n  - name: s\n    model: {model}\n", Encoding.UTF8, "application/yaml"));
            Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
        }

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await Eventually.TrueAsync(async () => (await client.GetAsync("/v2/pipelines/exp-pb/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "pipeline exp-pb live");
        await using var _ = await CreateAsync("exp-pipes", """
            name: exp-pipes
            resourceType: pipeline
            candidates:
              - { name: exp-pa, weight: 1 }
              - { name: exp-pb, weight: 1 }
            default: exp-pa
            """);
        var seen = new HashSet<float>();
        for (int i = 0; i < 40; i++)
        {
            var (status, y, route) = await InferAsync(client, i % 2 == 0 ? "/v2/models/exp-pipes.experiment/infer" : "/v2/pipelines/exp-pa/infer");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(y == 3 ? "exp-pipes:exp-pa" : "exp-pipes:exp-pb", route);
            seen.Add(y);
        }

        Assert.Equal([3f, 11f], seen.Order());

        // A pipeline candidate's step calls carry the tag: the step's record names the experiment and the pipeline.
        string requestId = "exp-pipes-" + Guid.NewGuid().ToString("N")[..8];
        var tagged = await InferAsync(client, "/v2/models/exp-pipes.experiment/infer", (MdsHeaders.RequestId, requestId));
        var step = await WaitForRecordAsync(client, requestId + ".s");
        Assert.Equal(("exp-pipes", tagged.Route!["exp-pipes:".Length..], false), (step.Experiment, step.Candidate, step.Mirror));
    }

    [Fact]
    public async Task Records_name_the_experiment_and_the_candidate_that_answered_and_mirror_copies_say_mirror_so_results_cannot_be_misattributed()
    {
        await using var _ = await CreateAsync("exp-records", """
            name: exp-records
            candidates:
              - { name: p-scale, weight: 1 }
              - { name: p-shift, weight: 1 }
            mirror: { name: p-neg, percent: 100 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        string prefix = "exprec-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var routes = new Dictionary<string, string>();
        for (int i = 0; i < 12; i++)
        {
            var (status, _, route) = await InferAsync(client, "/v2/models/exp-records.experiment/infer", (MdsHeaders.RequestId, prefix + i));
            Assert.Equal(HttpStatusCode.OK, status);
            routes[prefix + i] = route!;
        }

        // gRPC: the same runner, the same tags.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.GrpcPort}");
        var grpc = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var request = new ModelInferRequest { ModelName = "exp-records.experiment" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1, 2 }, Contents = new InferTensorContents { Fp32Contents = { 1f, 1f } } });
        var call = grpc.ModelInferAsync(request, new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) }, { "x-request-id", prefix + "grpc" } });
        await call;
        routes[prefix + "grpc"] = (await call.ResponseHeadersAsync).GetValue("mds-route")!;

        foreach (var (requestId, route) in routes)
        {
            string candidate = route["exp-records:".Length..];
            var record = await WaitForRecordAsync(client, requestId);
            Assert.Equal(("exp-records", candidate, false, candidate), (record.Experiment, record.Candidate, record.Mirror, record.ModelName));
            var mirror = await WaitForRecordAsync(client, requestId + ".mirror");
            Assert.Equal(("exp-records", "p-neg", true, "p-neg"), (mirror.Experiment, mirror.Candidate, mirror.Mirror, mirror.ModelName));
        }

        var all = (await client.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?experiment=exp-records&take=200", Web))!;
        Assert.Equal(routes.Count * 2, all.Records.Count(r => r.RequestId.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.All(all.Records, r => Assert.Equal("exp-records", r.Experiment));
        var scale = (await client.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?experiment=exp-records&candidate=p-scale&take=200", Web))!;
        Assert.Equal(routes.Values.Count(r => r == "exp-records:p-scale"), scale.Records.Count(r => r.RequestId.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.All(scale.Records, r => Assert.Equal(("p-scale", false), (r.Candidate, r.Mirror)));
        var mirrors = (await client.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?experiment=exp-records&candidate=p-neg&take=200", Web))!;
        Assert.Equal(routes.Count, mirrors.Records.Count(r => r.RequestId.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.All(mirrors.Records, r => Assert.True(r.Mirror));
        var detail = (await client.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{mirrors.Records[0].Id}", Web))!;
        Assert.Equal(("exp-records", "p-neg", true), (detail.Record.Experiment, detail.Record.Candidate, detail.Record.Mirror));
    }

    [Fact]
    public async Task A_takeover_on_the_models_own_endpoint_records_the_candidate_and_the_mirror_copy_with_the_callers_trace_id()
    {
        await using var _ = await CreateAsync("exp-trace", """
            name: exp-trace
            candidates:
              - { name: p-scale, weight: 0.0001 }
              - { name: p-shift, weight: 100 }
            default: p-scale
            mirror: { name: p-neg, percent: 100 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        // Several calls on one client: after the first, the gateway's fast path takes them (no activity of its own there).
        string prefix = "exptrace-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var traces = new Dictionary<string, string>();
        for (int i = 0; i < 3; i++)
        {
            string traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
            var (status, y, route) = await InferAsync(client, "/v2/models/p-scale/infer", (MdsHeaders.RequestId, prefix + i),
                ("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"));
            Assert.Equal((HttpStatusCode.OK, "exp-trace:p-shift", 11f), (status, route, y));
            traces[prefix + i] = traceId;
        }

        foreach (var (requestId, traceId) in traces)
        {
            var answered = await WaitForRecordAsync(client, requestId);
            Assert.Equal(("p-shift", false, traceId), (answered.ModelName, answered.Mirror, answered.TraceId));
            var mirror = await WaitForRecordAsync(client, requestId + ".mirror");
            Assert.Equal(("p-neg", true, traceId), (mirror.ModelName, mirror.Mirror, mirror.TraceId));
        }
    }

    [Fact]
    public async Task A_forged_Mds_Experiment_header_from_a_user_s_own_credential_or_through_the_gateway_leaves_the_record_untagged()
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        string prefix = "forged-exp-" + Guid.NewGuid().ToString("N")[..8] + "-";

        // Straight to a worker with the user's own token (whichever worker holds p-scale answers 200).
        bool answered = false;
        foreach (var worker in Cluster.Workers)
        {
            using var direct = await Cluster.WorkerClientAsync(worker.Url);
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v2/models/p-scale/infer") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            message.Headers.Add(MdsHeaders.RequestId, prefix + "direct");
            message.Headers.Add(MdsHeaders.Experiment, "exp-forged:p-scale");
            using var response = await direct.SendAsync(message);
            answered |= response.StatusCode == HttpStatusCode.OK;
        }

        Assert.True(answered, "a worker holding p-scale answered the direct call");

        // Through the gateway's own model endpoint (forwarded with the internal token): the caller's header is dropped.
        var (status, _, _) = await InferAsync(client, "/v2/models/p-scale/infer", (MdsHeaders.RequestId, prefix + "gateway"), (MdsHeaders.Experiment, "exp-forged:p-scale;mirror"));
        Assert.Equal(HttpStatusCode.OK, status);

        foreach (string id in new[] { prefix + "direct", prefix + "gateway" })
        {
            var record = await WaitForRecordAsync(client, id);
            Assert.Equal((null, null, false), (record.Experiment, record.Candidate, record.Mirror));
        }

        Assert.Empty((await client.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?experiment=exp-forged", Web))!.Records);
    }

    [Fact]
    public async Task Roles_AnalystCannotCreateOrChange_ButReads_AndBadSpecNamesEveryProblem()
    {
        using var analyst = await Cluster.ClientAsync(Roles.Analyst);
        using var denied = await analyst.PostAsync("/api/experiments", new StringContent("name: x\ncandidates: []", Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await analyst.GetAsync("/api/experiments")).StatusCode);

        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var bad = await researcher.PostAsync("/api/experiments", new StringContent("""
            name: exp-bad
            candidates:
              - { name: nope, weight: 1 }
              - { name: p-scale, weight: -1 }
            mirror: { name: p-scale, percent: 10 }
            """, Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problems = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["problems"]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
        Assert.Contains(problems, p => p.Contains("unknown candidate: model 'nope'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("weights must be positive", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("mirror: 'p-scale' is also a candidate", StringComparison.Ordinal));

        // Candidates that do not take the same request: half the callers would get errors, so the spec is refused.
        using var mismatched = await researcher.PostAsync("/api/experiments", new StringContent("""
            name: exp-mismatched
            candidates:
              - { name: p-scale, weight: 1 }
              - { name: p-inc, weight: 1 }
            """, Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.BadRequest, mismatched.StatusCode);
        Assert.Equal(
            ["candidates[1]: 'p-inc' is not interchangeable with 'p-scale': input 'x' has shape [-1, 1] there, [-1, 2] here"],
            JsonNode.Parse(await mismatched.Content.ReadAsStringAsync())!["problems"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync("/api/experiments/exp-mismatched")).StatusCode);
    }

    [Fact]
    public async Task StalledMirror_NeverDelaysOrFailsACaller_AndCopiesBeyondItsQueueAreDroppedAndCounted()
    {
        // The mirror's only replica is on a worker of its own, frozen with SIGSTOP: every copy sent to it waits. The
        // callers must not notice; the mirror queue (32 in this fixture) fills and the rest of the copies are dropped.
        var lab = await Cluster.StartWorkerAsync("pipe-mirror-lab", capabilities: "onnx,cpu,mirror-lab");
        await Cluster.DeployAsync("p-stalled", TestGraphs.Affine("x", "y", 2, 3f, 0f), new Dictionary<string, string> { ["requirements"] = "onnx,mirror-lab" });
        await using var experiment = await CreateAsync("exp-stalled", """
            name: exp-stalled
            candidates:
              - { name: p-scale, weight: 1 }
            mirror: { name: p-stalled, percent: 100 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        lab.Pause();
        try
        {
            for (int batch = 0; batch < 10; batch++)
            {
                var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => InferAsync(client, "/v2/models/exp-stalled.experiment/infer")));
                Assert.All(answers, a => Assert.Equal((HttpStatusCode.OK, 3f), (a.Status, a.Y)));
            }

            // Every caller has its answer while not one copy has come back from the mirror.
            var dto = (await client.GetFromJsonAsync<ExperimentDto>("/api/experiments/exp-stalled", Web))!;
            Assert.Equal(160, dto.Mirror!.Sent + dto.Mirror.Dropped);
            Assert.InRange(dto.Mirror.Sent, 1, 32 + 8); // the queue plus the copies in flight (MirrorConcurrency 8)
            var results = (await client.GetFromJsonAsync<ExperimentResultsDto>("/api/experiments/exp-stalled/results", Web))!;
            Assert.Equal(0, results.Mirror!.Paired + results.Mirror.MirrorErrors);
        }
        finally
        {
            lab.Resume();
        }

        // Thawed, the mirror answers the copies it was sent (and only those).
        await Eventually.TrueAsync(async () =>
        {
            var dto = (await client.GetFromJsonAsync<ExperimentDto>("/api/experiments/exp-stalled", Web))!;
            var results = (await client.GetFromJsonAsync<ExperimentResultsDto>("/api/experiments/exp-stalled/results", Web))!;
            return results.Mirror!.Paired > 0 && results.Mirror.Paired + results.Mirror.MirrorErrors == dto.Mirror!.Sent;
        }, TimeSpan.FromSeconds(30), "the stalled mirror's copies answered once it runs again");
        using var admin = await Cluster.ClientAsync(Roles.Admin);
        await experiment.DisposeAsync();
        using var _ = await admin.DeleteAsync("/api/models/p-stalled/versions/1");
        await Cluster.StopWorkerAsync(lab);
    }

    [Fact]
    public async Task A_rollout_advances_step_by_step_and_promotes_when_its_guards_hold()
    {
        // A model of its own with two versions, so promoting one changes no other test's model.
        await Cluster.DeployAsync("exp-roll", Mds.ModelGen.TestGraphs.Affine("x", "y", 2, 2f, 1f));
        await Cluster.DeployAsync("exp-roll", Mds.ModelGen.TestGraphs.Affine("x", "y", 2, 1f, 10f));
        await using var _ = await CreateAsync("exp-rollout", """
            name: exp-rollout
            candidates:
              - { name: exp-roll, version: 1, weight: 1 }
              - { name: exp-roll, version: 2, weight: 1 }
            rollout: { candidate: exp-roll@2, steps: [25, 50, 100], interval: 2s, maxErrorRate: 0.2, minRequests: 3 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var dto = await DriveUntilEndedAsync(client, "exp-rollout", TimeSpan.FromSeconds(60));

        Assert.Equal(ExperimentStates.Promoted, dto.State);
        var steps = dto.History.Where(h => h.Kind == "rollout-step").Select(h => h.Message).ToList();
        Assert.Equal(3, steps.Count);
        Assert.Contains("exp-roll@2 25", steps[0], StringComparison.Ordinal);
        Assert.Contains("exp-roll@2 50", steps[1], StringComparison.Ordinal);
        Assert.Contains("exp-roll@2 100", steps[2], StringComparison.Ordinal);
        Assert.Contains("guards held at step 1 of 3", steps[1], StringComparison.Ordinal);
        Assert.Equal("promoted", dto.History[^1].Kind);
        Assert.Contains("version 2 is now the live version of model 'exp-roll'", dto.History[^1].Message, StringComparison.Ordinal);
        Assert.Equal(2, (await client.GetFromJsonAsync<ModelDto>("/api/models/exp-roll", Web))!.LiveVersion);
        var live = await InferAsync(client, "/v2/models/exp-roll/infer");
        Assert.Equal((HttpStatusCode.OK, 11f, (string?)null), live);
    }

    [Fact]
    public async Task A_rollout_rolls_back_when_its_candidate_starts_failing()
    {
        // p-fail takes what p-scale takes, but x = 1 is outside its table: every request fails there.
        await using var _ = await CreateAsync("exp-rollback", """
            name: exp-rollback
            candidates:
              - { name: p-scale, weight: 1 }
              - { name: p-fail, weight: 1 }
            rollout: { candidate: p-fail, steps: [50, 100], interval: 1h, maxErrorRate: 0.1, minRequests: 4 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var dto = await DriveUntilEndedAsync(client, "exp-rollback", TimeSpan.FromSeconds(60));

        Assert.Equal(ExperimentStates.RolledBack, dto.State);
        Assert.Matches(@"^error rate 100\.0 % \(\d+ of \d+ requests\) exceeded the limit of 10\.0 % at step 1 of 2 \(50 %\): p-fail rolled back to 0 %$", dto.Reason);
        Assert.Equal(0, dto.Candidates.Single(c => c.Key == "p-fail").Weight);
        Assert.Equal(ExperimentStates.RolledBack, dto.Rollout!.State);
        Assert.Contains(dto.History, h => h.Kind == "rolled-back" && h.Message.Contains("exceeded the limit of 10.0 %", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Results_give_accuracy_with_its_interval_and_a_verdict_from_analysts_feedback()
    {
        await using var _ = await CreateAsync("exp-results", """
            name: exp-results
            candidates:
              - { name: p-scale, weight: 1 }
              - { name: p-shift, weight: 1 }
            """);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var routes = new Dictionary<string, string>();
        for (int i = 0; i < 60; i++)
        {
            string id = $"exp-results-{i}";
            var (status, _, route) = await InferAsync(client, "/v2/models/exp-results.experiment/infer", (MdsHeaders.RequestId, id));
            Assert.Equal(HttpStatusCode.OK, status);
            routes[id] = route!;
        }

        // p-shift's answers are all right; p-scale's one in five.
        int n = 0;
        foreach (var (id, route) in routes)
        {
            bool shift = route == "exp-results:p-shift";
            using var given = await client.PostAsJsonAsync("/api/feedback",
                new CreateFeedbackRequest(shift ? "p-shift" : "p-scale", null, id, shift || n++ % 5 == 0));
            Assert.True(given.IsSuccessStatusCode, await given.Content.ReadAsStringAsync());
        }

        ExperimentResultsDto? results = null;
        await Eventually.TrueAsync(async () =>
        {
            results = await client.GetFromJsonAsync<ExperimentResultsDto>("/api/experiments/exp-results/results", Web);
            return results!.Candidates.Sum(c => c.Requests) == 60 && results.Candidates.Sum(c => c.Feedback) == 60;
        }, TimeSpan.FromSeconds(20), "the calls and feedback in the results");

        Assert.Equal("p-scale", results!.Baseline);
        var scale = results.Candidates.Single(c => c.Candidate == "p-scale");
        var shiftResults = results.Candidates.Single(c => c.Candidate == "p-shift");
        Assert.Equal(1.0, shiftResults.Accuracy!.Value);
        Assert.InRange(shiftResults.Accuracy.Low, 0.8, 0.999); // Wilson: below 1 even at 100 %
        Assert.Equal(1.0, shiftResults.Accuracy.High, 6);
        Assert.True(scale.Accuracy!.Low < scale.Accuracy.Value && scale.Accuracy.Value < scale.Accuracy.High);
        Assert.InRange(scale.Accuracy.Value, 0.15, 0.25 + 1.0 / scale.Feedback);
        var accuracy = shiftResults.Comparisons.Single(c => c.Metric == "accuracy");
        Assert.True(accuracy.PValue < 0.001, $"p = {accuracy.PValue}");
        Assert.True(accuracy.Low > 0 && accuracy.Difference > accuracy.Low && accuracy.Difference < accuracy.High);
        Assert.StartsWith("candidate p-shift is more accurate: 100.0 % vs ", accuracy.Verdict, StringComparison.Ordinal);
        Assert.EndsWith(", p < 0.001", accuracy.Verdict, StringComparison.Ordinal);
        Assert.Contains(shiftResults.Comparisons, c => c.Metric == "error-rate" && c.Verdict.StartsWith("no significant difference in error rate (0.0 % vs 0.0 %", StringComparison.Ordinal));
        Assert.Empty(scale.Comparisons);

        // Accuracy over time: a new experiment is bucketed by minute; each candidate's cumulative series counts every
        // feedback record once and ends at the table's figure (same calls, same Wilson interval).
        var series = results.Series!;
        Assert.Equal("minute", series.Bucket);
        Assert.Equal("accuracy", series.Metric);
        foreach (var candidate in results.Candidates)
        {
            var points = series.Points.Where(p => p.Candidate == candidate.Candidate).ToList();
            Assert.NotEmpty(points);
            Assert.Equal(points.OrderBy(p => p.Start).Select(p => p.Start), points.Select(p => p.Start));
            Assert.All(points, p => Assert.Equal(p.Start, new DateTimeOffset(p.Start.Year, p.Start.Month, p.Start.Day, p.Start.Hour, p.Start.Minute, 0, TimeSpan.Zero)));
            Assert.Equal(candidate.Feedback, points.Sum(p => p.Feedback));
            Assert.Equal(candidate.Feedback, points[^1].Total);
            Assert.Equal(candidate.Accuracy, points[^1].Accuracy);
            Assert.All(points, p => Assert.Null(p.Mae));
        }

        // p-shift was right every time: its band ends at exactly 100 %, not 0.9999999999999999.
        Assert.All(series.Points.Where(p => p.Candidate == "p-shift"), p => Assert.Equal(1.0, p.Accuracy!.High));
    }

    /// <summary>Sends requests (4 at a time) until the experiment has ended; returns it then.</summary>
    private async Task<ExperimentDto> DriveUntilEndedAsync(HttpClient client, string name, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => InferAsync(client, $"/v2/models/{name}.experiment/infer")));
            var dto = (await client.GetFromJsonAsync<ExperimentDto>($"/api/experiments/{name}", Web))!;
            if (dto.State != ExperimentStates.Active && dto.EndedAt is not null)
            {
                return dto;
            }

            await Task.Delay(100);
        }

        var last = (await client.GetFromJsonAsync<ExperimentDto>($"/api/experiments/{name}", Web))!;
        Assert.Fail($"experiment {name} did not end in {timeout}: {last.State} ({last.Reason}); history: {string.Join(" | ", last.History.Select(h => h.Message))}");
        return last;
    }

    private async Task<Cleanup> CreateAsync(string name, string yaml)
    {
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        using var created = await researcher.PostAsync("/api/experiments", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        await Eventually.TrueAsync(async () => (await client.GetFromJsonAsync<ExperimentDto>($"/api/experiments/{name}", Web))!.State == ExperimentStates.Active,
            TimeSpan.FromSeconds(30), $"experiment {name} active");
        return new Cleanup(Cluster, name);
    }

    private static async Task<(HttpStatusCode Status, float Y, string? Route)> InferAsync(HttpClient client, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await client.SendAsync(request);
        string? route = response.Headers.TryGetValues(MdsHeaders.Route, out var values) ? values.Single() : null;
        if (!response.IsSuccessStatusCode)
        {
            return (response.StatusCode, float.NaN, route);
        }

        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return (response.StatusCode, json["outputs"]![0]!["data"]![0]!.GetValue<float>(), route);
    }

    private static async Task<InferenceRecordSummaryDto> WaitForRecordAsync(HttpClient client, string requestId)
    {
        InferenceRecordSummaryDto? found = null;
        await Eventually.TrueAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={Uri.EscapeDataString(requestId)}", Web);
            found = page!.Records.FirstOrDefault();
            return found is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        return found!;
    }

    /// <summary>Deletes the experiment at the end of a test, so the models' endpoints are as before.</summary>
    private sealed class Cleanup(MdsCluster cluster, string name) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            using var researcher = await cluster.ClientAsync(Roles.Researcher);
            using var _ = await researcher.DeleteAsync($"/api/experiments/{name}");
        }
    }
}
