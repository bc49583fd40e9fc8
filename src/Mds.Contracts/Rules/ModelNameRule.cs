using System.Text.RegularExpressions;

namespace Mds.Contracts.Rules;

/// <summary>
/// The rule for a model's name, checked by the backend when a model is uploaded and by the portal as a person types
/// it: 1 to <see cref="MaxLength"/> letters, digits, <c>.</c>, <c>_</c> or <c>-</c>, starting with a letter or digit
/// (so a name is safe in a URL path segment and in the V2 routes <c>/v2/models/{name}</c>). Pure: no I/O.
/// </summary>
public static partial class ModelNameRule
{
    /// <summary>The longest model name.</summary>
    public const int MaxLength = 128;

    /// <summary>The rule in words, for messages: what a name may hold.</summary>
    public const string Description = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit";

    /// <summary>Whether <paramref name="name"/> is a model name as given (no trimming).</summary>
    /// <param name="name">The name to check.</param>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex Pattern();
}
