using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using static Mds.UnitTests.Pipelines.Fake;

namespace Mds.UnitTests.Pipelines;

/// <summary>
/// The DAG executor against fake models that compute real answers. Timing is proven with the calls' recorded
/// intervals (generous delays, overlap checks), not with tight wall-clock bounds.
/// </summary>
public sealed class PipelineExecutorTests
{
    private const int Slow = 400;

    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static PipelineGraph Compile(string yaml) =>
        PipelineValidator.Validate(PipelineSpecParser.Parse(yaml, "application/yaml"), (_, _) => null);

    private static InferenceRequest Request(params InferenceTensor[] inputs) => new() { Id = "caller-id", Inputs = inputs };

    private static Task<PipelineRun> RunAsync(FakeStepInvoker models, string yaml, InferenceRequest request, TimeSpan? timeout = null, string requestId = "run-1") =>
        new PipelineExecutor(models).RunAsync(Compile(yaml), 4, request, requestId, "tester", timeout ?? Minute, CancellationToken.None);

    private static PipelineRun Ok(PipelineRun run)
    {
        Assert.True(run.Status == 200, $"status {run.Status}: {run.Error}");
        Assert.NotNull(run.Response);
        return run;
    }

    private static InferenceTensor Output(PipelineRun run, string name) => Assert.Single(Ok(run).Response!.Outputs, t => t.Name == name);

    private static StepRecord Record(PipelineRun run, string step) => Assert.Single(run.Steps, s => s.Step.Name == step);

    private static void AssertOverlap(StepCall a, StepCall b) =>
        Assert.True(a.StartMs < b.EndMs && b.StartMs < a.EndMs,
            $"'{a.Step}' [{a.StartMs:0}, {a.EndMs:0}] and '{b.Step}' [{b.StartMs:0}, {b.EndMs:0}] did not overlap");

    // ---- values through the graph

