using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines;

/// <summary>
/// What a <see cref="PipelineGraph"/> looks like from outside: its V2 metadata (inputs and outputs, from its models'
/// schemas) and its drawing. Pure: the schemas come through <see cref="ModelSchemaLookup"/>.
/// </summary>
public static class PipelineSignature
{
    public const string InputsNode = "pipeline.inputs";
    public const string OutputsNode = "pipeline.outputs";

    /// <summary>
    /// The pipeline's V2 inputs and outputs. Inputs: each tensor read from <c>pipeline.inputs</c>, under the
    /// pipeline-side name, with the consuming model's metadata (a whole <c>pipeline.inputs</c> brings every input of the
    /// model, named as the model names them); first use wins. Outputs: the output's references resolved to the producing
    /// models' outputs, renamed by the output's tensorMap. Steps whose model is unknown contribute nothing.
    /// </summary>
    public static (IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs) Of(PipelineGraph graph, ModelSchemaLookup schemas)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(schemas);
        var stepSchemas = graph.Steps.ToDictionary(s => s.Name, s => schemas(s.Model, s.ModelVersion), StringComparer.Ordinal);
        var inputs = new List<TensorMetadata>();
        var inputNames = new HashSet<string>(StringComparer.Ordinal);

        void AddInput(TensorMetadata tensor)
        {
            if (inputNames.Add(tensor.Name))
            {
                inputs.Add(tensor);
            }
        }

        foreach (var step in graph.Steps)
        {
            if (stepSchemas[step.Name] is not { } schema)
            {
                continue;
            }

            foreach (var r in step.Inputs.Where(r => r.Source == ReferenceSource.PipelineInputs))
            {
                if (r.Tensor is null)
                {
                    schema.Inputs.ToList().ForEach(AddInput);
                    continue;
                }

                string modelName = step.TensorMap.GetValueOrDefault(r.ToString(), r.Tensor);
                if (schema.Inputs.FirstOrDefault(t => t.Name == modelName) is { } input)
                {
                    AddInput(input with { Name = r.Tensor });
                }
            }
        }

        var outputs = new List<TensorMetadata>();
        var outputNames = new HashSet<string>(StringComparer.Ordinal);

        void AddOutput(TensorReference reference, TensorMetadata tensor)
        {
            string name = graph.Output.TensorMap.GetValueOrDefault(reference.ToString(), tensor.Name);
            if (outputNames.Add(name))
            {
                outputs.Add(tensor with { Name = name });
            }
        }

        foreach (var r in graph.Output.Steps)
        {
            IEnumerable<TensorMetadata> source = r.Source == ReferenceSource.PipelineInputs
                ? inputs
                : stepSchemas.GetValueOrDefault(r.Step)?.Outputs ?? [];
            foreach (var tensor in source.Where(t => r.Tensor is null || t.Name == r.Tensor).ToList())
            {
                AddOutput(r with { Tensor = tensor.Name }, tensor);
            }
        }

        return (inputs, outputs);
    }

    /// <summary>
    /// The graph for drawing left to right: <c>pipeline.inputs</c> at layer 0, each step at the length of the longest
    /// path to it from the inputs, <c>pipeline.outputs</c> one layer past the last step; edges for data, triggers,
    /// condition references and the output's references.
    /// </summary>
    public static PipelineGraphDto Draw(PipelineGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var layers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var step in graph.Steps) // topological: dependencies are laid out first
        {
            layers[step.Name] = 1 + step.DependsOn.Select(d => layers.GetValueOrDefault(d)).DefaultIfEmpty(0).Max();
        }

        int outputLayer = layers.Values.DefaultIfEmpty(0).Max() + 1;
        var nodes = new List<PipelineGraphNodeDto> { new(InputsNode, "input", null, null, false, Lower(JoinType.Inner), 0) };
        var edges = new List<PipelineGraphEdgeDto>();
        static string From(TensorReference r) => r.Source == ReferenceSource.PipelineInputs ? InputsNode : r.Step;

        foreach (var step in graph.Steps)
        {
            nodes.Add(new PipelineGraphNodeDto(step.Name, "step", step.ModelText, step.When?.Text, step.PerRow, Lower(step.InputsJoin), layers[step.Name]));
            foreach (var r in step.Inputs)
            {
                string? mapped = r.Tensor is null ? null : step.TensorMap.GetValueOrDefault(r.ToString());
                edges.Add(new PipelineGraphEdgeDto(From(r), step.Name, r.Tensor, mapped, "data"));
            }

            edges.AddRange(step.Triggers.Select(r => new PipelineGraphEdgeDto(From(r), step.Name, r.Tensor, null, "trigger")));
            edges.AddRange((step.When?.References ?? []).Select(r => new PipelineGraphEdgeDto(From(r), step.Name, r.Tensor, null, "condition")));
        }

        nodes.Add(new PipelineGraphNodeDto(OutputsNode, "output", null, null, false, Lower(graph.Output.Join), outputLayer));
        foreach (var r in graph.Output.Steps)
        {
            string? mapped = r.Tensor is null ? null : graph.Output.TensorMap.GetValueOrDefault(r.ToString());
            edges.Add(new PipelineGraphEdgeDto(From(r), OutputsNode, r.Tensor, mapped, "data"));
        }

        return new PipelineGraphDto(nodes, edges);
    }

    private static string Lower(JoinType join) => join.ToString().ToLowerInvariant();
}
