using Mds.Contracts.Api;
using Mds.Contracts.Rules;

namespace Mds.Portal.Components.Pages.Models;

/// <summary>
/// A model's tags, by <see cref="ModelTagRule"/> (the backend's own rule): lower-case words of letters a–z, digits, <c>-</c>, <c>_</c>, <c>.</c> and
/// <c>:</c> starting with a letter or digit, at most 32 characters each and 20 per model. Typed text is split on commas and spaces and lower-cased,
/// so a person hears about a bad tag as they type it. No I/O: tested directly.
/// </summary>
public static class ModelTags
{
    /// <summary>The most tags a model may have.</summary>
    public const int MaxTags = ModelTagRule.MaxTags;

    /// <summary>The longest tag.</summary>
    public const int MaxLength = ModelTagRule.MaxLength;

    private static readonly char[] Separators = [',', ';', ' ', '\t', '\n', '\r'];

    /// <summary>The tag as the backend stores it: trimmed and lower-cased.</summary>
    public static string Normalize(string tag) => ModelTagRule.Normalize(tag);

    /// <summary>Why <paramref name="tag"/> (already normalised) is not a tag, or null.</summary>
    public static string? Error(string tag)
    {
        ArgumentNullException.ThrowIfNull(tag);
        if (tag.Length == 0)
        {
            return "Enter a tag.";
        }

        if (tag.Length > MaxLength)
        {
            return $"“{tag}” is longer than {MaxLength} characters.";
        }

        return ModelTagRule.IsValid(tag)
            ? null
            : $"“{tag}”: letters a–z, digits, '-', '_', '.' and ':' only, starting with a letter or digit.";
    }

    /// <summary>
    /// Adds the words of <paramref name="typed"/> to <paramref name="tags"/>: each normalised, duplicates dropped. Words
    /// that are not tags, and those past <see cref="MaxTags"/>, are left in <see cref="TagEdit.Remaining"/> with the
    /// first reason in <see cref="TagEdit.Error"/>, so the person can correct them.
    /// </summary>
    public static TagEdit Add(IReadOnlyList<string> tags, string? typed)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var result = tags.ToList();
        List<string> refused = [];
        string? error = null;
        foreach (string word in (typed ?? "").Split(Separators, StringSplitOptions.RemoveEmptyEntries))
        {
            string tag = Normalize(word);
            if (result.Contains(tag, StringComparer.Ordinal))
            {
                continue;
            }

            string? problem = Error(tag) ?? (result.Count >= MaxTags ? $"A model has at most {MaxTags} tags." : null);
            if (problem is not null)
            {
                refused.Add(word);
                error ??= problem;
                continue;
            }

            result.Add(tag);
        }

        return new TagEdit(result, string.Join(' ', refused), error);
    }

    /// <summary>The model's tags (none from a backend that does not tag models).</summary>
    public static IReadOnlyList<string> Of(ModelDto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Tags ?? [];
    }

    /// <summary>
    /// True when <paramref name="model"/> carries <paramref name="tag"/> (or no tag is asked for) and its name, or one of
    /// its tags, contains <paramref name="search"/> (or nothing is searched for).
    /// </summary>
    public static bool Matches(ModelDto model, string? search, string? tag)
    {
        var tags = Of(model);
        if (!string.IsNullOrWhiteSpace(tag) && !tags.Contains(Normalize(tag), StringComparer.Ordinal))
        {
            return false;
        }

        if (string.IsNullOrWhiteSpace(search))
        {
            return true;
        }

        string text = search.Trim();
        return model.Name.Contains(text, StringComparison.OrdinalIgnoreCase)
            || tags.Any(t => t.Contains(text, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Every tag the models carry with how many carry it, the most used first (then by name).</summary>
    public static IReadOnlyList<TagCount> Count(IEnumerable<ModelDto> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        return [.. models.SelectMany(Of).GroupBy(t => t, StringComparer.Ordinal)
            .Select(g => new TagCount(g.Key, g.Count()))
            .OrderByDescending(c => c.Models).ThenBy(c => c.Tag, StringComparer.Ordinal)];
    }
}

/// <summary>Tags after an edit: the list, the words that were not taken, and why the first of them was not.</summary>
public sealed record TagEdit(IReadOnlyList<string> Tags, string Remaining, string? Error);

/// <summary>A tag and how many models carry it.</summary>
public sealed record TagCount(string Tag, int Models);
