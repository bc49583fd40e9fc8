using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines.Conditions;

/// <summary>
/// Gives a condition the tensors it refers to. <see cref="TryGet"/> answers false when the referenced tensor is absent
/// (its step was skipped, or the model has no such output): a comparison on an absent tensor is false.
/// </summary>
public interface ITensorSource
{
    /// <summary>The tensor <paramref name="reference"/> names (a reference with a tensor name), if present.</summary>
    bool TryGet(TensorReference reference, out InferenceTensor tensor);
}

/// <summary>
/// A parsed <c>when</c> condition (grammar in docs/pipelines.md). Pure: no I/O. Parse once per pipeline version,
/// evaluate per run. <c>ConditionParser.Parse(text)</c> makes one.
/// </summary>
public abstract class Condition
{
    /// <summary>The text it was parsed from.</summary>
    public abstract string Text { get; }

    /// <summary>Every tensor the condition reads (each with a tensor name), for the DAG's edges and static checks.</summary>
    public abstract IReadOnlyList<TensorReference> References { get; }

    /// <summary>
    /// Whole-request evaluation: true when the condition holds. A comparison over a tensor with several elements holds
    /// when it holds for every element (so <c>x.outputs.label == 1</c> on a one-row request is the plain test).
    /// </summary>
    public abstract bool Evaluate(ITensorSource tensors);

    /// <summary>
    /// Per-row evaluation over <paramref name="rows"/> rows (first dimension): element i says whether row i is selected.
    /// A tensor of shape [rows, …] contributes per row (every element of the row must satisfy the comparison); a
    /// tensor whose first dimension is not <paramref name="rows"/> is an error.
    /// </summary>
    /// <exception cref="ConditionEvaluationException">The tensors do not fit the condition (e.g. row counts differ); the message names the tensor.</exception>
    public abstract bool[] EvaluateRows(ITensorSource tensors, int rows);
}

/// <summary>The text of a condition is not valid; <see cref="Exception.Message"/> says where (column) and why.</summary>
public sealed class ConditionSyntaxException(string message, int position) : Exception(message)
{
    /// <summary>0-based character position in the condition text.</summary>
    public int Position { get; } = position;
}

/// <summary>A condition could not be evaluated on these tensors (a caller's data problem: the run answers 400).</summary>
public sealed class ConditionEvaluationException(string message) : Exception(message);
