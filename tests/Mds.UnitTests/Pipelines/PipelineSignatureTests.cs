using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using static Mds.UnitTests.Pipelines.FakeSchemas;

namespace Mds.UnitTests.Pipelines;

public sealed class PipelineSignatureTests
{
    private static void Same(IEnumerable<TensorMetadata> expected, IEnumerable<TensorMetadata> actual) =>
        Assert.Equal(expected.Select(t => (t.Name, t.Datatype, string.Join(",", t.Shape))), actual.Select(t => (t.Name, t.Datatype, string.Join(",", t.Shape))));

    [Fact]
    public void A_one_step_pipeline_has_its_models_signature()
    {
        var (inputs, outputs) = PipelineSignature.Of(Compile("name: p\nsteps: [{name: a, model: iris}]"), Lookup);
        Same([new("Features", "FP32", [-1, 4])], inputs);
        Same([new("PredictedLabel", "BYTES", [-1, 1]), new("Score", "FP32", [-1, 3])], outputs);
    }

    [Fact]
    public void Inputs_take_the_pipeline_side_name_and_are_deduplicated_and_outputs_are_renamed()
    {
        var graph = Compile("""
            name: p
            steps:
            - {name: a, model: iris, inputs: [pipeline.inputs.x], tensorMap: {pipeline.inputs.x: Features}}
            - {name: b, model: iris, inputs: [pipeline.inputs.x], tensorMap: {pipeline.inputs.x: Features}}
            - {name: c, model: scorer, inputs: [a.outputs.Score]}
            output: {steps: [c.outputs.Risk, b.outputs.PredictedLabel], tensorMap: {c.outputs.Risk: risk}}
            """);
        var (inputs, outputs) = PipelineSignature.Of(graph, Lookup);
        Same([new("x", "FP32", [-1, 4])], inputs);
        Same([new("risk", "FP32", [-1, 1]), new("PredictedLabel", "BYTES", [-1, 1])], outputs);
    }

    [Fact]
    public void Unknown_models_contribute_nothing()
    {
        var (inputs, outputs) = PipelineSignature.Of(Compile("name: p\nsteps:\n- {name: g, model: ghost}\n- {name: a, model: iris}\noutput: {steps: [g, a.outputs.Score]}"), Lookup);
        Same([new("Features", "FP32", [-1, 4])], inputs);
        Same([new("Score", "FP32", [-1, 3])], outputs);
    }

    [Fact]
    public void Draw_lays_out_a_diamond_by_longest_path_with_every_kind_of_edge()
    {
        var graph = Compile("""
            name: diamond
            steps:
            - {name: d, model: iris, inputs: [pipeline.inputs.x], tensorMap: {pipeline.inputs.x: Features}, triggers: [b.outputs.Risk, c.outputs.Risk], triggersJoinType: any}
            - {name: a, model: 'iris:1'}
            - {name: b, model: scorer, inputs: [a.outputs.Score], when: 'a.outputs.Score[:, 0] > 0.5', perRow: true}
            - {name: c, model: scorer, inputs: [a.outputs.Score], inputsJoinType: outer}
            output: {steps: [d.outputs.Score, c], tensorMap: {d.outputs.Score: final}}
            """);
        var dto = PipelineSignature.Draw(graph);

        Assert.Equal(
            [("pipeline.inputs", "input", 0), ("a", "step", 1), ("b", "step", 2), ("c", "step", 2), ("d", "step", 3), ("pipeline.outputs", "output", 4)],
            dto.Nodes.Select(n => (n.Id, n.Kind, n.Layer)));
        var b = dto.Nodes.Single(n => n.Id == "b");
        Assert.Equal(new PipelineGraphNodeDto("b", "step", "scorer", "a.outputs.Score[:, 0] > 0.5", true, "inner", 2), b);
        Assert.Equal("iris:1", dto.Nodes.Single(n => n.Id == "a").Model);
        Assert.Equal("outer", dto.Nodes.Single(n => n.Id == "c").JoinType);

        Assert.Contains(new PipelineGraphEdgeDto("pipeline.inputs", "a", null, null, "data"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("pipeline.inputs", "d", "x", "Features", "data"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("a", "b", "Score", null, "data"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("a", "b", "Score", null, "condition"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("b", "d", "Risk", null, "trigger"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("c", "d", "Risk", null, "trigger"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("d", "pipeline.outputs", "Score", "final", "data"), dto.Edges);
        Assert.Contains(new PipelineGraphEdgeDto("c", "pipeline.outputs", null, null, "data"), dto.Edges);
        Assert.Equal(9, dto.Edges.Count);
    }
}
