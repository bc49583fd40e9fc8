namespace Mds.Contracts.Api;

/// <summary>
/// The value of <see cref="MdsHeaders.Experiment"/>: which experiment and candidate a call the gateway sends to a worker
/// is for, and whether it is the mirror's shadow copy. Written <c>experiment:candidate</c>, with <c>;mirror</c> appended
/// for a shadow copy. The experiment is everything before the first <c>:</c> (experiment names have none); the
/// candidate the rest (a candidate key may hold <c>@</c>).
/// </summary>
/// <param name="Experiment">The experiment's name.</param>
/// <param name="Candidate">The candidate's key (its name, or <c>name@version</c>), or the mirror's.</param>
/// <param name="Mirror">Whether the call is the mirror's shadow copy.</param>
public sealed record ExperimentTag(string Experiment, string Candidate, bool Mirror)
{
    /// <summary>The longest header value read; a longer one is ignored (experiment names are at most 100 characters).</summary>
    public const int MaxLength = 300;

    /// <summary>What follows the candidate in a shadow copy's tag.</summary>
    public const string MirrorSuffix = ";mirror";

    /// <summary>The header value for a call to <paramref name="candidate"/> of <paramref name="experiment"/>.</summary>
    /// <param name="experiment">The experiment's name.</param>
    /// <param name="candidate">The candidate's key.</param>
    /// <param name="mirror">Whether the call is the mirror's shadow copy.</param>
    public static string Value(string experiment, string candidate, bool mirror)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(candidate);
        return mirror ? experiment + ":" + candidate + MirrorSuffix : experiment + ":" + candidate;
    }

    /// <summary>This tag as the header value.</summary>
    public override string ToString() => Value(Experiment, Candidate, Mirror);

    /// <summary>
    /// The tag in <paramref name="value"/>, or null when there is none or it is malformed: empty, longer than
    /// <see cref="MaxLength"/>, without an experiment or a candidate, or holding control characters.
    /// </summary>
    /// <param name="value">The header value as received.</param>
    public static ExperimentTag? Parse(string? value)
    {
        if (value is null || value.Length is 0 or > MaxLength)
        {
            return null;
        }

        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                return null;
            }
        }

        bool mirror = value.EndsWith(MirrorSuffix, StringComparison.Ordinal);
        var text = mirror ? value.AsSpan(0, value.Length - MirrorSuffix.Length) : value.AsSpan();
        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return null;
        }

        return new ExperimentTag(text[..colon].ToString(), text[(colon + 1)..].ToString(), mirror);
    }
}
