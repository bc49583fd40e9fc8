using System.Globalization;
using System.Text.RegularExpressions;

namespace Mds.Contracts.Rules;

/// <summary>
/// The rule for a model's tags (e.g. <c>tabular</c>, <c>team:risk</c>): after <see cref="Normalize"/> (trimmed,
/// lower-cased), 1 to <see cref="MaxLength"/> letters a–z, digits, <c>-</c>, <c>_</c>, <c>.</c> or <c>:</c>, starting
/// with a letter or digit; at most <see cref="MaxTags"/> per model. Checked by the backend when tags are set and by the
/// portal as a person types them. Pure: no I/O.
/// </summary>
public static partial class ModelTagRule
{
    /// <summary>The most tags a model may have.</summary>
    public const int MaxTags = 20;

    /// <summary>The longest tag.</summary>
    public const int MaxLength = 32;

    /// <summary>The rule in words, for messages: what a tag may hold.</summary>
    public const string Description = "1 to 32 letters, digits, '-', '_', '.' or ':', starting with a letter or digit";

    /// <summary>The tag as stored: trimmed and lower-cased (invariant culture).</summary>
    /// <param name="tag">The tag as typed.</param>
    public static string Normalize(string tag)
    {
        ArgumentNullException.ThrowIfNull(tag);
        return tag.Trim().ToLower(CultureInfo.InvariantCulture);
    }

    /// <summary>Whether <paramref name="tag"/> (already normalised) is a tag.</summary>
    /// <param name="tag">The normalised tag.</param>
    public static bool IsValid(string? tag) => tag is { Length: > 0 and <= MaxLength } && Pattern().IsMatch(tag);

    [GeneratedRegex("^[a-z0-9][a-z0-9._:-]*$")]
    private static partial Regex Pattern();
}
