using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Spectre.Console;

namespace Mds.Cli;

/// <summary>How results are printed (<c>-o</c>).</summary>
internal enum OutputFormat
{
    Table,
    Json,
    Yaml,
}

/// <summary>Prints results: a table (Spectre.Console) for people, JSON or YAML of the backend's DTOs for scripts.</summary>
internal static partial class Output
{
    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static JsonNode? ToNode(object? value) =>
        value as JsonNode ?? JsonSerializer.SerializeToNode(value, value?.GetType() ?? typeof(object), ApiClient.Json);

    public static string Json(object? value) => ToNode(value)?.ToJsonString(Indented) ?? "null";

    /// <summary>YAML of a JSON value (block style; strings double-quoted, which YAML reads as JSON strings).</summary>
    public static string Yaml(object? value)
    {
        var lines = new List<string>();
        Emit(ToNode(value), 0, lines);
        return string.Join('\n', lines);
    }

    private static void Emit(JsonNode? node, int indent, List<string> lines)
    {
        string pad = new(' ', indent);
        switch (node)
        {
            case JsonObject obj when obj.Count > 0:
                foreach (var (key, child) in obj)
                {
                    string k = PlainKey().IsMatch(key) ? key : JsonSerializer.Serialize(key);
                    if (IsBlock(child))
                    {
                        lines.Add($"{pad}{k}:");
                        Emit(child, indent + 2, lines);
                    }
                    else
                    {
                        lines.Add($"{pad}{k}: {Scalar(child)}");
                    }
                }

                break;
            case JsonArray array when array.Count > 0:
                foreach (var item in array)
                {
                    if (IsBlock(item))
                    {
                        var inner = new List<string>();
                        Emit(item, indent + 2, inner);
                        inner[0] = pad + "- " + inner[0][(indent + 2)..];
                        lines.AddRange(inner);
                    }
                    else
                    {
                        lines.Add($"{pad}- {Scalar(item)}");
                    }
                }

                break;
            default:
                lines.Add(pad + Scalar(node));
                break;
        }
    }

    private static bool IsBlock(JsonNode? node) => node is JsonObject { Count: > 0 } or JsonArray { Count: > 0 };

    private static string Scalar(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        _ => node.ToJsonString(),
    };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]*$")]
    private static partial Regex PlainKey();

    public static string Time(DateTimeOffset? time) =>
        time is { } t ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.#", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    /// <summary>A table with the given columns; cells are plain text (markup is escaped).</summary>
    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (string column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        }

        return table;
    }

    public static void Row(this Table table, params object?[] cells) =>
        table.AddRow(cells.Select(c => (Spectre.Console.Rendering.IRenderable)new Text(Cell(c))).ToArray());

    private static string Cell(object? value) => value switch
    {
        null => "-",
        DateTimeOffset t => Time(t),
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable<string> list => string.Join(", ", list),
        _ => value.ToString() ?? "",
    };

    public static string Join(IEnumerable<string>? items) => items is null ? "" : string.Join(", ", items);

    public static string Values(JsonNode? data, int max = 12)
    {
        if (data is not JsonArray array)
        {
            return data?.ToJsonString() ?? "";
        }

        var text = new StringBuilder();
        int shown = 0;
        foreach (var item in array)
        {
            if (shown == max)
            {
                text.Append(CultureInfo.InvariantCulture, $", … ({array.Count} values)");
                break;
            }

            text.Append(shown++ == 0 ? "" : ", ").Append(item is JsonValue v && v.TryGetValue(out string? s) ? s : item?.ToJsonString());
        }

        return text.ToString();
    }
}
