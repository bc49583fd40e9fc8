using System.Globalization;
using Mds.Contracts.Api;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>
/// Where each node and edge of a pipeline's graph goes: one column per layer, left to right; in each column the nodes
/// spread evenly over the tallest column's height, ordered by where their sources sit (then by name) so edges cross
/// less. An edge that skips a column (e.g. <c>pipeline.inputs</c> straight to a later step) would run behind the
/// nodes between; it is routed over them instead, each in a lane of its own above the nodes. Pure and deterministic:
/// the same graph always lays out the same.
/// </summary>
public sealed class PipelineLayout
{
    /// <summary>A node's width.</summary>
    public const double NodeWidth = 200;

    /// <summary>A node's height.</summary>
    public const double NodeHeight = 78;

    private const double ColumnGap = 120;
    private const double RowGap = 36;
    private const double Margin = 24;
    private const double LaneGap = 18;

    private PipelineLayout(IReadOnlyList<PlacedNode> nodes, IReadOnlyList<PlacedEdge> edges, double width, double height)
    {
        Nodes = nodes;
        Edges = edges;
        Width = width;
        Height = height;
    }

    /// <summary>The nodes with their boxes, column by column.</summary>
    public IReadOnlyList<PlacedNode> Nodes { get; }

    /// <summary>The edges, one per source, target and kind (their tensors joined in one label).</summary>
    public IReadOnlyList<PlacedEdge> Edges { get; }

    /// <summary>The drawing's width.</summary>
    public double Width { get; }

    /// <summary>The drawing's height.</summary>
    public double Height { get; }

    /// <summary>Lays <paramref name="graph"/> out.</summary>
    public static PipelineLayout Of(PipelineGraphDto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var columns = graph.Nodes.GroupBy(n => Math.Max(0, n.Layer)).OrderBy(g => g.Key).ToList();
        int tallest = columns.Count == 0 ? 0 : columns.Max(c => c.Count());
        var layerOf = graph.Nodes.GroupBy(n => n.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => Math.Max(0, g.First().Layer), StringComparer.Ordinal);
        var grouped = graph.Edges
            .Where(e => layerOf.ContainsKey(e.From) && layerOf.ContainsKey(e.To))
            .GroupBy(e => (e.From, e.To, e.Kind))
            .ToList();
        var longEdges = grouped.Where(g => layerOf[g.Key.To] - layerOf[g.Key.From] > 1)
            .OrderBy(g => layerOf[g.Key.To] - layerOf[g.Key.From]).ThenBy(g => g.Key.From, StringComparer.Ordinal).ThenBy(g => g.Key.To, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Kind, StringComparer.Ordinal)
            .Select((g, i) => (g.Key, Lane: i))
            .ToDictionary(x => x.Key, x => x.Lane);
        double top = longEdges.Count * LaneGap; // lanes for edges that skip columns, above the nodes
        double height = top + Math.Max(NodeHeight + 2 * Margin, tallest * NodeHeight + (tallest - 1) * RowGap + 2 * Margin);
        int lastLayer = columns.Count == 0 ? 0 : columns[^1].Key;
        double width = 2 * Margin + (lastLayer + 1) * NodeWidth + lastLayer * ColumnGap;

        var sources = graph.Edges.ToLookup(e => e.To, e => e.From, StringComparer.Ordinal);
        var rowOf = new Dictionary<string, double>(StringComparer.Ordinal);
        var placed = new Dictionary<string, PlacedNode>(StringComparer.Ordinal);
        foreach (var column in columns)
        {
            // Ordered by the mean row of the node's sources already placed (barycentre), then by id.
            var ordered = column
                .Select(n => (Node: n, Key: sources[n.Id].Where(rowOf.ContainsKey).Select(s => rowOf[s]).DefaultIfEmpty(double.MaxValue).Average()))
                .OrderBy(x => x.Key)
                .ThenBy(x => x.Node.Kind == "input" ? 0 : x.Node.Kind == "output" ? 2 : 1)
                .ThenBy(x => x.Node.Id, StringComparer.Ordinal)
                .Select(x => x.Node)
                .ToList();
            double x = Margin + column.Key * (NodeWidth + ColumnGap);
            for (int i = 0; i < ordered.Count; i++)
            {
                // Spread evenly: the i-th of n centres sits at (i + 1) / (n + 1) of the height.
                double centre = top + ((height - top) * (i + 1) / (ordered.Count + 1));
                var node = ordered[i];
                rowOf[node.Id] = i / (double)Math.Max(1, ordered.Count - 1);
                placed[node.Id] = new PlacedNode(node, x, centre - NodeHeight / 2);
            }
        }

        var edges = grouped
            .OrderBy(g => placed[g.Key.From].X).ThenBy(g => placed[g.Key.From].Y).ThenBy(g => placed[g.Key.To].Y)
            .ThenBy(g => g.Key.Kind, StringComparer.Ordinal)
            .Select(g => longEdges.TryGetValue(g.Key, out int lane)
                ? PlaceOver(placed[g.Key.From], placed[g.Key.To], g.Key.Kind, Label(g), Margin / 2 + (lane * LaneGap))
                : Place(placed[g.Key.From], placed[g.Key.To], g.Key.Kind, Label(g)))
            .ToList();

        return new PipelineLayout([.. placed.Values.OrderBy(n => n.X).ThenBy(n => n.Y)], edges, width, height);
    }

