using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines;

/// <summary>
/// A validated pipeline version, ready to run: every reference resolved, steps in an order where each comes after
/// everything it depends on (topological; ties in spec order). Built by <see cref="PipelineValidator"/>; run by
/// <see cref="PipelineExecutor"/>. Immutable and shared by concurrent runs.
/// </summary>
public sealed class PipelineGraph
{
    public required string Name { get; init; }

    /// <summary>Steps in topological order.</summary>
    public required IReadOnlyList<PipelineStep> Steps { get; init; }

    public required PipelineOutput Output { get; init; }

    /// <summary>The whole run's time limit; null: the configured default.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>A step of a <see cref="PipelineGraph"/>.</summary>
public sealed class PipelineStep
{
    public required string Name { get; init; }

    /// <summary>Position in the spec's <c>steps</c> list (for messages and layout).</summary>
    public required int Index { get; init; }

    public required string Model { get; init; }

    /// <summary>The pinned model version; null: the model's live version.</summary>
    public int? ModelVersion { get; init; }

    /// <summary>Data inputs, in spec order (never empty: a step with none in its spec gets <c>pipeline.inputs</c>).</summary>
    public required IReadOnlyList<TensorReference> Inputs { get; init; }

    public required JoinType InputsJoin { get; init; }

    /// <summary>
    /// Canonical reference text (<c>step.outputs.t</c>, <c>pipeline.inputs.t</c>) → the model's input name. A tensor
    /// reached through a whole-source reference is looked up by its canonical tensor reference too.
    /// </summary>
    public required IReadOnlyDictionary<string, string> TensorMap { get; init; }

    public required IReadOnlyList<TensorReference> Triggers { get; init; }

    public required JoinType TriggersJoin { get; init; }

    public Condition? When { get; init; }

    public bool PerRow { get; init; }

    public TimeSpan? Timeout { get; init; }

    /// <summary>Further attempts after a connection failure or a 503.</summary>
    public int Retries { get; init; }

    /// <summary>Names of the steps this one waits for (inputs, triggers and the condition's references; never "pipeline").</summary>
    public required IReadOnlyList<string> DependsOn { get; init; }

    /// <summary><c>model</c> or <c>model:version</c>, as in the spec.</summary>
    public string ModelText => ModelVersion is int v ? $"{Model}:{v}" : Model;
}

/// <summary>The output of a <see cref="PipelineGraph"/>.</summary>
public sealed class PipelineOutput
{
    /// <summary>References to step outputs (or pipeline inputs), in spec order.</summary>
    public required IReadOnlyList<TensorReference> Steps { get; init; }

    public required JoinType Join { get; init; }

    /// <summary>Canonical reference text (<c>step.outputs.t</c>) → the name the caller sees.</summary>
    public required IReadOnlyDictionary<string, string> TensorMap { get; init; }
}

/// <summary>A model version's schema as validation and metadata see it.</summary>
public sealed record ModelSchema(string Model, int Version, IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs);

/// <summary>
/// Finds the schema a step's model would run with: <paramref name="version"/> when pinned, else the model's live version
/// (or its newest). Null when the model (version) does not exist: validation then skips the static type checks for that
/// step, and the version waits for the model.
/// </summary>
public delegate ModelSchema? ModelSchemaLookup(string model, int? version);
