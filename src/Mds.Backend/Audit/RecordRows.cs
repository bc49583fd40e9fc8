using System.Text.Json;

namespace Mds.Backend.Audit;

/// <summary>
/// Reads the feature rows of a tabular model's input out of a stored V2 request (an inference record's
/// <c>request</c> column): the tensor named <c>input</c> (or the only one), of shape [rows, features], its data flat or
/// nested. Pure: no I/O.
/// </summary>
public static class RecordRows
{
    /// <summary>
    /// The rows, or an empty list when the request does not hold them readably: truncated (over the audit size limit),
    /// another tensor, the wrong width, non-numeric or non-finite data, or binary data.
    /// </summary>
    /// <param name="requestJson">The stored request.</param>
    /// <param name="input">The model's input tensor name.</param>
    /// <param name="features">How many features a row has.</param>
    public static IReadOnlyList<double[]> Of(string? requestJson, string input, int features)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (string.IsNullOrEmpty(requestJson) || features < 1)
        {
            return [];
        }

        try
        {
            using var document = JsonDocument.Parse(requestJson);
            return Of(document.RootElement, input, features);
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static IReadOnlyList<double[]> Of(JsonElement request, string input, int features)
    {
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        JsonElement? tensor = null;
        foreach (var candidate in inputs.EnumerateArray())
        {
            if (candidate.ValueKind == JsonValueKind.Object && candidate.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                && name.GetString() == input)
            {
                tensor = candidate;
            }
        }

        if (tensor is null && inputs.GetArrayLength() == 1 && inputs[0].ValueKind == JsonValueKind.Object)
        {
            tensor = inputs[0];
        }

        if (tensor is not { } t || !t.TryGetProperty("data", out var data))
        {
            return [];
        }

        var values = new List<double>();
        if (!Flatten(data, values) || values.Count == 0 || values.Count % features != 0)
        {
            return [];
        }

        if (t.TryGetProperty("shape", out var shape) && shape.ValueKind == JsonValueKind.Array && shape.GetArrayLength() == 2
            && shape[1].TryGetInt64(out long width) && width != features)
        {
            return [];
        }

        var rows = new double[values.Count / features][];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = values.GetRange(r * features, features).ToArray();
        }

        return rows;
    }

    private static bool Flatten(JsonElement element, List<double> into)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!Flatten(item, into))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Number when element.TryGetDouble(out double v) && double.IsFinite(v):
                into.Add(v);
                return true;
            case JsonValueKind.True or JsonValueKind.False:
                into.Add(element.GetBoolean() ? 1 : 0);
                return true;
            default:
                return false;
        }
    }
}