    /// <summary>What an edge carries: <c>Score → Features</c> when the tensor is renamed, the tensor, or nothing for all of them.</summary>
    public static string? Label(PipelineGraphEdgeDto edge)
    {
        ArgumentNullException.ThrowIfNull(edge);
        if (edge.Tensor is null)
        {
            return edge.MappedTo;
        }

        return edge.MappedTo is { } to && !string.Equals(to, edge.Tensor, StringComparison.Ordinal) ? $"{edge.Tensor} → {to}" : edge.Tensor;
    }

    private static string? Label(IEnumerable<PipelineGraphEdgeDto> edges)
    {
        var labels = edges.Select(Label).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        return labels.Count == 0 ? null : string.Join(", ", labels);
    }

    private static PlacedEdge Place(PlacedNode from, PlacedNode to, string kind, string? label)
    {
        double x1 = from.X + NodeWidth, y1 = from.Y + NodeHeight / 2;
        double x2 = to.X, y2 = to.Y + NodeHeight / 2;
        double bend = Math.Max(40, Math.Abs(x2 - x1) / 2);
        string path = string.Create(CultureInfo.InvariantCulture, $"M {x1:0.#} {y1:0.#} C {x1 + bend:0.#} {y1:0.#}, {x2 - bend:0.#} {y2:0.#}, {x2:0.#} {y2:0.#}");
        // The label sits on the curve's midpoint (a symmetric cubic passes through the chord's midpoint), nudged up.
        return new PlacedEdge(from.Node.Id, to.Node.Id, kind, label, path, (x1 + x2) / 2, (y1 + y2) / 2 - 6);
    }

    /// <summary>An edge that skips columns: up into its lane, along it over the nodes between, down into its target.</summary>
    private static PlacedEdge PlaceOver(PlacedNode from, PlacedNode to, string kind, string? label, double laneY)
    {
        double x1 = from.X + NodeWidth, y1 = from.Y + NodeHeight / 2;
        double x2 = to.X, y2 = to.Y + NodeHeight / 2;
        const double Turn = 40;
        string path = string.Create(CultureInfo.InvariantCulture,
            $"M {x1:0.#} {y1:0.#} C {x1 + Turn:0.#} {y1:0.#}, {x1 + Turn:0.#} {laneY:0.#}, {x1 + (2 * Turn):0.#} {laneY:0.#} L {x2 - (2 * Turn):0.#} {laneY:0.#} C {x2 - Turn:0.#} {laneY:0.#}, {x2 - Turn:0.#} {y2:0.#}, {x2:0.#} {y2:0.#}");
        return new PlacedEdge(from.Node.Id, to.Node.Id, kind, label, path, (x1 + x2) / 2, laneY - 4);
    }
}

/// <summary>A node and its box's top-left corner.</summary>
public sealed record PlacedNode(PipelineGraphNodeDto Node, double X, double Y);

/// <summary>An edge as a path, with where its label goes.</summary>
public sealed record PlacedEdge(string From, string To, string Kind, string? Label, string Path, double LabelX, double LabelY);
