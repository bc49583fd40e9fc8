using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Pipelines;

/// <summary>
/// Pipelines (issue M2-A) end to end: specs applied through the management API, run through the gateway's REST, gRPC
/// and binary routes against real workers, with the run and step records checked. Every model is arithmetic
/// (<see cref="PipelineFixture"/>), so each answer is checked against the math of the steps that should have run.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class PipelineTests(PipelineFixture fixture) : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fixture.GrpcPort}");

    private MdsCluster Cluster => fixture.Cluster;

    public void Dispose() => _channel.Dispose();

    // x → scale (2x+1) → shift (+10) → neg (-): y = -(2x + 11).
    private const string Chain = "p-chain";
    private const string ChainSpec = """
        name: p-chain
        steps:
          - name: scale
            model: p-scale
          - name: shift
            model: p-shift
            inputs: [scale.outputs.y]
            tensorMap:
              scale.outputs.y: x
          - name: neg
            model: p-neg
            inputs: [shift.outputs.y]
            tensorMap:
              shift.outputs.y: x
        output:
          steps: [neg]
        """;

    private static readonly float[] ChainX = [1f, 2f, 3f, 4f];
    private static readonly float[] ChainY = [-13f, -15f, -17f, -19f];

    /// <summary>The models alone, through the model gateway: what the pipeline tests build on, apart from pipelines.</summary>
    [Fact]
    public async Task The_step_models_answer_their_arithmetic_and_the_slow_and_failing_ones_behave_as_the_tests_assume()
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        async Task<(HttpStatusCode Status, string Body)> Call(string model, string input, long[] shape, float[] x)
        {
            using var response = await client.PostAsync($"/v2/models/{model}/infer", V2Json.Request(input, shape, "FP32", x));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var scale = await Call(PipelineFixture.Scale, "x", [2, 2], ChainX);
        Assert.True(scale.Status == HttpStatusCode.OK, scale.Body);
        Assert.Equal([3f, 5f, 7f, 9f], Floats(V2Json.Output(JsonNode.Parse(scale.Body)!, "y")));

        var classify = await Call(PipelineFixture.Classify, "x", [3, 2], [0f, 3f, 0f, 1f, 3f, 0f]);
        Assert.True(classify.Status == HttpStatusCode.OK, classify.Body);
        var json = JsonNode.Parse(classify.Body)!;
        Assert.Equal("INT64", (string)V2Json.Output(json, "label")["datatype"]!);
        Assert.Equal([1L, 1L, 0L], V2Json.Output(json, "label")["data"]!.AsArray().Select(n => (long)n!));
        float[] p1 = [.. Floats(V2Json.Output(json, "scores")).Where((_, i) => i % 2 == 1)];
        Assert.Equal([0.9526f, 0.7311f, 0.0474f], p1.Select(p => MathF.Round(p, 4)));

        var lookup = await Call(PipelineFixture.Lookup, "x", [1, 1], [6f]);
        Assert.True(lookup.Status == HttpStatusCode.BadRequest, $"{(int)lookup.Status} {lookup.Body}");
        Assert.Contains("out of", lookup.Body, StringComparison.Ordinal);

        var started = DateTime.UtcNow;
        var slow = await Call(PipelineFixture.Slow, "x", [8000, 1], new float[8000]);
        var took = DateTime.UtcNow - started;
        Assert.True(slow.Status == HttpStatusCode.OK, slow.Body);
        Assert.True(took > TimeSpan.FromSeconds(1), $"8000 rows of {PipelineFixture.Slow} took only {took.TotalMilliseconds:0} ms: the timeout tests need it slower");
    }

    [Fact]
    public async Task A_three_step_chain_applies_each_models_arithmetic_in_order()
    {
        await EnsureLiveAsync(ChainSpec, Chain);

        var answer = await InferAsync(Chain, V2Json.Request("x", [2, 2], "FP32", ChainX, id: "chain-1"));

        answer.AssertOk();
        Assert.Equal("chain-1", (string?)answer.Json["id"]);
        var y = V2Json.Output(answer.Json, "y");
        Assert.Equal("FP32", (string)y["datatype"]!);
        Assert.Equal([2L, 2L], y["shape"]!.AsArray().Select(d => (long)d!));
        Assert.Equal(ChainY, Floats(y));
        Assert.Equal(32, answer.RequestId!.Length); // the run id, made by the gateway when the caller sends none
    }

    [Fact]
    public async Task Two_parallel_branches_run_at_the_same_time_and_an_inner_join_waits_for_both()
    {
        const string spec = """
            name: p-join
            steps:
              - name: left
                model: p-slow
              - name: right
                model: p-slow-b
              - name: add
                model: p-sum
                inputs: [left.outputs.y, right.outputs.y]
                tensorMap:
                  left.outputs.y: a
                  right.outputs.y: b
            output:
              steps: [add]
            """;
        await EnsureLiveAsync(spec, "p-join");
        const int rows = 1500; // ≈ 0.6 s per branch here: long enough that running one after the other shows
        float[] x = [.. Enumerable.Range(0, rows).Select(i => (float)(i % 7))];

        var answer = await InferAsync("p-join", V2Json.Request("x", [rows, 1], "FP32", x));

        answer.AssertOk();
        Assert.Equal(x.Select(v => 2 * v), Floats(V2Json.Output(answer.Json, "sum")));
        var run = await RunAsync("p-join", answer.RequestId!);
        var left = Step(run, "left");
        var right = Step(run, "right");
        var add = Step(run, "add");
        Assert.All(new[] { left, right, add }, s => Assert.Equal(PipelineStepStates.Ran, s.State));
        double leftEnd = left.StartedMs!.Value + left.LatencyMs!.Value;
        double rightEnd = right.StartedMs!.Value + right.LatencyMs!.Value;
        Assert.True(left.StartedMs < rightEnd && right.StartedMs < leftEnd,
            $"the branches did not overlap: left {left.StartedMs}+{left.LatencyMs} ms, right {right.StartedMs}+{right.LatencyMs} ms");
        Assert.True(add.StartedMs >= Math.Max(leftEnd, rightEnd) - 1, $"add started at {add.StartedMs} ms, before both branches ended ({leftEnd}, {rightEnd})");
    }

    // classify (argmax of the row) decides: label 1 → approve (2x+1), label 0 → review (x+10).
    private const string WhenSpec = """
        name: p-when
        steps:
          - name: classify
            model: p-classify
          - name: approve
            model: p-scale
            when: classify.outputs.label == 1
          - name: review
            model: p-shift
            when: classify.outputs.label == 0
        output:
          steps: [classify.outputs.label, approve, review]
          stepsJoin: outer
          tensorMap:
            approve.outputs.y: approved
            review.outputs.y: reviewed
        """;

    [Theory]
    [InlineData(0f, 1f, 1L, "approve", "review", "approved", new[] { 1f, 3f })]
    [InlineData(1f, 0f, 0L, "review", "approve", "reviewed", new[] { 11f, 10f })]
    public async Task A_whole_request_condition_runs_the_step_when_true_and_skips_it_when_false(
        float x0, float x1, long label, string ran, string skipped, string output, float[] expected)
    {
        await EnsureLiveAsync(WhenSpec, "p-when");

        var answer = await InferAsync("p-when", V2Json.Request("x", [1, 2], "FP32", new[] { x0, x1 }));

        answer.AssertOk();
        Assert.Equal(label, (long)V2Json.Output(answer.Json, "label")["data"]![0]!);
        Assert.Equal(expected, Floats(V2Json.Output(answer.Json, output)));
        Assert.Equal(2, answer.Json["outputs"]!.AsArray().Count); // the skipped step's output is absent, not empty
        var run = await RunAsync("p-when", answer.RequestId!);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "classify").State);
        Assert.Equal(PipelineStepStates.Ran, Step(run, ran).State);
        var skip = Step(run, skipped);
        Assert.Equal(PipelineStepStates.Skipped, skip.State);
        Assert.False(string.IsNullOrEmpty(skip.Why), "a skipped step says why");
        Assert.Null(skip.RequestId); // no model call, so no inference record
    }

    // The same decision, then one step that takes whichever branch ran: inputsJoinType any.
    private const string AnySpec = """
        name: p-any
        steps:
          - name: classify
            model: p-classify
          - name: approve
            model: p-scale
            when: classify.outputs.label == 1
          - name: review
            model: p-shift
            when: classify.outputs.label == 0
          - name: finish
            model: p-neg
            inputs: [approve.outputs.y, review.outputs.y]
            inputsJoinType: any
            tensorMap:
              approve.outputs.y: x
              review.outputs.y: x
        output:
          steps: [finish]
        """;

    [Theory]
    [InlineData(0f, 1f, "approve", new[] { -1f, -3f })] // -(2x+1)
    [InlineData(1f, 0f, "review", new[] { -11f, -10f })] // -(x+10)
    public async Task A_step_joining_any_runs_on_whichever_branch_arrived(float x0, float x1, string branch, float[] expected)
    {
        await EnsureLiveAsync(AnySpec, "p-any");

        var answer = await InferAsync("p-any", V2Json.Request("x", [1, 2], "FP32", new[] { x0, x1 }));

        answer.AssertOk();
        Assert.Equal(expected, Floats(V2Json.Output(answer.Json, "y")));
        var run = await RunAsync("p-any", answer.RequestId!);
        Assert.Equal(PipelineStepStates.Ran, Step(run, branch).State);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "finish").State);
        Assert.Single(run.Steps, s => s.State == PipelineStepStates.Skipped);
    }

    [Fact]
    public async Task A_step_joining_inner_is_skipped_when_one_of_its_branches_was()
    {
        const string spec = """
            name: p-inner
            steps:
              - name: classify
                model: p-classify
              - name: approve
                model: p-scale
                when: classify.outputs.label == 1
              - name: review
                model: p-shift
                when: classify.outputs.label == 0
              - name: both
                model: p-sum2
                inputs: [approve.outputs.y, review.outputs.y]
                tensorMap:
                  approve.outputs.y: a
                  review.outputs.y: b
            output:
              steps: [classify.outputs.label, both]
              stepsJoin: outer
            """;
        await EnsureLiveAsync(spec, "p-inner");

        var answer = await InferAsync("p-inner", V2Json.Request("x", [1, 2], "FP32", new[] { 0f, 1f }));

        answer.AssertOk();
        Assert.Equal(["label"], answer.Json["outputs"]!.AsArray().Select(o => (string)o!["name"]!));
        var run = await RunAsync("p-inner", answer.RequestId!);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "approve").State);
        Assert.Equal(PipelineStepStates.Skipped, Step(run, "review").State);
        var both = Step(run, "both");
        Assert.Equal(PipelineStepStates.Skipped, both.State);
        Assert.Contains("review", both.Why, StringComparison.Ordinal); // what it waited for in vain
    }

    // Per row: label 1 rows → high (2x+1), label 0 rows → low (x+10); stepsJoin any puts the rows back in order.
    private const string RowsSpec = """
        name: p-rows
        steps:
          - name: classify
            model: p-classify
          - name: high
            model: p-scale
            when: classify.outputs.label == 1
            perRow: true
          - name: low
            model: p-shift
            when: classify.outputs.label == 0
            perRow: true
        output:
          steps: [high, low]
          stepsJoin: any
        """;

    [Fact]
    public async Task A_per_row_condition_runs_each_branch_on_its_rows_and_any_merges_them_in_the_original_order()
    {
        await EnsureLiveAsync(RowsSpec, "p-rows");
        // labels: 1, 0, 1, 0
        float[] x = [0f, 1f, 1f, 0f, 2f, 3f, 5f, 4f];

        var answer = await InferAsync("p-rows", V2Json.Request("x", [4, 2], "FP32", x));

        answer.AssertOk();
        var y = V2Json.Output(answer.Json, "y");
        Assert.Equal([4L, 2L], y["shape"]!.AsArray().Select(d => (long)d!));
        Assert.Equal([1f, 3f, 11f, 10f, 5f, 7f, 15f, 14f], Floats(y));
        var run = await RunAsync("p-rows", answer.RequestId!);
        Assert.Equal([0, 2], Step(run, "high").Rows);
        Assert.Equal([1, 3], Step(run, "low").Rows);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "high").State);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "low").State);
    }

    [Fact]
    public async Task A_per_row_condition_that_selects_no_row_skips_its_step_and_the_other_branch_answers_every_row()
    {
        await EnsureLiveAsync(RowsSpec, "p-rows");
        float[] x = [0f, 1f, 2f, 3f, 4f, 9f]; // every label 1

        var answer = await InferAsync("p-rows", V2Json.Request("x", [3, 2], "FP32", x));

        answer.AssertOk();
        Assert.Equal([1f, 3f, 5f, 7f, 9f, 19f], Floats(V2Json.Output(answer.Json, "y")));
        var run = await RunAsync("p-rows", answer.RequestId!);
        Assert.Equal([0, 1, 2], Step(run, "high").Rows);
        Assert.Equal(PipelineStepStates.Skipped, Step(run, "low").State);
    }

    // scores[:,1] of rows [0,3], [0,1], [3,0] are 0.95, 0.73, 0.05.
    [Theory]
    [InlineData("p-rows-gap", "classify.outputs.scores[:,1] > 0.8", "classify.outputs.scores[:,1] < 0.2")] // row 1 in neither
    [InlineData("p-rows-overlap", "classify.outputs.scores[:,1] > 0.5", "classify.outputs.scores[:,1] < 0.8")] // row 1 in both
    public async Task A_row_that_no_branch_or_two_branches_cover_is_an_error_naming_the_row(string name, string first, string second)
    {
        string spec = $$"""
            name: {{name}}
            steps:
              - name: classify
                model: p-classify
              - name: sure
                model: p-scale
                when: "{{first}}"
                perRow: true
              - name: unsure
                model: p-shift
                when: "{{second}}"
                perRow: true
            output:
              steps: [sure, unsure]
              stepsJoin: any
            """;
        await EnsureLiveAsync(spec, name);

        var answer = await InferAsync(name, V2Json.Request("x", [3, 2], "FP32", new[] { 0f, 3f, 0f, 1f, 3f, 0f }));

        Assert.True((int)answer.Status >= 400, $"expected an error, got {(int)answer.Status} {answer.Body}");
        Assert.Contains("row 1 ", answer.Error, StringComparison.Ordinal); // the row at fault
        Assert.DoesNotMatch(@"rows? [02]\b", answer.Error); // rows 0 and 2 have exactly one branch each
    }

    // x → prep (x+1) → lookup ([10,20,30][x]); an x of 5 makes lookup's Gather fail in ONNX Runtime.
    private const string FailSpec = """
        name: p-fail
        steps:
          - name: prep
            model: p-inc
          - name: lookup
            model: p-lookup
            inputs: [prep.outputs.y]
            tensorMap:
              prep.outputs.y: x
        output:
          steps: [lookup]
        """;

    [Fact]
    public async Task A_step_failing_mid_run_fails_the_run_with_the_step_and_its_model_named()
    {
        await EnsureLiveAsync(FailSpec, "p-fail");
        var ok = await InferAsync("p-fail", V2Json.Request("x", [2, 1], "FP32", new[] { 0f, 1f }));
        ok.AssertOk();
        Assert.Equal([20f, 30f], Floats(V2Json.Output(ok.Json, "y")));

        var answer = await InferAsync("p-fail", V2Json.Request("x", [1, 1], "FP32", new[] { 5f }));

        Assert.True((int)answer.Status is >= 400 and < 500, $"the caller's value broke the step: expected 4xx, got {(int)answer.Status} {answer.Body}");
        Assert.StartsWith("step 'lookup' (model p-lookup v1)", answer.Error, StringComparison.Ordinal);
        Assert.Contains("out of", answer.Error, StringComparison.Ordinal); // ONNX Runtime's own words: indices element out of data bounds
        var run = await RunAsync("p-fail", answer.RequestId!);
        Assert.Equal((int)answer.Status, run.Status);
        Assert.Equal(PipelineStepStates.Ran, Step(run, "prep").State);
        var lookup = Step(run, "lookup");
        Assert.Equal(PipelineStepStates.Failed, lookup.State);
        Assert.False(string.IsNullOrEmpty(lookup.Why));
    }

    [Theory]
    [InlineData("p-step-timeout", "", "    timeoutMs: 300")]
    [InlineData("p-run-timeout", "timeoutMs: 300", "")]
    public async Task A_step_or_a_run_past_its_time_limit_is_504_naming_what_timed_out(string name, string pipelineLimit, string stepLimit)
    {
        string spec = $"""
            name: {name}
            {pipelineLimit}
            steps:
              - name: crawl
                model: p-slow
            {stepLimit}
            """;
        await EnsureLiveAsync(spec, name);
        var fast = await InferAsync(name, V2Json.Request("x", [1, 1], "FP32", new[] { 3f }));
        fast.AssertOk();
        Assert.Equal([3f], Floats(V2Json.Output(fast.Json, "y")));

        const int rows = 8000; // ≈ 3 s here, 10× the limit
        var started = DateTime.UtcNow;
        var answer = await InferAsync(name, V2Json.Request("x", [rows, 1], "FP32", new float[rows]));

        Assert.True(answer.Status == HttpStatusCode.GatewayTimeout, $"expected 504, got {(int)answer.Status} {answer.Body}");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), $"the 504 came after {(DateTime.UtcNow - started).TotalMilliseconds} ms, not at the limit");
        Assert.Contains(stepLimit.Length > 0 ? "step 'crawl'" : name, answer.Error, StringComparison.Ordinal);
        var run = await RunAsync(name, answer.RequestId!);
        Assert.Equal(504, run.Status);
        Assert.NotEqual(PipelineStepStates.Ran, Step(run, "crawl").State);
    }

    [Fact]
    public async Task A_pipeline_over_a_missing_model_applies_as_pending_with_the_reason_and_answers_503()
    {
        const string spec = """
            name: p-missing
            steps:
              - name: fraud
                model: p-no-such-model
            """;
        var applied = await ApplyOkAsync(spec);
        Assert.Equal(PipelineStates.Pending, applied.State);

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var pipeline = (await client.GetFromJsonAsync<PipelineDto>("/api/pipelines/p-missing"))!;
        Assert.Equal(PipelineStates.Pending, pipeline.State);
        Assert.Null(pipeline.LiveVersion);
        Assert.Contains("model 'p-no-such-model' does not exist", pipeline.StateReason, StringComparison.Ordinal);
        var step = Assert.Single(pipeline.Steps);
        Assert.False(step.Ready);
        Assert.Equal("model 'p-no-such-model' does not exist", step.Waiting);

        var answer = await InferAsync("p-missing", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
        Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)answer.Status} {answer.Body}");
        Assert.Contains("p-no-such-model", answer.Error, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/v2/pipelines/p-missing/ready")).StatusCode);
    }

    [Fact]
    public async Task A_pipeline_over_a_model_without_a_ready_replica_waits_with_the_reason_and_answers_503()
    {
        var upload = await Cluster.UploadAsync("p-gpu-only", TestGraphs.Affine("x", "y", 2, 1f, 0f), new Dictionary<string, string> { ["requirements"] = "onnx,gpu" });
        Assert.True(upload.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, await upload.Content.ReadAsStringAsync());
        const string spec = """
            name: p-no-replica
            steps:
              - name: fraud
                model: p-gpu-only
            """;
        var applied = await ApplyOkAsync(spec);
        Assert.Equal(PipelineStates.Pending, applied.State);

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var pipeline = (await client.GetFromJsonAsync<PipelineDto>("/api/pipelines/p-no-replica"))!;
        Assert.Equal(PipelineStates.Pending, pipeline.State);
        var step = Assert.Single(pipeline.Steps);
        Assert.False(step.Ready);
        Assert.StartsWith("model 'p-gpu-only' has no Ready replica", step.Waiting, StringComparison.Ordinal);
        Assert.Contains("p-gpu-only", pipeline.StateReason, StringComparison.Ordinal);

        var answer = await InferAsync("p-no-replica", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));
        Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)answer.Status} {answer.Body}");
        Assert.Contains("p-gpu-only", answer.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_live_pipeline_whose_model_goes_away_answers_503_naming_the_step()
    {
        await Cluster.EnsureReadyAsync("p-doomed", TestGraphs.Affine("x", "y", 2, 1f, 1f));
        const string spec = """
            name: p-orphan
            steps:
              - name: first
                model: p-scale
              - name: doomed
                model: p-doomed
                inputs: [first.outputs.y]
                tensorMap:
                  first.outputs.y: x
            """;
        await EnsureLiveAsync(spec, "p-orphan");
        (await InferAsync("p-orphan", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }))).AssertOk();
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.NoContent, (await researcher.DeleteAsync("/api/models/p-doomed/versions/1")).StatusCode);

        var answer = await InferAsync("p-orphan", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));

        Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)answer.Status} {answer.Body}");
        Assert.Contains("p-doomed", answer.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","data":[1,2,3,4]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"wrong","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}]}""", "x")]
    [InlineData("""{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}""", "x")]
    [InlineData("""{"inputs": [""", "JSON")]
    public async Task A_bad_request_to_a_pipeline_is_400_naming_the_problem(string body, string mentioned)
    {
        await EnsureLiveAsync(ChainSpec, Chain);

        var answer = await InferAsync(Chain, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(answer.Status == HttpStatusCode.BadRequest, $"expected 400, got {(int)answer.Status} {answer.Body}");
        Assert.Contains(mentioned, answer.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_step_can_pin_a_model_version_and_be_gated_by_a_trigger()
    {
        await Cluster.EnsureReadyAsync("p-versions", TestGraphs.Affine("x", "y", 2, 1f, 100f));
        using (var analyst = await Cluster.ClientAsync(Roles.Analyst))
        {
            if ((await analyst.GetAsync("/api/models/p-versions/versions/2")).StatusCode == HttpStatusCode.NotFound)
            {
                await Cluster.DeployAsync("p-versions", TestGraphs.Affine("x", "y", 2, 1f, 200f));
            }
        }

        const string spec = """
            name: p-pinned
            steps:
              - name: classify
                model: p-classify
              - name: old
                model: p-versions:1
              - name: gated
                model: p-versions
                triggers: [classify.outputs.label]
                when: classify.outputs.label == 1
            output:
              steps: [old, gated]
              stepsJoin: outer
              tensorMap:
                old.outputs.y: old
                gated.outputs.y: new
            """;
        await EnsureLiveAsync(spec, "p-pinned");

        var answer = await InferAsync("p-pinned", V2Json.Request("x", [1, 2], "FP32", new[] { 0f, 1f }));
        answer.AssertOk();
        Assert.Equal([100f, 101f], Floats(V2Json.Output(answer.Json, "old")));
        Assert.Equal([200f, 201f], Floats(V2Json.Output(answer.Json, "new"))); // the newest version answers the bare name
        var run = await RunAsync("p-pinned", answer.RequestId!);
        Assert.Equal((1, 2), (Step(run, "old").ModelVersion, Step(run, "gated").ModelVersion));

        var gatedOff = await InferAsync("p-pinned", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 0f }));
        gatedOff.AssertOk();
        Assert.Equal(["old"], gatedOff.Json["outputs"]!.AsArray().Select(o => (string)o!["name"]!));
    }

    [Fact]
    public async Task The_same_model_can_serve_two_steps()
    {
        const string spec = """
            name: p-twice
            steps:
              - name: first
                model: p-scale
              - name: second
                model: p-scale
                inputs: [first.outputs.y]
                tensorMap:
                  first.outputs.y: x
            """;
        await EnsureLiveAsync(spec, "p-twice");

        var answer = await InferAsync("p-twice", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, -2f }));

        answer.AssertOk();
        Assert.Equal([7f, -5f], Floats(V2Json.Output(answer.Json, "y"))); // 2(2x+1)+1 = 4x+3
        var run = await RunAsync("p-twice", answer.RequestId!);
        Assert.Equal((PipelineFixture.Scale, PipelineStepStates.Ran), (Step(run, "first").Model, Step(run, "first").State));
        Assert.Equal((PipelineFixture.Scale, PipelineStepStates.Ran), (Step(run, "second").Model, Step(run, "second").State));
    }

    [Fact]
    public async Task Version_2_goes_live_once_its_new_model_is_ready_and_no_request_fails_meanwhile()
    {
        const string v1 = """
            name: p-versioned
            steps:
              - name: only
                model: p-scale
            """;
        const string v2 = """
            name: p-versioned
            steps:
              - name: only
                model: p-triple
            """;
        await EnsureLiveAsync(v1, "p-versioned");
        using var client = await Cluster.ClientAsync(Roles.Analyst);

        // one caller, one request after another, for the whole change
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var answers = new System.Collections.Concurrent.ConcurrentQueue<float>();
        float last = 0;
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.PostAsync("/v2/pipelines/p-versioned/infer", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));
                string body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {(int)response.StatusCode} {body}");
                    continue;
                }

                float y = Floats(V2Json.Output(JsonNode.Parse(body)!, "y"))[1];
                answers.Enqueue(y);
                Volatile.Write(ref last, y);
            }
        });

        await Task.Delay(500);
        // The new model is uploaded and v2 applied at once: the model is still being placed and loaded, so v2 waits
        // (its step has no Ready replica) while v1 keeps serving.
        var upload = await Cluster.UploadAsync("p-triple", TestGraphs.Affine("x", "y", 2, 3f, 0f));
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var applied = await ApplyOkAsync(v2);
        Assert.True(applied.Created);
        Assert.Equal(2, applied.Version);
        if (applied.State == PipelineStates.Pending)
        {
            Assert.Contains("p-triple", applied.StateReason, StringComparison.Ordinal);
            var meanwhile = (await client.GetFromJsonAsync<PipelineDto>("/api/pipelines/p-versioned"))!;
            var model = (await client.GetFromJsonAsync<ModelVersionDto>("/api/models/p-triple/versions/1"))!; // after: Ready then if v2 was live
            Assert.True(meanwhile.LiveVersion == 1 || model.State == VersionStates.Ready, $"v2 went live before p-triple was Ready ({model.State})");
            Assert.Equal(2, meanwhile.LatestVersion);
        }
        else
        {
            Assert.Equal(VersionStates.Ready, (await client.GetFromJsonAsync<ModelVersionDto>("/api/models/p-triple/versions/1"))!.State); // it loaded that fast
        }

        await Cluster.WaitForVersionAsync("p-triple", 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        var live = await WaitLiveAsync("p-versioned", 2);
        Assert.Equal(PipelineStates.Live, live.State);
        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref last) == 6f), TimeSpan.FromSeconds(10), "an answer from version 2");
        await Task.Delay(300);
        await stop.CancelAsync();
        await load;

        Assert.True(failures.Count == 0, $"{failures.Count} of {failures.Count + answers.Count} requests failed:\n{string.Join('\n', failures.Take(20))}");
        Assert.All(answers, y => Assert.Contains(y, new[] { 5f, 6f })); // x = [1, 2]: v1 answers 2·2+1 = 5 in column 1, v2 3·2 = 6
        float[] sequence = [.. answers];
        Assert.True(sequence.Length >= 10, $"only {sequence.Length} requests were made during the change");
        Assert.Contains(5f, sequence); // version 1 answered while version 2 waited
        int firstV2 = Array.IndexOf(sequence, 6f);
        Assert.True(sequence[firstV2..].All(y => y == 6f), "once version 2 answered, version 1 never did again");
        var versions = (await client.GetFromJsonAsync<PipelineDto>("/api/pipelines/p-versioned"))!.Versions;
        Assert.Equal([2, 1], versions.Select(v => v.Version));
        Assert.Equal([PipelineStates.Live, PipelineStates.Superseded], versions.Select(v => v.State));
    }

    [Fact]
    public async Task A_pipeline_answers_over_grpc_as_name_dot_pipeline_with_typed_and_raw_contents()
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        var gateway = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        var headers = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) }, { "x-request-id", "grpc-run-" + Guid.NewGuid().ToString("N") } };

        var typed = GrpcRequest(raw: false);
        var call = gateway.ModelInferAsync(typed, headers);
        var response = await call.ResponseAsync;
        Assert.Equal(headers.GetValue("x-request-id"), (await call.ResponseHeadersAsync).GetValue("x-request-id"));
        Assert.Equal("grpc-chain", response.Id);
        var y = Assert.Single(response.Outputs);
        Assert.Equal(("y", "FP32"), (y.Name, y.Datatype));
        Assert.Equal([2L, 2L], y.Shape);
        float[] values = response.RawOutputContents.Count > 0 ? MemoryMarshal.Cast<byte, float>(response.RawOutputContents[0].Span).ToArray() : [.. y.Contents.Fp32Contents];
        Assert.Equal(ChainY, values);

        var raw = await gateway.ModelInferAsync(GrpcRequest(raw: true), new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } });
        Assert.Equal(ChainY, MemoryMarshal.Cast<byte, float>(Assert.Single(raw.RawOutputContents).Span).ToArray());

        var metadata = await gateway.ModelMetadataAsync(new ModelMetadataRequest { Name = Chain + ".pipeline" }, headers);
        Assert.Equal(("x", "FP32", "-1,2"), (metadata.Inputs[0].Name, metadata.Inputs[0].Datatype, string.Join(',', metadata.Inputs[0].Shape)));
        Assert.Equal("y", Assert.Single(metadata.Outputs).Name);
        Assert.True((await gateway.ModelReadyAsync(new ModelReadyRequest { Name = Chain + ".pipeline" }, headers)).Ready);

        var unknown = GrpcRequest(raw: false);
        unknown.ModelName = "p-no-such-pipeline.pipeline";
        var auth = new Metadata { { "authorization", "Bearer " + await Cluster.TokenAsync(Roles.Analyst) } };
        var error = await Assert.ThrowsAsync<RpcException>(() => gateway.ModelInferAsync(unknown, auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => gateway.ModelInferAsync(GrpcRequest(raw: false)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task A_pipeline_takes_and_gives_binary_tensor_data()
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var request = new InferenceRequest
        {
            Id = "binary-chain",
            Parameters = new Dictionary<string, object?> { [BinaryTensorData.AllOutputsParameter] = true },
            Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [2, 2], ChainX)],
        };

        foreach (string path in new[] { $"/v2/pipelines/{Chain}/infer", $"/v2/models/{Chain}.pipeline/infer" })
        {
            var body = new ArrayBufferWriter<byte>();
            int headerLength = BinaryTensorData.WriteRequest(body, request, [true]);
            using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body.WrittenSpan.ToArray()) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(BinaryTensorData.ContentType);
            message.Headers.Add(BinaryTensorData.HeaderLengthHeader, headerLength.ToString(CultureInfo.InvariantCulture));

            using var response = await client.SendAsync(message);

            byte[] bytes = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
            int responseHeaderLength = int.Parse(Assert.Single(response.Headers.GetValues(BinaryTensorData.HeaderLengthHeader)), CultureInfo.InvariantCulture);
            var decoded = BinaryTensorData.DecodeResponse(bytes, responseHeaderLength);
            Assert.Equal("binary-chain", decoded.Id);
            var y = Assert.Single(decoded.Outputs);
            Assert.Equal([2L, 2L], y.Shape);
            Assert.Equal(ChainY, (float[])y.Data);
        }
    }

    [Fact]
    public async Task A_run_is_recorded_with_its_steps_and_each_step_call_is_an_inference_record_with_the_run_id_and_step_name()
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        string requestId = "chain-run-" + Guid.NewGuid().ToString("N");
        var answer = await InferAsync(Chain, V2Json.Request("x", [2, 2], "FP32", ChainX), requestId);
        answer.AssertOk();
        Assert.Equal(requestId, answer.RequestId); // the caller's id is the run's id

        var run = await RunAsync(Chain, requestId);
        Assert.Equal((Chain, 1, requestId, 200), (run.Pipeline, run.Version, run.RequestId, run.Status));
        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), run.Caller);
        Assert.Equal(["scale", "shift", "neg"], run.Steps.Select(s => s.Name));
        foreach (var step in run.Steps)
        {
            Assert.Equal(PipelineStepStates.Ran, step.State);
            Assert.Equal($"{requestId}.{step.Name}", step.RequestId);
            Assert.True(step.LatencyMs > 0, $"{step.Name}: latency {step.LatencyMs}");
            Assert.NotNull(step.Inputs);
            Assert.NotNull(step.Outputs);
        }

        var neg = JsonNode.Parse(Step(run, "neg").Outputs!)!;
        Assert.Equal(ChainY, Floats((neg is JsonArray ? neg : neg["outputs"]!).AsArray().Single(o => (string)o!["name"]! == "y")!));
        if (run.Response is not null)
        {
            Assert.Equal(ChainY, Floats(V2Json.Output(JsonNode.Parse(run.Response)!, "y")));
        }

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var listed = (await client.GetFromJsonAsync<List<PipelineRunDto>>($"/api/pipelines/{Chain}/runs?requestId={requestId}"))!;
        Assert.Equal(requestId, Assert.Single(listed).RequestId);
        Assert.Single((await client.GetFromJsonAsync<List<PipelineRunDto>>($"/api/pipelines/{Chain}/runs?limit=1"))!);
        Assert.All((await client.GetFromJsonAsync<List<PipelineRunDto>>($"/api/pipelines/{Chain}/runs?status=200"))!, r => Assert.Equal(200, r.Status));

        foreach (var (step, model, output) in new[] { ("scale", PipelineFixture.Scale, new[] { 3f, 5f, 7f, 9f }), ("shift", PipelineFixture.Shift, [13f, 15f, 17f, 19f]), ("neg", PipelineFixture.Negate, ChainY) })
        {
            InferenceRecordSummaryDto? record = null;
            await Eventually.TrueAsync(async () =>
            {
                record = (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}.{step}"))!.Records.SingleOrDefault();
                return record is not null;
            }, TimeSpan.FromSeconds(30), $"the inference record of {requestId}.{step}");
            Assert.Equal((model, 1, 200), (record!.ModelName, record.Version, record.Status));
            var full = (await client.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{record.Id}"))!;
            var y = full.Response!.Value.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "y");
            Assert.Equal(output, y.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
        }
    }

    [Fact]
    public async Task Every_step_call_of_a_run_is_recorded_with_the_callers_trace_id()
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom();
        string requestId = "chain-trace-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/pipelines/{Chain}/infer") { Content = V2Json.Request("x", [2, 2], "FP32", ChainX) };
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");
        request.Headers.Add(MdsHeaders.RequestId, requestId);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        foreach (string step in new[] { "scale", "shift", "neg" })
        {
            InferenceRecordSummaryDto? record = null;
            await Eventually.TrueAsync(async () =>
            {
                record = (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}.{step}"))!.Records.SingleOrDefault();
                return record is not null;
            }, TimeSpan.FromSeconds(30), $"the inference record of {requestId}.{step}");
            Assert.Equal(traceId.ToHexString(), record!.TraceId);
        }
    }

    [Fact]
    public async Task Pipeline_metadata_and_readiness_are_derived_from_the_steps_and_an_unknown_pipeline_is_404()
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        using var client = await Cluster.ClientAsync(Roles.Analyst);

        var metadata = (await client.GetFromJsonAsync<ModelMetadata>($"/v2/pipelines/{Chain}"))!;
        var input = Assert.Single(metadata.Inputs);
        Assert.Equal(("x", "FP32", "-1,2"), (input.Name, input.Datatype, string.Join(',', input.Shape)));
        var output = Assert.Single(metadata.Outputs);
        Assert.Equal(("y", "FP32", "-1,2"), (output.Name, output.Datatype, string.Join(',', output.Shape)));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v2/pipelines/{Chain}/ready")).StatusCode);
        var alias = (await client.GetFromJsonAsync<ModelMetadata>($"/v2/models/{Chain}.pipeline"))!;
        Assert.Equal(metadata.Inputs.Select(t => (t.Name, t.Datatype)), alias.Inputs.Select(t => (t.Name, t.Datatype)));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v2/models/{Chain}.pipeline/ready")).StatusCode);

        var pipeline = (await client.GetFromJsonAsync<PipelineDto>($"/api/pipelines/{Chain}"))!;
        Assert.Equal((PipelineStates.Live, 1), (pipeline.State, pipeline.LiveVersion));
        Assert.All(pipeline.Steps, s => Assert.True(s.Ready && s.Waiting is null, $"{s.Name}: {s.Waiting}"));
        Assert.Equal(["x"], pipeline.Inputs.Select(t => t.Name));
        Assert.Equal(["y"], pipeline.Outputs.Select(t => t.Name));
        var version = (await client.GetFromJsonAsync<PipelineVersionDto>($"/api/pipelines/{Chain}/versions/1"))!;
        Assert.Equal(ChainSpec, version.SpecText.TrimEnd());
        Assert.Contains(version.Graph.Nodes, n => n.Id == "shift" && n.Model == PipelineFixture.Shift);
        Assert.Contains((await client.GetFromJsonAsync<List<PipelineDto>>("/api/pipelines"))!, p => p.Name == Chain);

        foreach (string path in new[] { "/v2/pipelines/p-no-such-pipeline/infer", "/v2/models/p-no-such-pipeline.pipeline/infer" })
        {
            var response = await client.PostAsync(path, V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("p-no-such-pipeline", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/pipelines/p-no-such-pipeline")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v2/pipelines/p-no-such-pipeline")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/pipelines/{Chain}/versions/99")).StatusCode);
    }

    public static TheoryData<string, string, string, int> Rules => new()
    {
        // method, path, caller, expected status
        { "GET", "/api/pipelines", Anonymous, 401 },
        { "GET", "/api/pipelines", Roles.Analyst, 200 },
        { "GET", $"/api/pipelines/{Chain}", Anonymous, 401 },
        { "GET", $"/api/pipelines/{Chain}", Roles.Analyst, 200 },
        { "GET", $"/api/pipelines/{Chain}/versions/1", Anonymous, 401 },
        { "GET", $"/api/pipelines/{Chain}/versions/1", Roles.Analyst, 200 },
        { "GET", $"/api/pipelines/{Chain}/runs", Anonymous, 401 },
        { "GET", $"/api/pipelines/{Chain}/runs", Roles.Analyst, 200 },
        { "GET", $"/api/pipelines/{Chain}/runs/{RolesRun}", Anonymous, 401 },
        { "GET", $"/api/pipelines/{Chain}/runs/{RolesRun}", Roles.Analyst, 200 },
        { "GET", $"/v2/pipelines/{Chain}", Anonymous, 401 },
        { "GET", $"/v2/pipelines/{Chain}", Roles.Analyst, 200 },
        { "GET", $"/v2/pipelines/{Chain}/ready", Anonymous, 401 },
        { "GET", $"/v2/pipelines/{Chain}/ready", Roles.Analyst, 200 },
        { "POST", $"/v2/pipelines/{Chain}/infer", Anonymous, 401 },
        { "POST", $"/v2/pipelines/{Chain}/infer", Roles.Analyst, 200 },
        { "POST", $"/v2/models/{Chain}.pipeline/infer", Anonymous, 401 },
        { "POST", $"/v2/models/{Chain}.pipeline/infer", Roles.Analyst, 200 },
        { "POST", "/api/pipelines", Anonymous, 401 },
        { "POST", "/api/pipelines", Roles.Analyst, 403 },
        { "POST", "/api/pipelines", Roles.Researcher, 200 }, // the same spec again
        { "POST", "/api/pipelines?dryRun=true", Roles.Analyst, 403 },
        { "DELETE", $"/api/pipelines/{Chain}", Anonymous, 401 },
        { "DELETE", $"/api/pipelines/{Chain}", Roles.Analyst, 403 },
    };

    private const string Anonymous = "anonymous";
    private const string RolesRun = "roles-run-0001";

    [Theory]
    [MemberData(nameof(Rules))]
    public async Task Every_pipeline_endpoint_checks_the_callers_role(string method, string path, string caller, int expected)
    {
        await EnsureLiveAsync(ChainSpec, Chain);
        using var client = await Cluster.ClientAsync(caller == Anonymous ? null : caller);
        if (path.Contains(RolesRun, StringComparison.Ordinal))
        {
            await EnsureRunAsync(RolesRun);
        }

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (path.StartsWith("/api/pipelines", StringComparison.Ordinal) && method == "POST")
        {
            request.Content = new StringContent(ChainSpec, Encoding.UTF8, "application/yaml");
        }
        else if (method == "POST")
        {
            request.Content = V2Json.Request("x", [2, 2], "FP32", ChainX);
        }

        using var response = await client.SendAsync(request);

        Assert.True((int)response.StatusCode == expected, $"{method} {path} as {caller}: expected {expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_researcher_deletes_a_pipeline_and_it_stops_answering()
    {
        const string spec = """
            name: p-short-lived
            steps:
              - name: only
                model: p-scale
            """;
        await EnsureLiveAsync(spec, "p-short-lived");
        using var researcher = await Cluster.ClientAsync(Roles.Researcher);

        Assert.Equal(HttpStatusCode.NoContent, (await researcher.DeleteAsync("/api/pipelines/p-short-lived")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await researcher.GetAsync("/api/pipelines/p-short-lived")).StatusCode);
        var answer = await InferAsync("p-short-lived", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));
        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await researcher.DeleteAsync("/api/pipelines/p-short-lived")).StatusCode);
    }

    public static TheoryData<string, string, string, int, string[]> InvalidSpecs => new()
    {
        {
            "an unknown step in a reference",
            """
            name: p-bad-reference
            steps:
              - name: scale
                model: p-scale
              - name: shift
                model: p-shift
                inputs: [nosuch.outputs.y]
            """,
            "steps[1].inputs[0]", 7, ["nosuch"]
        },
        {
            "an unknown step in the output",
            """
            name: p-bad-output
            steps:
              - name: scale
                model: p-scale
            output:
              steps: [scale, ghost]
            """,
            "output.steps[1]", 6, ["ghost"]
        },
        {
            "an INT64 label into an FP32 input",
            """
            name: p-bad-type
            steps:
              - name: classify
                model: p-classify
              - name: scale
                model: p-scale
                inputs: [classify.outputs.label]
                tensorMap:
                  classify.outputs.label: x
            """,
            "steps[1]", 0, ["INT64", "FP32"]
        },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task An_invalid_spec_is_400_with_the_problems_path_and_line(string what, string spec, string path, int line, string[] mentioned)
    {
        foreach (bool dryRun in new[] { true, false })
        {
            var response = await ApplyAsync(spec, dryRun: dryRun);
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what} (dryRun {dryRun}): {(int)response.StatusCode} {text}");
            var problem = JsonNode.Parse(text)!;
            Assert.False(string.IsNullOrEmpty((string?)problem["error"]), text);
            Assert.False(string.IsNullOrEmpty((string?)problem["detail"]), text);
            var problems = problem["problems"]!.Deserialize<List<PipelineSpecProblemDto>>(Web)!;
            var found = problems.FirstOrDefault(p => p.Path.StartsWith(path, StringComparison.Ordinal));
            Assert.True(found is not null, $"{what}: no problem at {path} in {text}");
            foreach (string word in mentioned)
            {
                Assert.Contains(word, found!.Message, StringComparison.Ordinal);
            }

            if (line > 0 && found!.Line is int at)
            {
                Assert.Equal(line, at); // the line is given "when known"; when given, it must be the reference's
            }
        }

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        string name = spec.Split('\n')[0]["name: ".Length..].Trim();
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/pipelines/{name}")).StatusCode); // nothing was made
    }

    [Fact]
    public async Task A_dry_run_validates_a_good_spec_without_making_it()
    {
        const string spec = """
            name: p-dry
            steps:
              - name: only
                model: p-scale
            """;
        var response = await ApplyAsync(spec, dryRun: true);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        using var client = await Cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/pipelines/p-dry")).StatusCode);
    }

    [Fact]
    public async Task Applying_the_same_spec_again_makes_no_new_version_and_a_changed_one_does()
    {
        // Seldon's resource form, then the same pipeline as flat JSON: one spec, so one version.
        const string resource = """
            apiVersion: mlops.seldon.io/v1alpha1
            kind: Pipeline
            metadata:
              name: p-same
            spec:
              steps:
                - name: only
                  model: p-scale
              output:
                steps: [only]
            """;
        var first = await ApplyAsync(resource);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var created = (await first.Content.ReadFromJsonAsync<PipelineApplyResult>())!;
        Assert.Equal(("p-same", 1, true), (created.Name, created.Version, created.Created));

        var again = await ApplyAsync(resource);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var same = (await again.Content.ReadFromJsonAsync<PipelineApplyResult>())!;
        Assert.Equal(("p-same", 1, false), (same.Name, same.Version, same.Created));

        const string json = """{"name":"p-same","steps":[{"name":"only","model":"p-scale"}],"output":{"steps":["only"]}}""";
        var asJson = await ApplyAsync(json, mediaType: "application/json");
        Assert.Equal(HttpStatusCode.OK, asJson.StatusCode);
        Assert.Equal((1, false), ((await asJson.Content.ReadFromJsonAsync<PipelineApplyResult>())!.Version, false));

        var changed = await ApplyAsync(resource.Replace("model: p-scale", "model: p-shift", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Created, changed.StatusCode);
        Assert.Equal((2, true), ((await changed.Content.ReadFromJsonAsync<PipelineApplyResult>())!.Version, true));
        await WaitLiveAsync("p-same", 2);
        var answer = await InferAsync("p-same", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 2f }));
        answer.AssertOk();
        Assert.Equal([11f, 12f], Floats(V2Json.Output(answer.Json, "y")));
    }

    // ---- helpers ----

    private async Task<HttpResponseMessage> ApplyAsync(string spec, string? role = Roles.Researcher, bool dryRun = false, string mediaType = "application/yaml")
    {
        using var client = await Cluster.ClientAsync(role);
        return await client.PostAsync("/api/pipelines" + (dryRun ? "?dryRun=true" : ""), new StringContent(spec, Encoding.UTF8, mediaType));
    }

    private async Task<PipelineApplyResult> ApplyOkAsync(string spec)
    {
        using var response = await ApplyAsync(spec);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"apply: {(int)response.StatusCode} {text}\n{spec}");
        return JsonSerializer.Deserialize<PipelineApplyResult>(text, Web)!;
    }

    /// <summary>Applies <paramref name="spec"/> (a no-op when an earlier test did) and waits until its version is live.</summary>
    private async Task EnsureLiveAsync(string spec, string name)
    {
        var applied = await ApplyOkAsync(spec);
        Assert.Equal(name, applied.Name);
        await WaitLiveAsync(name, applied.Version);
    }

    private async Task<PipelineDto> WaitLiveAsync(string name, int version)
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        PipelineDto? last = null;
        await Eventually.TrueAsync(async () =>
        {
            last = await client.GetFromJsonAsync<PipelineDto>($"/api/pipelines/{name}");
            return last!.State == PipelineStates.Live && last.LiveVersion == version;
        }, TimeSpan.FromSeconds(60), $"pipeline {name} v{version} to go live (last: {last?.State} v{last?.LiveVersion}: {last?.StateReason})");
        return last!;
    }

    private async Task EnsureRunAsync(string requestId)
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync($"/api/pipelines/{Chain}/runs/{requestId}")).StatusCode == HttpStatusCode.NotFound)
        {
            (await InferAsync(Chain, V2Json.Request("x", [2, 2], "FP32", ChainX), requestId)).AssertOk();
            await RunAsync(Chain, requestId);
        }
    }

    private async Task<Answer> InferAsync(string pipeline, HttpContent content, string? requestId = null, string? role = Roles.Analyst)
    {
        using var client = await Cluster.ClientAsync(role);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/pipelines/{pipeline}/infer") { Content = content };
        if (requestId is not null)
        {
            request.Headers.Add(MdsHeaders.RequestId, requestId);
        }

        using var response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        string? id = response.Headers.TryGetValues(MdsHeaders.RequestId, out var values) ? values.Single() : null;
        return new Answer(response.StatusCode, body, id);
    }

    /// <summary>The run record of <paramref name="requestId"/>, once it is written.</summary>
    private async Task<PipelineRunDto> RunAsync(string pipeline, string requestId)
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        PipelineRunDto? run = null;
        await Eventually.TrueAsync(async () =>
        {
            using var response = await client.GetAsync($"/api/pipelines/{pipeline}/runs/{requestId}");
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }

            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"run {requestId}: {(int)response.StatusCode} {text}");
            run = JsonSerializer.Deserialize<PipelineRunDto>(text, Web);
            return true;
        }, TimeSpan.FromSeconds(30), $"the run record of {pipeline} {requestId}");
        return run!;
    }

    private static PipelineRunStepDto Step(PipelineRunDto run, string name) =>
        run.Steps.SingleOrDefault(s => s.Name == name) ?? throw new Xunit.Sdk.XunitException($"run {run.RequestId} has no step '{name}': {string.Join(", ", run.Steps.Select(s => s.Name))}");

    private static float[] Floats(JsonNode tensor) => [.. tensor["data"]!.AsArray().Select(n => (float)n!)];

    private static ModelInferRequest GrpcRequest(bool raw)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 2, 2 } };
        var request = new ModelInferRequest { ModelName = Chain + ".pipeline", Id = "grpc-chain", Inputs = { input } };
        if (raw)
        {
            request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(ChainX.AsSpan())));
        }
        else
        {
            input.Contents = new InferTensorContents { Fp32Contents = { ChainX } };
        }

        return request;
    }

    private sealed record Answer(HttpStatusCode Status, string Body, string? RequestId)
    {
        public JsonNode Json => JsonNode.Parse(Body)!;

        public string Error => (string?)JsonNode.Parse(Body)?["error"] ?? throw new Xunit.Sdk.XunitException($"no error in {(int)Status} {Body}");

        public void AssertOk() => Assert.True(Status == HttpStatusCode.OK, $"expected 200, got {(int)Status} {Body}");
    }
}
