using System.Diagnostics.CodeAnalysis;

namespace Mds.Backend.Pipelines;

/// <summary>Where a reference points: the pipeline's inputs, or a step's outputs.</summary>
public enum ReferenceSource
{
    /// <summary><c>pipeline.inputs[.tensor]</c>.</summary>
    PipelineInputs,
    /// <summary><c>step.outputs[.tensor]</c> (or a bare <c>step</c>).</summary>
    StepOutputs,
}

/// <summary>
/// A parsed reference: <c>pipeline.inputs</c>, <c>pipeline.inputs.x</c>, <c>step</c>, <c>step.outputs</c>,
/// <c>step.outputs.x</c>. <see cref="Tensor"/> is null when the reference takes every tensor of its source.
/// Tensor names may contain dots (<c>step.outputs.a.b</c> names tensor <c>a.b</c>).
/// </summary>
/// <param name="Source">What the reference points into.</param>
/// <param name="Step">The step's name; <c>pipeline</c> for <see cref="ReferenceSource.PipelineInputs"/>.</param>
/// <param name="Tensor">One tensor, or null for all.</param>
public sealed record TensorReference(ReferenceSource Source, string Step, string? Tensor)
{
    /// <summary>The name of the pipeline pseudo-step.</summary>
    public const string Pipeline = "pipeline";

    /// <summary>Parses <paramref name="text"/>; false (with <paramref name="error"/>) when it is not a reference.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out TensorReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "an empty reference";
            return false;
        }

        text = text.Trim();
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        string head = dot < 0 ? text : text[..dot];
        if (head.Length == 0)
        {
            error = $"'{text}' is not a reference (expected step.outputs[.tensor] or pipeline.inputs[.tensor])";
            return false;
        }

        if (dot < 0)
        {
            reference = head == Pipeline
                ? new TensorReference(ReferenceSource.PipelineInputs, Pipeline, null)
                : new TensorReference(ReferenceSource.StepOutputs, head, null);
            return true;
        }

        string rest = text[(dot + 1)..];
        int dot2 = rest.IndexOf('.', StringComparison.Ordinal);
        string kind = dot2 < 0 ? rest : rest[..dot2];
        string? tensor = dot2 < 0 ? null : rest[(dot2 + 1)..];
        if (tensor is { Length: 0 })
        {
            error = $"'{text}' names no tensor after '{head}.{kind}.'";
            return false;
        }

        if (head == Pipeline)
        {
            if (kind != "inputs")
            {
                error = $"'{text}': the pipeline has only inputs (pipeline.inputs[.tensor])";
                return false;
            }

            reference = new TensorReference(ReferenceSource.PipelineInputs, Pipeline, tensor);
            return true;
        }

        if (kind != "outputs")
        {
            error = $"'{text}': a step is referred to by its outputs (step.outputs[.tensor]), not '{kind}'";
            return false;
        }

        reference = new TensorReference(ReferenceSource.StepOutputs, head, tensor);
        return true;
    }

    /// <summary>The canonical text: <c>pipeline.inputs[.t]</c> or <c>step.outputs[.t]</c>.</summary>
    public override string ToString() =>
        (Source == ReferenceSource.PipelineInputs ? "pipeline.inputs" : Step + ".outputs") + (Tensor is null ? "" : "." + Tensor);
}

/// <summary>How a step's inputs (or triggers, or the output's steps) are joined.</summary>
public enum JoinType
{
    /// <summary>Every reference must be present; else the step is skipped.</summary>
    Inner,
    /// <summary>Waits for every reference to be decided; runs with those present (at least one).</summary>
    Outer,
    /// <summary>Runs as soon as any reference is present, with what is present then.</summary>
    Any,
}
