using System.Globalization;
using System.Text.RegularExpressions;
using Mds.Contracts.Api;

namespace Mds.Portal.Components.Pages.Experiments;

/// <summary>
/// Where in a YAML spec the backend's problem is. The experiments API names each problem by its path
/// (<c>candidates[1].weight: …</c>, <c>rollout.steps: …</c>) without a line, so the editor finds the line itself in the
/// text it sent: block-style YAML, keys and list items by indentation (as the spec is written; a path it cannot follow
/// gives the deepest line found, or none). A YAML syntax error carries its own <c>Line: n</c>. No I/O: tested directly.
/// </summary>
public static partial class ExperimentSpecLines
{
    /// <summary>Each problem with its line where the text shows it (problems that have a line keep it).</summary>
    public static IReadOnlyList<PipelineSpecProblemDto> WithLines(string text, IReadOnlyList<PipelineSpecProblemDto> problems)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(problems);
        return [.. problems.Select(p => p.Line is not null ? p : p with { Line = Find(text, p.Path) ?? SyntaxLine(p.Message) })];
    }

    /// <summary>A problem as the experiments API words it, <c>path: message</c>, split into its path and message.</summary>
    public static PipelineSpecProblemDto Parse(string problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        int colon = problem.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && PathPattern().IsMatch(problem[..colon])
            ? new PipelineSpecProblemDto(problem[..colon], problem[(colon + 2)..])
            : new PipelineSpecProblemDto("", problem);
    }

    /// <summary>The 1-based line of <paramref name="path"/> in block-style YAML, or null (JSON, or nothing found).</summary>
    public static int? Find(string text, string? path)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrEmpty(path) || text.TrimStart().StartsWith('{') || !PathPattern().IsMatch(path))
        {
            return null;
        }

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(Read).ToArray();
        int start = 0, end = lines.Length;
        int? level = null;
        int? found = null;
        foreach (string segment in path.Split('.'))
        {
            var match = SegmentPattern().Match(segment);
            string key = match.Groups["key"].Value;
            int at = -1;
            for (int i = start; i < end; i++)
            {
                if (lines[i].Key is null)
                {
                    continue;
                }

                level ??= lines[i].KeyColumn;
                if (lines[i].KeyColumn == level && string.Equals(lines[i].Key, key, StringComparison.Ordinal))
                {
                    at = i;
                    break;
                }
            }

            if (at < 0)
            {
                return found;
            }

            found = at + 1;
            int column = lines[at].KeyColumn;
            int blockEnd = at + 1;
            while (blockEnd < end && (lines[blockEnd].Blank || lines[blockEnd].Indent > column || (lines[blockEnd].Indent == column && lines[blockEnd].Item)))
            {
                blockEnd++;
            }

            start = at + 1;
            end = blockEnd;
            level = null;
            if (match.Groups["index"].Success)
            {
                int index = int.Parse(match.Groups["index"].Value, CultureInfo.InvariantCulture);
                var items = Enumerable.Range(start, end - start).Where(i => lines[i].Item).ToList();
                int itemIndent = items.Count > 0 ? lines[items[0]].Indent : -1;
                items = [.. items.Where(i => lines[i].Indent == itemIndent)];
                if (index >= items.Count)
                {
                    return found;
                }

                found = items[index] + 1;
                start = items[index];
                end = index + 1 < items.Count ? items[index + 1] : end;
                level = lines[items[index]].KeyColumn;
            }
        }

        return found;
    }

    private static int? SyntaxLine(string message)
    {
        var match = SyntaxLinePattern().Match(message ?? "");
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    // One line: its indentation, whether it starts a list item ("- "), and the key it holds ("name:") with the column
    // the key starts at (after any "- ").
    private static Line Read(string text)
    {
        string content = text.TrimEnd();
        int indent = content.Length - content.TrimStart(' ').Length;
        string rest = content[indent..];
        if (rest.Length == 0 || rest.StartsWith('#'))
        {
            return new Line(indent, false, null, indent, true);
        }

        bool item = rest == "-" || rest.StartsWith("- ", StringComparison.Ordinal);
        int keyColumn = indent;
        if (item)
        {
            string after = rest.Length > 1 ? rest[1..] : "";
            keyColumn = indent + 1 + (after.Length - after.TrimStart(' ').Length);
            rest = after.TrimStart(' ');
        }

        var key = KeyPattern().Match(rest);
        return new Line(indent, item, key.Success ? key.Groups[1].Value : null, keyColumn, false);
    }

    private sealed record Line(int Indent, bool Item, string? Key, int KeyColumn, bool Blank);

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z][A-Za-z0-9_]*(\[\d+\])?)*$")]
    private static partial Regex PathPattern();

    [GeneratedRegex(@"^(?<key>[A-Za-z][A-Za-z0-9_]*)(\[(?<index>\d+)\])?$")]
    private static partial Regex SegmentPattern();

    [GeneratedRegex(@"^[""']?([A-Za-z][A-Za-z0-9_]*)[""']?\s*:(\s|$)")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"\bLine: (\d+)")]
    private static partial Regex SyntaxLinePattern();
}