    [Fact]
    public async Task A_chain_of_three_steps_passes_values_along()
    {
        var models = new FakeStepInvoker()
            .Model("plus1", Map("y", v => v + 1))
            .Model("times2", Map("z", v => v * 2))
            .Model("plus10", Map("w", v => v + 10));
        const string yaml = """
            name: chain
            steps:
            - {name: a, model: plus1}
            - {name: b, model: times2, inputs: [a.outputs.y]}
            - {name: c, model: plus10, inputs: [b.outputs.z]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [3], 1, 2, 3)));

        var w = Output(run, "w");
        Assert.Equal([14f, 16f, 18f], Floats(w));
        Assert.Equal([3L], w.Shape);
        Assert.Equal("chain", run.Response!.ModelName);
        Assert.Equal("4", run.Response.ModelVersion);
        Assert.Equal("caller-id", run.Response.Id);
        Assert.All(run.Steps, s => Assert.Equal(PipelineStepStates.Ran, s.State));
    }

    [Fact]
    public async Task A_diamond_runs_its_two_branches_concurrently_and_joins_them()
    {
        var models = new FakeStepInvoker()
            .Model("plus1", Map("y", v => v + 1))
            .Model("times2", Map("b", v => v * 2), delayMs: Slow)
            .Model("plus10", Map("c", v => v + 10), delayMs: Slow)
            .Model("sum", Sum("s"));
        const string yaml = """
            name: diamond
            steps:
            - {name: a, model: plus1}
            - {name: left, model: times2, inputs: [a.outputs.y]}
            - {name: right, model: plus10, inputs: [a.outputs.y]}
            - {name: join, model: sum, inputs: [left.outputs.b, right.outputs.c]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [2], 1, 2)));

        // x+1 = 2, 3; left 4, 6; right 12, 13; sum 16, 19
        Assert.Equal([16f, 19f], Floats(Output(run, "s")));
        AssertOverlap(models.Call("left"), models.Call("right"));
        Assert.True(models.Call("join").StartMs >= Math.Max(models.Call("left").EndMs, models.Call("right").EndMs));
        // the two branches together took less than the same two calls one after the other (measured on the calls
        // themselves: a loaded test machine stretches the delays, and start-up costs are not the executor's)
        var (left, right) = (models.Call("left"), models.Call("right"));
        double span = Math.Max(left.EndMs, right.EndMs) - Math.Min(left.StartMs, right.StartMs);
        double sequential = (left.EndMs - left.StartMs) + (right.EndMs - right.StartMs);
        Assert.True(span < sequential - Slow / 2, $"the branches took {span:0} ms, about as long as one after the other ({sequential:0} ms)");
    }

    [Fact]
    public async Task The_same_model_serves_two_steps()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("x", v => v + 1));
        const string yaml = """
            name: twice
            steps:
            - {name: a, model: plus1}
            - {name: b, model: plus1, inputs: [a.outputs.x]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [2], 1, 5)));

        Assert.Equal([3f, 7f], Floats(Output(run, "x")));
        Assert.Equal(["plus1", "plus1"], models.Calls.Select(c => c.Model));
        Assert.Equal(["a", "b"], models.Calls.Select(c => c.Step));
    }

    [Fact]
    public async Task Step_calls_carry_the_run_id_dot_the_step_name()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("echo", Echo);
        const string yaml = """
            name: ids
            steps:
            - {name: first, model: plus1}
            - {name: second-step, model: echo, inputs: [first.outputs.y]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)), requestId: "req-42");

        Assert.Equal("req-42", run.RequestId);
        Assert.Equal("req-42.first", models.Call("first").Request.Id);
        Assert.Equal("req-42.second-step", models.Call("second-step").Request.Id);
        Assert.Equal(["req-42.first", "req-42.second-step"], run.Steps.Select(s => s.RequestId));
    }

    [Fact]
    public async Task Records_of_steps_that_ran_have_start_latency_version_input_and_output()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1), delayMs: 50, version: 7).Model("never", Echo);
        const string yaml = """
            name: records
            steps:
            - {name: a, model: plus1}
            - {name: b, model: never, when: 'a.outputs.y > 100'}
            output: {steps: [a]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Ok(run);
        var a = Record(run, "a");
        Assert.Equal(PipelineStepStates.Ran, a.State);
        Assert.NotNull(a.StartedMs);
        Assert.True(a.LatencyMs >= 40, $"latency {a.LatencyMs}");
        Assert.Equal(7, a.ModelVersion);
        Assert.Null(a.Rows);
        Assert.Same(models.Call("a").Request, a.Input);
        Assert.Equal([2f], Floats(Assert.Single(a.Output!.Outputs)));
        var b = Record(run, "b");
        Assert.Equal(PipelineStepStates.Skipped, b.State);
        Assert.Null(b.StartedMs);
        Assert.Null(b.LatencyMs);
        Assert.DoesNotContain(models.Calls, c => c.Step == "b");
    }

    // ---- joins and triggers

    private const string Gate = "pipeline.inputs.x > 100"; // false for the requests below: the gated step is skipped

    [Fact]
    public async Task An_inner_join_with_a_skipped_input_is_skipped()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("sum", Sum("s")).Model("plus10", Map("z", v => v + 10));
        const string yaml = $$"""
            name: inner
            steps:
            - {name: gated, model: plus1, when: '{{Gate}}'}
            - {name: join, model: sum, inputs: [gated.outputs.y, pipeline.inputs.x]}
            - {name: other, model: plus10}
            output: {steps: [join, other], stepsJoin: outer}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal([11f], Floats(Output(run, "z")));
        Assert.DoesNotContain(run.Response!.Outputs, t => t.Name == "s");
        var join = Record(run, "join");
        Assert.Equal(PipelineStepStates.Skipped, join.State);
        Assert.Contains("input 'gated.outputs.y' is absent (step 'gated' was skipped: condition is false", join.Why, StringComparison.Ordinal);
        Assert.DoesNotContain(models.Calls, c => c.Step is "gated" or "join");
    }

    [Fact]
    public async Task An_outer_join_runs_with_the_present_branch_as_soon_as_it_arrives()
    {
        var models = new FakeStepInvoker()
            .Model("plus1", Map("y", v => v + 1))
            .Model("slow", Map("b", v => v * 3), delayMs: Slow)
            .Model("echo", Echo);
        const string yaml = $$"""
            name: outer
            steps:
            - {name: gated, model: plus1, when: '{{Gate}}'}
            - {name: present, model: slow}
            - {name: join, model: echo, inputs: [gated.outputs.y, present.outputs.b], inputsJoinType: outer}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [2], 1, 2)));

        Assert.Equal([3f, 6f], Floats(Output(run, "b")));
        var join = models.Call("join");
        Assert.Equal(["b"], join.InputNames);
        // it waited for the branch that arrives, and not longer: a skipped branch is known absent at once (the bound is
        // generous for a loaded machine; a time window for absent branches would show here)
        Assert.True(join.StartMs >= models.Call("present").EndMs);
        Assert.True(join.StartMs - models.Call("present").EndMs < 1000, $"join started {join.StartMs - models.Call("present").EndMs:0} ms after its input arrived");
    }

    [Fact]
    public async Task An_any_join_runs_with_the_first_present_input_without_waiting_for_the_other()
    {
        var models = new FakeStepInvoker()
            .Model("fast", Map("y", v => v + 1))
            .Model("slow", Map("y", v => v + 100), delayMs: Slow)
            .Model("echo", Echo);
        const string yaml = """
            name: any
            steps:
            - {name: quick, model: fast}
            - {name: late, model: slow}
            - {name: join, model: echo, inputs: [late.outputs.y, quick.outputs.y], inputsJoinType: any}
            output: {steps: [join]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal([2f], Floats(Output(run, "y")));
        var join = models.Call("join");
        Assert.Equal([2f], Floats(join.Input("y")));
        Assert.True(join.StartMs < models.Call("late").EndMs, "the any join waited for the slow branch");
    }

    [Fact]
    public async Task An_any_join_whose_inputs_are_all_present_already_takes_the_first_not_a_name_clash()
    {
        // both branches answer at once, so both are present when the join decides; 'any' still takes one of them
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus100", Map("y", v => v + 100)).Model("echo", Echo);
        const string yaml = """
            name: any2
            steps:
            - {name: a, model: plus1}
            - {name: b, model: plus100}
            - {name: join, model: echo, inputs: [a.outputs.y, b.outputs.y], inputsJoinType: any}
            output: {steps: [join]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal([2f], Floats(Output(run, "y")));
        Assert.Equal(["y"], models.Call("join").InputNames);
    }

    [Fact]
    public async Task An_inner_trigger_that_is_absent_skips_the_step()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus10", Map("z", v => v + 10)).Model("times2", Map("w", v => v * 2));
        const string yaml = $$"""
            name: triggers
            steps:
            - {name: gated, model: plus1, when: '{{Gate}}'}
            - {name: open, model: plus10}
            - {name: t, model: times2, triggers: [open.outputs.z, gated.outputs.y]}
            output: {steps: [open, t], stepsJoin: outer}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Ok(run);
        var t = Record(run, "t");
        Assert.Equal(PipelineStepStates.Skipped, t.State);
        Assert.StartsWith("trigger 'gated.outputs.y' is absent (step 'gated' was skipped", t.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_any_trigger_gates_the_step_without_feeding_it()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus10", Map("z", v => v + 10), delayMs: 100).Model("times2", Map("w", v => v * 2));
        const string yaml = $$"""
            name: triggers
            steps:
            - {name: gated, model: plus1, when: '{{Gate}}'}
            - {name: open, model: plus10}
            - {name: t, model: times2, triggers: [gated.outputs.y, open.outputs.z], triggersJoinType: any}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 3)));

        Assert.Equal([6f], Floats(Output(run, "w")));
        var t = models.Call("t");
        Assert.Equal(["x"], t.InputNames); // the trigger's tensor is not sent
        Assert.True(t.StartMs >= models.Call("open").EndMs, "the step ran before its trigger arrived");
    }

    // ---- conditions

    [Theory]
    [InlineData(5f, true)]
    [InlineData(0f, false)]
    public async Task A_whole_request_condition_runs_or_skips_the_step_and_its_dependents(float x, bool runs)
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("times2", Map("z", v => v * 2)).Model("plus10", Map("w", v => v + 10));
        const string yaml = """
            name: when
            steps:
            - {name: a, model: plus1}
            - {name: b, model: times2, inputs: [a.outputs.y], when: 'a.outputs.y > 1'}
            - {name: c, model: plus10, inputs: [b.outputs.z]}
            output: {steps: [a.outputs.y, c.outputs.w], stepsJoin: outer}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], x)));

        Assert.Equal([x + 1], Floats(Output(run, "y")));
        if (runs)
        {
            Assert.Equal([(x + 1) * 2 + 10], Floats(Output(run, "w")));
            Assert.All(run.Steps, s => Assert.Equal(PipelineStepStates.Ran, s.State));
        }
        else
        {
            Assert.DoesNotContain(run.Response!.Outputs, t => t.Name == "w");
            var b = Record(run, "b");
            Assert.Equal(PipelineStepStates.Skipped, b.State);
            Assert.Equal("condition is false: a.outputs.y > 1", b.Why);
            var c = Record(run, "c");
            Assert.Equal(PipelineStepStates.Skipped, c.State);
            Assert.Contains("step 'b' was skipped", c.Why, StringComparison.Ordinal);
            Assert.Equal(["a"], models.Calls.Select(k => k.Step));
        }
    }

    // ---- per-row routing

    private static FakeStepInvoker RowModels() => new FakeStepInvoker()
        .Model("classify", Argmax("label"))
        .Model("plus100", Map("y", v => v + 100))
        .Model("times10", Map("y", v => v * 10));

    private static string Routed(string zero, string one) => $$"""
        name: routed
        steps:
        - {name: cls, model: classify}
        - {name: zero, model: plus100, inputs: [pipeline.inputs.x], perRow: true, when: '{{zero}}'}
        - {name: one, model: times10, inputs: [pipeline.inputs.x], perRow: true, when: '{{one}}'}
        output: {steps: [zero.outputs.y, one.outputs.y], stepsJoin: any}
        """;

    [Fact]
    public async Task Per_row_steps_get_only_their_rows_and_any_merges_them_in_the_original_order()
    {
        var models = RowModels();
        // labels (argmax): 0, 1, 0, 1
        var x = Fp32("x", [4, 2], 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.3f, 0.7f);

        var run = await RunAsync(models, Routed("cls.outputs.label == 0", "cls.outputs.label == 1"), Request(x));

        Assert.Equal([0.9f, 0.1f, 0.6f, 0.4f], Floats(models.Call("zero").Input("x")));
        Assert.Equal([2L, 2L], models.Call("zero").Input("x").Shape);
        Assert.Equal([0.2f, 0.8f, 0.3f, 0.7f], Floats(models.Call("one").Input("x")));
        var y = Output(run, "y");
        Assert.Equal([4L, 2L], y.Shape);
        Assert.Equal([0.9f + 100, 0.1f + 100, 0.2f * 10, 0.8f * 10, 0.6f + 100, 0.4f + 100, 0.3f * 10, 0.7f * 10], Floats(y));
        Assert.Equal([0, 2], Record(run, "zero").Rows!);
        Assert.Equal([1, 3], Record(run, "one").Rows!);
        Assert.Null(Record(run, "cls").Rows);
    }

    [Fact]
    public async Task A_per_row_step_whose_condition_selects_no_row_is_skipped_and_the_other_branch_covers_all()
    {
        var models = RowModels();
        var x = Fp32("x", [2, 2], 0.9f, 0.1f, 0.6f, 0.4f);

        var run = await RunAsync(models, Routed("cls.outputs.label == 0", "cls.outputs.label == 1"), Request(x));

        Assert.Equal([0.9f + 100, 0.1f + 100, 0.6f + 100, 0.4f + 100], Floats(Output(run, "y")));
        Assert.Equal(PipelineStepStates.Skipped, Record(run, "one").State);
        Assert.StartsWith("condition selects no row", Record(run, "one").Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_row_no_branch_covers_is_an_error_naming_the_row()
    {
        var models = RowModels();
        // labels: 0, 1, 2, 1 — no branch takes label 2
        var x = Fp32("x", [4, 3], 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0);

        var run = await RunAsync(models, Routed("cls.outputs.label == 0", "cls.outputs.label == 1"), Request(x));

        Assert.Equal(400, run.Status);
        Assert.Null(run.Response);
        Assert.Equal("pipeline 'routed': output 'y' merges branches by row, but row 2 is covered by no branch", run.Error);
    }

    [Fact]
    public async Task A_row_two_branches_cover_is_an_error_naming_the_rows()
    {
        var models = RowModels();
        // labels: 0, 1, 0, 1 — 'zero' takes every row
        var x = Fp32("x", [4, 2], 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.3f, 0.7f);

        var run = await RunAsync(models, Routed("cls.outputs.label <= 1", "cls.outputs.label == 1"), Request(x));

        Assert.Equal(400, run.Status);
        Assert.Equal("pipeline 'routed': output 'y' merges branches by row, but rows 1, 3 are covered by more than one", run.Error);
    }

    [Fact]
    public async Task A_per_row_step_after_a_per_row_step_runs_on_the_rows_both_select()
    {
        var models = new FakeStepInvoker().Model("plus100", Map("y", v => v + 100)).Model("sum", Sum("s"));
        const string yaml = """
            name: composed
            steps:
            - {name: first, model: plus100, perRow: true, when: 'pipeline.inputs.x[:,0] == 1'}
            - {name: second, model: sum, inputs: [first.outputs.y, pipeline.inputs.x], perRow: true,
               when: 'first.outputs.y[:,1] > 111 and pipeline.inputs.x[:,1] < 13.5'}
            """;
        // first: rows 0, 2, 3, 4 (column 0 is 1); second: of those, y[:,1] = 110, 112, 113, 114 > 111 and x[:,1] < 13.5: rows 2, 3
        var x = Fp32("x", [5, 2], 1, 10, 0, 11, 1, 12, 1, 13, 1, 14);

        var run = await RunAsync(models, yaml, Request(x));

        Assert.Equal([1f, 10f, 1f, 12f, 1f, 13f, 1f, 14f], Floats(models.Call("first").Input("x")));
        var second = models.Call("second");
        Assert.Equal([101f, 112f, 101f, 113f], Floats(second.Input("y")));
        Assert.Equal([1f, 12f, 1f, 13f], Floats(second.Input("x")));
        Assert.Equal([102f, 124f, 102f, 126f], Floats(Output(run, "s")));
        Assert.Equal([0, 2, 3, 4], Record(run, "first").Rows!);
        Assert.Equal([2, 3], Record(run, "second").Rows!);
    }

    [Fact]
    public async Task Per_row_routing_carries_bytes_and_int64_rows_along_and_merges_them_back()
    {
        var models = new FakeStepInvoker().Model("echo", Echo).Model("echo2", Echo);
        const string yaml = """
            name: kinds
            steps:
            - {name: small, model: echo, perRow: true, when: 'pipeline.inputs.n < 10'}
            - {name: big, model: echo2, perRow: true, when: 'pipeline.inputs.n >= 10'}
            output: {steps: [small, big], stepsJoin: any}
            """;
        var ids = new InferenceTensor("id", TensorDatatype.Bytes, [3, 2], new[] { "a0", "a1", "b0", "b1", "c0", "c1" });
        var n = new InferenceTensor("n", TensorDatatype.Int64, [3], new[] { 20L, 5L, 30L });

        var run = await RunAsync(models, yaml, Request(ids, n));

        Assert.Equal(["b0", "b1"], (string[])models.Call("small").Input("id").Data);
        Assert.Equal(["a0", "a1", "c0", "c1"], (string[])models.Call("big").Input("id").Data);
        Assert.Equal([20L, 30L], (long[])models.Call("big").Input("n").Data);
        Assert.Equal(ids.Data.Cast<string>(), Output(run, "id").Data.Cast<string>());
        Assert.Equal([3L, 2L], Output(run, "id").Shape);
        Assert.Equal(n.Data.Cast<long>(), Output(run, "n").Data.Cast<long>());
    }

    [Theory]
    [InlineData(5f, 6f)]     // 'plus1' runs, 'plus100' is skipped
    [InlineData(50f, 150f)]  // the other way round
    public async Task An_any_output_of_whole_request_alternatives_answers_the_one_that_ran(float x, float expected)
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus100", Map("y", v => v + 100));
        const string yaml = """
            name: alt
            steps:
            - {name: low, model: plus1, when: 'pipeline.inputs.x < 10'}
            - {name: high, model: plus100, when: 'pipeline.inputs.x >= 10'}
            output: {steps: [low, high], stepsJoin: any}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], x)));

        Assert.Equal([expected], Floats(Output(run, "y")));
    }

    [Fact]
    public async Task An_inner_output_with_a_skipped_branch_is_a_400_saying_why()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus100", Map("z", v => v + 100));
        const string yaml = """
            name: both
            steps:
            - {name: low, model: plus1}
            - {name: high, model: plus100, when: 'pipeline.inputs.x >= 10'}
            output: {steps: [low, high]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal(400, run.Status);
        Assert.StartsWith("pipeline 'both': output 'high.outputs' is absent (step 'high' was skipped: condition is false", run.Error, StringComparison.Ordinal);
    }

    // ---- names

    [Fact]
    public async Task TensorMap_renames_inputs_and_the_output_tensorMap_renames_outputs()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("echo", Echo);
        const string yaml = """
            name: renames
            steps:
            - {name: a, model: plus1}
            - {name: b, model: echo, inputs: [a.outputs.y, pipeline.inputs.x], tensorMap: {a.outputs.y: features, pipeline.inputs.x: raw}}
            output: {steps: [b], tensorMap: {b.outputs.features: result}}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal(["features", "raw"], models.Call("b").InputNames);
        Assert.Equal([2f], Floats(Output(run, "result")));
        Assert.Equal([1f], Floats(Output(run, "raw")));
        Assert.DoesNotContain(run.Response!.Outputs, t => t.Name == "features");
    }

    [Fact]
    public async Task Two_inputs_of_one_name_are_a_400_naming_both()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("plus2", Map("y", v => v + 2)).Model("sum", Sum("s"));
        const string yaml = """
            name: clash
            steps:
            - {name: a, model: plus1}
            - {name: b, model: plus2}
            - {name: c, model: sum, inputs: [a, b]}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal(400, run.Status);
        Assert.Equal("step 'c' (model sum): two inputs are both named 'y' (a.outputs.y and b.outputs.y); rename one with tensorMap", run.Error);
        Assert.Equal(PipelineStepStates.Failed, Record(run, "c").State);
        Assert.DoesNotContain(models.Calls, c => c.Step == "c");
    }

    [Fact]
    public async Task Requested_outputs_choose_among_the_pipelines_outputs()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1)).Model("times2", Map("z", v => v * 2));
        const string yaml = """
            name: outs
            steps:
            - {name: a, model: plus1}
            - {name: b, model: times2}
            output: {steps: [a, b]}
            """;
        var request = new InferenceRequest { Inputs = [Fp32("x", [1], 3)], Outputs = [new RequestedOutput("z")] };

        var run = await RunAsync(models, yaml, request);

        Assert.Equal([6f], Floats(Assert.Single(Ok(run).Response!.Outputs, t => t.Name == "z")));
        Assert.Single(run.Response!.Outputs);
    }

    [Fact]
    public async Task An_unknown_requested_output_is_a_400_listing_the_outputs()
    {
        var models = new FakeStepInvoker().Model("plus1", Map("y", v => v + 1));
        var request = new InferenceRequest { Inputs = [Fp32("x", [1], 3)], Outputs = [new RequestedOutput("nope")] };

        var run = await RunAsync(models, "name: outs\nsteps:\n- {name: a, model: plus1}", request);

        Assert.Equal(400, run.Status);
        Assert.Equal("pipeline 'outs' has no output 'nope' (it has: y)", run.Error);
    }

    // ---- failures and time limits

    [Fact]
    public async Task A_step_failure_passes_the_models_4xx_and_names_step_model_and_version()
    {
        var models = new FakeStepInvoker().Failing("fraud", 400, "input 'amount' has shape [2] but the model takes [-1,1]", version: 3);

        var run = await RunAsync(models, "name: p\nsteps:\n- {name: score, model: fraud}", Request(Fp32("x", [1], 1)));

        Assert.Equal(400, run.Status);
        Assert.Equal("step 'score' (model fraud v3): input 'amount' has shape [2] but the model takes [-1,1]", run.Error);
        Assert.Null(run.Response);
        var score = Record(run, "score");
        Assert.Equal(PipelineStepStates.Failed, score.State);
        Assert.Equal("input 'amount' has shape [2] but the model takes [-1,1]", score.Why);
    }

    [Fact]
    public async Task A_step_with_no_replica_fails_the_run_with_503()
    {
        var models = new FakeStepInvoker().Failing("fraud", 503, "no Ready replica of model fraud");

        var run = await RunAsync(models, "name: p\nsteps:\n- {name: score, model: 'fraud:2'}", Request(Fp32("x", [1], 1)));

        Assert.Equal(503, run.Status);
        Assert.Equal("step 'score' (model fraud v2): no Ready replica of model fraud", run.Error); // the pinned version
    }

    [Fact]
    public async Task A_step_past_its_timeout_fails_the_run_with_504_naming_the_step()
    {
        var models = new FakeStepInvoker().Model("sleepy", Echo, delayMs: 30_000);

        var run = await RunAsync(models, "name: p\nsteps:\n- {name: slow, model: sleepy, timeoutMs: 100}", Request(Fp32("x", [1], 1)));

        Assert.Equal(504, run.Status);
        Assert.Equal("step 'slow' (model sleepy): timed out after 100 ms", run.Error);
        Assert.True(models.Call("slow").Cancelled);
        Assert.Equal(PipelineStepStates.Failed, Record(run, "slow").State);
        Assert.True(run.LatencyMs < 10_000);
    }

    [Fact]
    public async Task A_run_past_the_pipeline_timeout_is_a_504()
    {
        var models = new FakeStepInvoker().Model("sleepy", Echo, delayMs: 30_000);

        var run = await RunAsync(models, "name: p\nsteps:\n- {name: slow, model: sleepy}", Request(Fp32("x", [1], 1)), timeout: TimeSpan.FromMilliseconds(200));

        Assert.Equal(504, run.Status);
        Assert.Equal("pipeline 'p' timed out after 200 ms (still running: 'slow')", run.Error);
        Assert.True(models.Call("slow").Cancelled);
        Assert.Equal(PipelineStepStates.NotRun, Record(run, "slow").State);
        Assert.True(run.LatencyMs < 10_000);
    }

    [Fact]
    public async Task A_caller_who_leaves_ends_the_run_with_499()
    {
        var models = new FakeStepInvoker().Model("sleepy", Echo, delayMs: 30_000);
        using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var run = await new PipelineExecutor(models).RunAsync(
            Compile("name: p\nsteps:\n- {name: slow, model: sleepy}"), 1, Request(Fp32("x", [1], 1)), "r", "tester", Minute, leave.Token);

        Assert.Equal(499, run.Status);
        Assert.True(models.Call("slow").Cancelled);
    }

    [Fact]
    public async Task The_first_failure_cancels_a_long_running_sibling()
    {
        var models = new FakeStepInvoker().Failing("broken", 400, "bad tensor", delayMs: 50).Model("sleepy", Echo, delayMs: 30_000).Model("after", Echo);
        const string yaml = """
            name: p
            steps:
            - {name: fails, model: broken}
            - {name: long, model: sleepy}
            - {name: then, model: after, inputs: [long]}
            output: {steps: [fails, then], stepsJoin: outer}
            """;

        var run = await RunAsync(models, yaml, Request(Fp32("x", [1], 1)));

        Assert.Equal(400, run.Status);
        Assert.Equal("step 'fails' (model broken): bad tensor", run.Error);
        Assert.True(models.Call("long").Cancelled, "the sibling's call was not cancelled");
        Assert.True(run.LatencyMs < 10_000, $"the run took {run.LatencyMs:0} ms");
        Assert.Equal(PipelineStepStates.NotRun, Record(run, "long").State);
        Assert.Equal(PipelineStepStates.NotRun, Record(run, "then").State);
        Assert.DoesNotContain(models.Calls, c => c.Step == "then");
    }
}
