using System.Globalization;
using System.Text;

namespace Mds.Backend.Datasets;

/// <summary>A small RFC 4180 reader: comma-separated, double-quoted fields with "" escapes, CRLF or LF line ends.</summary>
public static class Csv
{
    /// <summary>Reads records one at a time; a record is the list of its fields.</summary>
    public static IEnumerable<List<string>> Read(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var field = new StringBuilder();
        var record = new List<string>();
        bool quoted = false, any = false;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            char ch = (char)c;
            any = true;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        field.Append('"');
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Append(ch);
                }

                continue;
            }

            switch (ch)
            {
                case '"' when field.Length == 0:
                    quoted = true;
                    break;
                case ',':
                    record.Add(field.ToString());
                    field.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    record.Add(field.ToString());
                    field.Clear();
                    if (!(record.Count == 1 && record[0].Length == 0))
                    {
                        yield return record;
                    }

                    record = [];
                    any = false;
                    break;
                default:
                    field.Append(ch);
                    break;
            }
        }

        if (quoted)
        {
            throw new FormatException("the file ends inside a quoted field");
        }

        if (any)
        {
            record.Add(field.ToString());
            if (!(record.Count == 1 && record[0].Length == 0))
            {
                yield return record;
            }
        }
    }

    /// <summary>
    /// Writes one record: fields holding a comma, quote or line break are quoted, quotes doubled; LF ends it. A text
    /// field that a spreadsheet would run as a formula (it starts with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or
    /// CR) gets a leading <c>'</c> and is quoted, as OWASP advises against CSV injection; numbers such as <c>-1.5</c>
    /// stay numbers.
    /// </summary>
    public static void Write(TextWriter writer, IEnumerable<string> fields)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(fields);
        bool first = true;
        foreach (string field in fields)
        {
            if (!first)
            {
                writer.Write(',');
            }

            first = false;
            if (IsFormula(field))
            {
                writer.Write("\"'");
                writer.Write(field.Replace("\"", "\"\"", StringComparison.Ordinal));
                writer.Write('"');
            }
            else if (field.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            {
                writer.Write('"');
                writer.Write(field.Replace("\"", "\"\"", StringComparison.Ordinal));
                writer.Write('"');
            }
            else
            {
                writer.Write(field);
            }
        }

        writer.Write('\n');
    }

    /// <summary>Whether a spreadsheet would read the cell as a formula: text starting with = + - @ tab or CR.</summary>
    public static bool IsFormula(string cell) =>
        cell.Length > 0 && (cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r') && !IsNumber(cell);

    public static bool IsNumber(string cell) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v);
}

/// <summary>How a CSV's columns map onto a tabular model's one input: the feature columns in input order, and the label.</summary>
public sealed record DatasetLayout(IReadOnlyList<int> FeatureColumns, int? LabelColumn);

/// <summary>Checks a reference dataset against the model it belongs to. Pure: no I/O.</summary>
public static class DatasetValidator
{
    /// <summary>
    /// The layout of <paramref name="header"/> for a model with <paramref name="featureCount"/> features: by name when the
    /// model names its features, else the first columns in order; at most one other column, the label.
    /// </summary>
    /// <returns>The layout, or the reason it does not fit.</returns>
    public static (DatasetLayout? Layout, string? Error) Layout(IReadOnlyList<string> header, int featureCount, IReadOnlyList<string>? featureNames, string? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(header);
        var names = header.Select(h => h.Trim()).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
        {
            return (null, "the header names a column twice");
        }

        int? label = null;
        if (!string.IsNullOrWhiteSpace(labelColumn))
        {
            int i = names.IndexOf(labelColumn.Trim());
            if (i < 0)
            {
                return (null, $"the label column '{labelColumn}' is not in the header ({string.Join(", ", names)})");
            }

            label = i;
        }

        List<int> features;
        if (featureNames is { Count: > 0 })
        {
            var missing = featureNames.Where(f => !names.Contains(f)).ToList();
            if (missing.Count > 0)
            {
                return (null, $"the model's feature column{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} missing");
            }

            features = featureNames.Select(f => names.IndexOf(f)).ToList();
        }
        else
        {
            features = Enumerable.Range(0, names.Count).Where(i => i != label).Take(featureCount).ToList();
        }

        if (features.Count != featureCount)
        {
            return (null, $"the model takes {featureCount} features but the file has {features.Count} feature columns");
        }

        var others = Enumerable.Range(0, names.Count).Where(i => !features.Contains(i) && i != label).ToList();
        if (others.Count > 1 || (others.Count == 1 && label is not null))
        {
            return (null, $"columns {string.Join(", ", others.Select(i => names[i]))} are neither features nor the label");
        }

        return (new DatasetLayout(features, label ?? (others.Count == 1 ? others[0] : null)), null);
    }

    /// <summary>
    /// The first cell that is not a number in a numeric feature column, as "row R, column 'C': 'value'"; null when all
    /// are. <paramref name="text"/> marks (by feature position) the text columns, which take any cell.
    /// </summary>
    public static string? FirstBadCell(IReadOnlyList<string> header, IReadOnlyList<string> row, int rowNumber, DatasetLayout layout, IReadOnlyList<bool>? text = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(layout);
        if (row.Count != header.Count)
        {
            return $"row {rowNumber} has {row.Count} cells but the header has {header.Count}";
        }

        for (int f = 0; f < layout.FeatureColumns.Count; f++)
        {
            int c = layout.FeatureColumns[f];
            if (text is not null && f < text.Count && text[f])
            {
                continue;
            }

            if (!Csv.IsNumber(row[c]))
            {
                return $"row {rowNumber}, column '{header[c]}': '{row[c]}' is not a number";
            }
        }

        return null;
    }
}
