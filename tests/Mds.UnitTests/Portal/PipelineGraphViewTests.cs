using System.Globalization;
using Bunit;
using Mds.Contracts.Api;
using Mds.Portal.Components.Pages.Pipelines;

namespace Mds.UnitTests.Portal;

/// <summary>The pipeline graph: every node and edge drawn, columns by layer, conditions and run states shown.</summary>
public class PipelineGraphViewTests
{
    // inputs → classify → (explain when …, per-row audit) → outputs; explain is also triggered by classify.
    private static readonly PipelineGraphDto Graph = new(
        [
            new("pipeline.outputs", "output", null, null, false, "inner", 3),
            new("explain", "step", "explainer:2", "classify.outputs.Score[0] > 0.5", false, "inner", 2),
            new("audit", "step", "auditor", "pipeline.inputs.Features[3] > 1", true, "any", 2),
            new("classify", "step", "iris", null, false, "inner", 1),
            new("pipeline.inputs", "input", null, null, false, "inner", 0),
        ],
        [
            new("pipeline.inputs", "classify", "Features", null, "data"),
            new("classify", "explain", "Score", "Features", "data"),
            new("classify", "explain", "Score", null, "condition"),
            new("classify", "audit", null, null, "trigger"),
            new("pipeline.inputs", "audit", "Features", null, "data"),
            new("explain", "pipeline.outputs", null, null, "data"),
            new("audit", "pipeline.outputs", null, null, "data"),
        ]);

    private static IRenderedComponent<PipelineGraphView> Render(BunitContext ctx, IReadOnlyList<PipelineStepStatusDto>? steps = null, IReadOnlyDictionary<string, string>? highlight = null)
        => ctx.Render<PipelineGraphView>(p => p
            .Add(c => c.Graph, Graph)
            .Add(c => c.Steps, steps)
            .Add(c => c.Highlight, highlight));

    [Fact]
    public async Task Every_node_and_edge_is_drawn()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx);

        Assert.Equal(new[] { "pipeline.inputs", "classify", "audit", "explain", "pipeline.outputs" }.Order(StringComparer.Ordinal),
            view.FindAll("[data-testid=pipeline-node]").Select(n => n.GetAttribute("data-node")!).Order(StringComparer.Ordinal));
        // classify → explain carries data and a condition: two edges; the rest one each.
        Assert.Equal(7, view.FindAll("[data-testid=pipeline-edge]").Count);
        Assert.Equal(["audit", "classify", "explain"], view.FindAll("[data-testid=pipeline-node-name]").Select(t => t.TextContent).Order(StringComparer.Ordinal));
        Assert.Contains("explainer:2", view.FindAll("[data-testid=pipeline-node-model]").Select(t => t.TextContent));
    }

    [Fact]
    public async Task Columns_follow_the_layers_left_to_right()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx);

        double X(string node) => double.Parse(view.Find($"[data-node='{node}']").GetAttribute("data-x")!, CultureInfo.InvariantCulture);
        Assert.True(X("pipeline.inputs") < X("classify"));
        Assert.True(X("classify") < X("explain"));
        Assert.Equal(X("explain"), X("audit"));
        Assert.True(X("audit") < X("pipeline.outputs"));
    }

    [Fact]
    public async Task The_layout_is_the_same_every_time_whatever_the_order_of_the_nodes()
    {
        var shuffled = Graph with { Nodes = [.. Graph.Nodes.Reverse()], Edges = [.. Graph.Edges.Reverse()] };

        var a = PipelineLayout.Of(Graph);
        var b = PipelineLayout.Of(shuffled);

        Assert.Equal(a.Nodes.Select(n => (n.Node.Id, n.X, n.Y)), b.Nodes.Select(n => (n.Node.Id, n.X, n.Y)));
        Assert.Equal(a.Edges.Select(e => e.Path), b.Edges.Select(e => e.Path));
    }

    [Fact]
    public async Task Conditions_show_as_badges_and_trigger_and_condition_edges_are_dashed()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx);

        var badges = view.FindAll("[data-testid=pipeline-node-condition] text").Select(b => b.ChildNodes[0].TextContent).ToList();
        Assert.Equal(2, badges.Count);
        Assert.Contains(badges, b => b.StartsWith("when classify.outputs.", StringComparison.Ordinal));
        Assert.Contains(badges, b => b.StartsWith("per row · when ", StringComparison.Ordinal));

        foreach (var edge in view.FindAll("[data-testid=pipeline-edge]"))
        {
            bool dashed = edge.QuerySelector("path")!.HasAttribute("stroke-dasharray");
            Assert.Equal(edge.GetAttribute("data-kind") != "data", dashed);
        }
    }

    [Fact]
    public async Task A_renamed_tensor_is_labelled_with_an_arrow()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx);

        var labels = view.FindAll("[data-testid=pipeline-edge-label]").Select(l => l.ChildNodes[0].TextContent).ToList();
        Assert.Contains("Score → Features", labels);
        Assert.Contains("Features", labels);
    }

    [Fact]
    public async Task Steps_are_coloured_by_readiness()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx, steps:
        [
            new("classify", "iris", null, true, null),
            new("explain", "explainer", 2, false, "model 'explainer' has no Ready replica"),
        ]);

        Assert.Contains("pg-state-ready", view.Find("[data-node=classify]").ClassName, StringComparison.Ordinal);
        Assert.Contains("pg-state-waiting", view.Find("[data-node=explain]").ClassName, StringComparison.Ordinal);
        Assert.Contains("has no Ready replica", view.Find("[data-node=explain] title").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_highlights_each_step_by_what_happened_to_it()
    {
        await using var ctx = new BunitContext();
        var view = Render(ctx, highlight: new Dictionary<string, string>
        {
            ["classify"] = PipelineStepStates.Ran,
            ["explain"] = PipelineStepStates.Skipped,
        });

        Assert.Contains("pg-state-ran", view.Find("[data-node=classify]").ClassName, StringComparison.Ordinal);
        Assert.Contains("pg-state-skipped", view.Find("[data-node=explain]").ClassName, StringComparison.Ordinal);
        Assert.Contains("pg-state-not-run", view.Find("[data-node=audit]").ClassName, StringComparison.Ordinal);
        Assert.Equal("ran", view.Find("[data-node=classify]").GetAttribute("data-state"));
        Assert.DoesNotContain("pg-state", view.Find("[data-node='pipeline.inputs']").ClassName, StringComparison.Ordinal);
    }
}
