using Mds.Contracts.Rules;

namespace Mds.Backend.Registry;

/// <summary>
/// Model tags by <see cref="ModelTagRule"/> (shared with the portal): lower-case words of letters, digits, '-', '_',
/// '.', ':' (e.g. <c>tabular</c>, <c>team:risk</c>), at most <see cref="MaxLength"/> characters each and
/// <see cref="MaxTags"/> per model. Pure: no I/O.
/// </summary>
public static class ModelTags
{
    public const int MaxTags = ModelTagRule.MaxTags;
    public const int MaxLength = ModelTagRule.MaxLength;

    /// <summary>Normalises (trim, lower case, distinct, sorted) and checks <paramref name="given"/>.</summary>
    /// <returns>The tags, or the reason one of them is not a tag.</returns>
    public static (List<string>? Tags, string? Error) Parse(IEnumerable<string> given)
    {
        ArgumentNullException.ThrowIfNull(given);
        var tags = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string raw in given)
        {
            string tag = ModelTagRule.Normalize(raw ?? "");
            if (tag.Length == 0)
            {
                continue;
            }

            if (!ModelTagRule.IsValid(tag))
            {
                string shown = tag.Length > MaxLength ? tag[..MaxLength] + "…" : tag;
                return (null, $"Tag '{shown}' is not a tag: {ModelTagRule.Description}.");
            }

            tags.Add(tag);
        }

        if (tags.Count > MaxTags)
        {
            return (null, $"A model has at most {MaxTags} tags; {tags.Count} were given.");
        }

        return ([.. tags], null);
    }

    /// <summary>The union of <paramref name="existing"/> and <paramref name="added"/>, sorted.</summary>
    public static List<string> Merge(IEnumerable<string> existing, IEnumerable<string> added) =>
        [.. existing.Concat(added).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
}
