using System.Globalization;
using Mds.Contracts.Api;
using Mds.Portal.Components.Pages.Pipelines;

namespace Mds.UnitTests.Portal;

/// <summary>Edges that skip a column are drawn over the nodes between, never behind them.</summary>
public sealed class PipelineLayoutTests
{
    private static readonly PipelineGraphDto Graph = new(
        [
            new("pipeline.inputs", "input", null, null, false, "inner", 0),
            new("classify", "step", "iris", null, false, "inner", 1),
            new("recheck", "step", "iris", "classify.outputs.PredictedLabel != 'setosa'", false, "inner", 2),
            new("pipeline.outputs", "output", null, null, false, "inner", 3),
        ],
        [
            new("pipeline.inputs", "classify", null, null, "data"),
            new("pipeline.inputs", "recheck", null, null, "data"),
            new("classify", "recheck", "PredictedLabel", null, "condition"),
            new("classify", "pipeline.outputs", null, null, "data"),
        ]);

    [Fact]
    public void An_edge_that_skips_columns_runs_above_every_node()
    {
        var layout = PipelineLayout.Of(Graph);

        double topOfNodes = layout.Nodes.Min(n => n.Y);
        foreach (var edge in layout.Edges.Where(e => e.From == "pipeline.inputs" && e.To == "recheck" || e.From == "classify" && e.To == "pipeline.outputs"))
        {
            double highest = Ys(edge.Path).Min();
            Assert.True(highest < topOfNodes, $"{edge.From} → {edge.To} reaches y={highest}, nodes start at {topOfNodes}");
        }
    }

    [Fact]
    public void Skipping_edges_get_lanes_of_their_own_and_neighbouring_edges_stay_straight()
    {
        var layout = PipelineLayout.Of(Graph);

        var lanes = layout.Edges.Where(e => e.From == "pipeline.inputs" && e.To == "recheck" || e.From == "classify" && e.To == "pipeline.outputs")
            .Select(e => Math.Round(Ys(e.Path).Min(), 1)).ToList();
        Assert.Equal(2, lanes.Distinct().Count());
        var next = layout.Edges.Single(e => e.From == "pipeline.inputs" && e.To == "classify");
        Assert.True(Ys(next.Path).Min() >= layout.Nodes.Min(n => n.Y));
    }

    private static IEnumerable<double> Ys(string path)
    {
        var numbers = path.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)
            .Where(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToList();
        return numbers.Where((_, i) => i % 2 == 1);
    }
}
