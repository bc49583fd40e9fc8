using Mds.Backend.Pipelines;
using static Mds.UnitTests.Pipelines.FakeSchemas;

namespace Mds.UnitTests.Pipelines;

public sealed class PipelineValidatorTests
{
    private const string A = "- {name: a, model: iris}\n";

    public static TheoryData<string, string, string> Invalid => new()
    {
        // the pipeline's name and size
        { "steps:\n" + A, "name", "needs a name" },
        { "name: 'my pipe'\nsteps:\n" + A, "name", "not a valid name" },
        { "name: " + new string('p', 101) + "\nsteps:\n" + A, "name", "not a valid name" },
        { "name: fraud.pipeline\nsteps:\n" + A, "name", "must not end with '.pipeline'" },
        { "name: fraud.experiment\nsteps:\n" + A, "name", "must not end with" },
        { "name: p\nsteps: []", "steps", "at least one step" },
        { "name: p\ntimeoutMs: 0\nsteps:\n" + A, "timeoutMs", "between 1 and 600000" },
        // step names and models
        { "name: p\nsteps:\n- {model: iris}", "steps[0].name", "needs a name" },
        { "name: p\nsteps:\n" + A + A, "steps[1].name", "used twice (also steps[0])" },
        { "name: p\nsteps:\n- {name: pipeline, model: iris}", "steps[0].name", "reserved" },
        { "name: p\nsteps:\n- {name: a.b, model: iris}", "steps[0].name", "not a valid step name" },
        { "name: p\nsteps:\n- {name: " + new string('s', 64) + ", model: iris}", "steps[0].name", "use 1–63 letters" },
        { "name: p\nsteps:\n- {name: a, model: 'iris:0'}", "steps[0].model", "positive whole number" },
        { "name: p\nsteps:\n- {name: a, model: 'iris:v2'}", "steps[0].model", "positive whole number" },
        { "name: p\nsteps:\n- {name: a, model: '-iris'}", "steps[0].model", "not a model name" },
        // references
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.inputs.Score]}", "steps[1].inputs[0]", "referred to by its outputs" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [x.outputs.Score]}", "steps[1].inputs[0]", "unknown step 'x'" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [b.outputs.Risk]}", "steps[1].inputs[0]", "its own outputs" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], triggers: [x]}", "steps[1].triggers[0]", "unknown step 'x'" },
        { "name: p\nsteps:\n" + A + "output: {steps: [x.outputs]}", "output.steps[0]", "unknown step 'x'" },
        { "name: p\nsteps:\n" + A + "output: {steps: []}", "output.steps", "at least one reference" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a], tensorMap: {x.outputs.y: Score}}", "steps[1].tensorMap[\"x.outputs.y\"]", "unknown step 'x'" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a], tensorMap: {a.outputs: Score}}", "steps[1].tensorMap[\"a.outputs\"]", "must name one tensor" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [pipeline.inputs.Score], tensorMap: {a.outputs.Score: Score}}", "steps[1].tensorMap[\"a.outputs.Score\"]", "nothing to rename" },
        { "name: p\nsteps:\n" + A + "output: {steps: [a], tensorMap: {a.outputs.Score: ''}}", "output.tensorMap[\"a.outputs.Score\"]", "empty" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], when: 'x.outputs.y == 1'}", "steps[1].when", "unknown step 'x'" },
        { "name: p\nsteps:\n- {name: a, model: iris, inputs: [b.outputs.Score]}\n- {name: b, model: scorer, inputs: [a.outputs.Score]}", "steps[0]", "cycle: a → b → a" },
        // joins and limits
        { "name: p\nsteps:\n- {name: a, model: iris, inputsJoinType: all}", "steps[0].inputsJoinType", "not a join type" },
        { "name: p\nsteps:\n- {name: a, model: iris, triggersJoinType: '1'}", "steps[0].triggersJoinType", "not a join type" },
        { "name: p\nsteps:\n" + A + "output: {steps: [a], stepsJoin: first}", "output.stepsJoin", "not a join type" },
        { "name: p\nsteps:\n- {name: a, model: iris, perRow: true}", "steps[0].perRow", "needs a 'when'" },
        { "name: p\nsteps:\n- {name: a, model: iris, timeoutMs: 0}", "steps[0].timeoutMs", "between 1 and 600000" },
        { "name: p\nsteps:\n- {name: a, model: iris, timeoutMs: 600001}", "steps[0].timeoutMs", "between 1 and 600000" },
        { "name: p\nsteps:\n- {name: a, model: iris, retries: 6}", "steps[0].retries", "between 0 and 5" },
        { "name: p\nsteps:\n- {name: a, model: iris, retries: -1}", "steps[0].retries", "between 0 and 5" },
        // static typing
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Nope]}", "steps[1].inputs[0]", "step 'a' (model iris v1) has no output 'Nope'; it has: PredictedLabel, Score" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score, a.outputs.PredictedLabel]}", "steps[1].inputs[1]", "'a.outputs.PredictedLabel' is not an input of model scorer v2; it has: Score" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.PredictedLabel], tensorMap: {a.outputs.PredictedLabel: Label}}", "steps[1].inputs[0]", "(mapped to 'Label') is not an input" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a]}", "steps[1].inputs[0]", "'a.outputs.PredictedLabel' is not an input of model scorer v2" },
        { "name: p\nsteps:\n- {name: t1, model: tfsimple1}\n- {name: t2, model: tfsimple2, inputs: [t1.outputs.OUTPUT0], tensorMap: {t1.outputs.OUTPUT0: INPUT0}}", "steps[1].inputs", "input 'INPUT1' of model tfsimple2 v1 is not fed" },
        { "name: p\nsteps:\n- {name: t1, model: tfsimple1}\n- {name: t2, model: tfsimple2, inputs: [t1.outputs.OUTPUT0], tensorMap: {t1.outputs.OUTPUT0: INPUT0}}", "steps[1].inputs", "tensorMap" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: intscorer, inputs: [a.outputs.Score]}", "steps[1].inputs[0]", "'a.outputs.Score' is FP32 but input 'Score' of model intscorer v1 is INT64" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: wide, inputs: [a.outputs.Score]}", "steps[1].inputs[0]", "shape [-1,3] but input 'Score' of model wide v1 takes [-1,5]" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: flat, inputs: [a.outputs.Score]}", "steps[1].inputs[0]", "takes [3]" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score, pipeline.inputs.Score]}", "steps[1].inputs[1]", "input 'Score' is fed twice" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], when: 'a.outputs.Nope > 1'}", "steps[1].when", "has no output 'Nope'" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], triggers: [a.outputs.Nope]}", "steps[1].triggers[0]", "has no output 'Nope'" },
        { "name: p\nsteps:\n" + A + "output: {steps: [a.outputs.Nope]}", "output.steps[0]", "has no output 'Nope'" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: iris}\noutput: {steps: [a.outputs.Score, b]}", "output.steps[1]", "output tensor 'Score' comes twice (also from output.steps[0])" },
        { "name: p\nsteps:\n" + A + "- {name: b, model: iris}\noutput: {steps: [a, b], stepsJoin: outer}", "output.steps[1]", "comes twice" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Reports_the_problem_at_its_path(string yaml, string path, string fragment)
    {
        var problems = Problems(yaml);
        Assert.Contains(problems, p => p.Path == path && p.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public void More_than_64_steps_is_a_problem()
    {
        var spec = new PipelineSpec { Name = "p" };
        for (int i = 0; i < 65; i++)
        {
            spec.Steps.Add(new PipelineStepSpec { Name = $"s{i}", Model = "iris" });
        }

        var e = Assert.Throws<PipelineSpecException>(() => PipelineValidator.Validate(spec, Lookup));
        Assert.Contains(e.Problems, p => p.Path == "steps" && p.Message.Contains("at most 64", StringComparison.Ordinal));
    }

    [Fact]
    public void A_condition_syntax_error_is_reported_at_when_with_the_parsers_message()
    {
        var problems = Problems("name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], when: 'a.outputs.Score >'}");
        var problem = Assert.Single(problems);
        Assert.Equal("steps[1].when", problem.Path);
        Assert.Equal(ConditionError("a.outputs.Score >"), problem.Message);
    }

    [Fact]
    public void Every_problem_is_reported_not_just_the_first()
    {
        var problems = Problems("name: p.pipeline\nsteps:\n- {name: a, model: iris, retries: 9}\n- {name: b, model: scorer, inputs: [x], inputsJoinType: some}");
        Assert.Equal(["name", "steps[0].retries", "steps[1].inputsJoinType", "steps[1].inputs[0]"], problems.Select(p => p.Path));
    }

    [Fact]
    public void A_cycle_is_one_problem_naming_it_in_the_direction_data_flows()
    {
        var problems = Problems("name: p\nsteps:\n- {name: a, model: iris, inputs: [c]}\n- {name: b, model: iris, inputs: [a]}\n- {name: c, model: iris, inputs: [b]}");
        var cycle = Assert.Single(problems, p => p.Message.Contains("cycle", StringComparison.Ordinal));
        Assert.Equal("steps[0]", cycle.Path);
        Assert.EndsWith("a → b → c → a", cycle.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_exception_message_is_the_first_problem_with_its_path()
    {
        var e = Assert.Throws<PipelineSpecException>(() => PipelineValidator.Validate(new PipelineSpec { Name = "p" }, Lookup));
        Assert.Equal("steps: a pipeline needs at least one step", e.Message);
    }

    [Fact]
    public void Unknown_models_skip_the_type_checks()
    {
        var graph = Compile("name: p\nsteps:\n- {name: a, model: ghost}\n- {name: b, model: scorer, inputs: [a.outputs.Score]}\n- {name: c, model: phantom, inputs: [b.outputs.Risk, a.outputs.Anything]}");
        Assert.Equal(["a", "b", "c"], graph.Steps.Select(s => s.Name));
    }

    [Fact]
    public void Pipeline_input_tensors_need_no_check_and_a_tensorMap_feeds_the_models_input()
    {
        var graph = Compile("name: p\nsteps:\n- {name: a, model: iris, inputs: [pipeline.inputs.x], tensorMap: {pipeline.inputs.x: Features}}");
        Assert.Equal("Features", graph.Steps[0].TensorMap["pipeline.inputs.x"]);
    }

    [Fact]
    public void Same_named_outputs_of_branches_merge_under_any()
    {
        var graph = Compile("name: p\nsteps:\n" + A + "- {name: b, model: iris}\noutput: {steps: [a, b], stepsJoin: ANY}");
        Assert.Equal(JoinType.Any, graph.Output.Join);
    }

    [Fact]
    public void Outer_inputs_need_not_feed_every_model_input()
    {
        var graph = Compile("name: p\nsteps:\n- {name: t1, model: tfsimple1}\n- {name: t2, model: tfsimple2, inputs: [t1.outputs.OUTPUT0], tensorMap: {t1.outputs.OUTPUT0: INPUT0}, inputsJoinType: Outer}");
        Assert.Equal(JoinType.Outer, graph.Steps[1].InputsJoin);
    }

    [Fact]
    public void One_model_may_back_several_steps_and_a_pinned_version_is_kept()
    {
        var graph = Compile("name: p\nsteps:\n- {name: a, model: 'iris:1'}\n- {name: b, model: iris}");
        Assert.Equal([("iris", (int?)1), ("iris", null)], graph.Steps.Select(s => (s.Model, s.ModelVersion)));
        Assert.Equal("iris:1", graph.Steps[0].ModelText);
    }

    [Fact]
    public void Defaults_inputs_to_the_pipeline_inputs_model_to_the_step_name_and_output_to_the_last_step()
    {
        var graph = Compile("name: p\nsteps:\n- name: tfsimple1\n- {name: x, model: iris}");
        var step = graph.Steps[0];
        Assert.Equal("tfsimple1", step.Model);
        Assert.Null(step.ModelVersion);
        Assert.Equal([new TensorReference(ReferenceSource.PipelineInputs, "pipeline", null)], step.Inputs);
        Assert.Equal(JoinType.Inner, step.InputsJoin);
        Assert.Equal(0, step.Retries);
        Assert.Null(step.Timeout);
        Assert.Equal([new TensorReference(ReferenceSource.StepOutputs, "x", null)], graph.Output.Steps);
        Assert.Null(graph.Timeout);
    }

    [Fact]
    public void Orders_steps_topologically_with_ties_in_spec_order()
    {
        var graph = Compile("""
            name: p
            steps:
            - {name: c, model: scorer, inputs: [b.outputs.Score]}
            - {name: x, model: iris}
            - {name: b, model: iris, inputs: [pipeline.inputs], triggers: [a.outputs.Score]}
            - {name: a, model: iris}
            """);
        Assert.Equal(["x", "a", "b", "c"], graph.Steps.Select(s => s.Name));
        Assert.Equal([1, 3, 2, 0], graph.Steps.Select(s => s.Index));
        Assert.Equal(["a"], graph.Steps.Single(s => s.Name == "b").DependsOn);
    }

    [Fact]
    public void A_diamond_orders_and_depends_as_drawn()
    {
        var graph = Compile("""
            name: diamond
            timeoutMs: 2000
            steps:
            - {name: a, model: iris}
            - {name: b, model: scorer, inputs: [a.outputs.Score]}
            - {name: c, model: scorer, inputs: [a.outputs.Score], when: 'a.outputs.PredictedLabel == "setosa"'}
            - name: d
              model: iris
              inputs: [pipeline.inputs.Features]
              triggers: [b.outputs.Risk, c.outputs.Risk]
              triggersJoinType: any
              timeoutMs: 500
              retries: 2
            output: {steps: [b.outputs.Risk, c.outputs.Risk, d], stepsJoin: any, tensorMap: {b.outputs.Risk: riskB}}
            """);
        Assert.Equal(["a", "b", "c", "d"], graph.Steps.Select(s => s.Name));
        Assert.Equal(["b", "c"], graph.Steps[3].DependsOn);
        Assert.Equal(["a"], graph.Steps[2].DependsOn);
        Assert.Equal(JoinType.Any, graph.Steps[3].TriggersJoin);
        Assert.Equal(TimeSpan.FromMilliseconds(500), graph.Steps[3].Timeout);
        Assert.Equal(2, graph.Steps[3].Retries);
        Assert.Equal(TimeSpan.FromSeconds(2), graph.Timeout);
        Assert.NotNull(graph.Steps[2].When);
        Assert.Equal("riskB", graph.Output.TensorMap["b.outputs.Risk"]);
    }

    [Fact]
    public void DependsOn_counts_inputs_triggers_and_condition_references_once_each()
    {
        var graph = Compile("name: p\nsteps:\n" + A + "- {name: z, model: iris}\n- {name: b, model: scorer, inputs: [a.outputs.Score], triggers: [a.outputs.Score], when: 'z.outputs.Score[:, 0] > 0.5'}");
        Assert.Equal(["a", "z"], graph.Steps[2].DependsOn);
    }

    [Fact]
    public void TensorMap_keys_are_canonical_references()
    {
        var graph = Compile("name: p\nsteps:\n" + A + "- {name: b, model: scorer, inputs: [a.outputs.Score], tensorMap: {' a.outputs.Score ': Score}}");
        Assert.Equal(["a.outputs.Score"], graph.Steps[1].TensorMap.Keys);
    }

    [Fact]
    public void Seldons_tfsimples_example_validates_and_compiles()
    {
        var graph = PipelineValidator.Validate(PipelineSpecParser.Parse(PipelineSpecParserTests.SeldonTfsimples, null), Lookup);
        Assert.Equal("tfsimples", graph.Name);
        Assert.Equal(["tfsimple1", "tfsimple2"], graph.Steps.Select(s => s.Name));
        Assert.Equal("INPUT1", graph.Steps[1].TensorMap["tfsimple1.outputs.OUTPUT1"]);
    }
}
