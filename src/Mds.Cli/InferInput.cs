using System.Globalization;
using System.Text.Json.Nodes;

namespace Mds.Cli;

/// <summary>Builds a V2 request for a model's single input from rows of numbers (<c>--data</c>, <c>--csv</c>).</summary>
internal static class InferInput
{
    /// <summary><c>1,2,3,4</c>, rows separated by <c>;</c>.</summary>
    public static List<double[]> ParseData(string text)
    {
        var rows = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r => Row(r, "--data")).ToList();
        return rows.Count > 0 ? rows : throw new UsageException("--data has no numbers (e.g. --data 5.1,3.5,1.4,0.2)");
    }

    /// <summary>CSV rows of numbers; a first line that is not numbers is taken as the header and skipped.</summary>
    public static List<double[]> ParseCsv(IEnumerable<string> lines)
    {
        var rows = new List<double[]>();
        bool first = true;
        foreach (string line in lines.Where(l => !string.IsNullOrWhiteSpace(l)))
        {
            if (first && !double.TryParse(line.Split(',')[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                first = false;
                continue;
            }

            first = false;
            rows.Add(Row(line, "the CSV"));
        }

        return rows.Count > 0 ? rows : throw new UsageException("the CSV has no rows of numbers");
    }

    private static double[] Row(string row, string where) =>
        row.Split(',', StringSplitOptions.TrimEntries).Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            ? d : throw new UsageException($"'{v}' in {where} is not a number")).ToArray();

    /// <summary>The request for <paramref name="metadata"/>'s single input: shape from its metadata (−1 dimensions take the rows).</summary>
    public static JsonObject Request(JsonNode? metadata, IReadOnlyList<double[]> rows)
    {
        var inputs = metadata?["inputs"] as JsonArray ?? throw new CliException("the model's metadata lists no inputs");
        if (inputs.Count != 1)
        {
            throw new UsageException($"the model has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i?["name"]))}); --data and --csv fill one, use --json");
        }

        var input = inputs[0]!;
        string name = input["name"]!.GetValue<string>();
        string datatype = input["datatype"]!.GetValue<string>();
        long[] declared = (input["shape"] as JsonArray ?? []).Select(d => d!.GetValue<long>()).ToArray();
        int width = rows[0].Length;
        if (rows.Any(r => r.Length != width))
        {
            throw new UsageException("every row needs the same number of values");
        }

        long[] shape = Shape(declared, rows.Count, width);
        var data = new JsonArray();
        foreach (double value in rows.SelectMany(r => r))
        {
            data.Add(datatype switch
            {
                "FP32" or "FP64" or "FP16" or "BF16" => JsonValue.Create(value),
                "BOOL" => JsonValue.Create(value != 0),
                _ => JsonValue.Create((long)value),
            });
        }

        return new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = name,
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
                ["datatype"] = datatype,
                ["data"] = data,
            }),
        };
    }

    /// <summary>[-1, n] with r rows of n → [r, n]; a 1-D [-1] or [n] input takes the values flat.</summary>
    internal static long[] Shape(long[] declared, int rows, int width)
    {
        long total = (long)rows * width;
        if (declared.Length == 0)
        {
            return [total];
        }

        if (declared.Length == 1)
        {
            return [total];
        }

        var shape = (long[])declared.Clone();
        long known = shape.Where(d => d > 0).Aggregate(1L, (a, b) => a * b);
        int dynamic = Array.FindIndex(shape, d => d < 0);
        if (dynamic >= 0)
        {
            for (int i = 0; i < shape.Length; i++)
            {
                if (shape[i] < 0)
                {
                    shape[i] = i == dynamic ? Math.Max(1, total / Math.Max(1, known)) : 1;
                }
            }
        }

        long count = shape.Aggregate(1L, (a, b) => a * b);
        return count == total ? shape
            : throw new UsageException($"{total} value(s) do not fit the input's shape [{string.Join(", ", declared)}] (each row needs {known})");
    }
}
