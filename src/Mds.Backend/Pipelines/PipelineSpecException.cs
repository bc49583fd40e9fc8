using Mds.Contracts.Api;

namespace Mds.Backend.Pipelines;

/// <summary>
/// A pipeline spec could not be read or is not valid. <see cref="Problems"/> holds every problem found (each with its
/// path into the spec); <see cref="Exception.Message"/> is the first as <c>path: message</c>. The API answers it with
/// a 400 and a <see cref="PipelineSpecErrorDto"/>.
/// </summary>
public sealed class PipelineSpecException : Exception
{
    public PipelineSpecException(IReadOnlyList<PipelineSpecProblemDto> problems)
        : base(Describe(problems))
    {
        Problems = problems;
    }

    public PipelineSpecException()
        : this([new PipelineSpecProblemDto("", "the pipeline spec is not valid")])
    {
    }

    public PipelineSpecException(string message)
        : this([new PipelineSpecProblemDto("", message)])
    {
    }

    public PipelineSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [new PipelineSpecProblemDto("", message)];
    }

    /// <summary>Every problem found, in the order of the spec (at least one).</summary>
    public IReadOnlyList<PipelineSpecProblemDto> Problems { get; }

    /// <summary>The body of the 400 answer.</summary>
    public PipelineSpecErrorDto ToDto() => new(Message, Problems);

    /// <summary><c>path: message</c>, or the message alone for a problem of the whole spec.</summary>
    public static string Describe(PipelineSpecProblemDto problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return problem.Path.Length == 0 ? problem.Message : $"{problem.Path}: {problem.Message}";
    }

    private static string Describe(IReadOnlyList<PipelineSpecProblemDto> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (problems.Count == 0)
        {
            throw new ArgumentException("a spec exception needs at least one problem", nameof(problems));
        }

        return Describe(problems[0]);
    }
}
