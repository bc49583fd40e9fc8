using System.Globalization;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Records;

/// <summary>
/// The tensors of a stored request or response, for the record page: a V2 body's <c>inputs</c> or <c>outputs</c> with
/// their values, or, for a body the worker kept only in summary (<c>truncated: true</c>), their names, types and shapes.
/// No I/O: tested directly.
/// </summary>
public sealed record RecordTensors(IReadOnlyList<TensorMetadata> Tensors, IReadOnlyList<string> Values, long? TruncatedBytes)
{
    /// <summary>How many elements of a tensor the page shows.</summary>
    public const int MaxValues = 64;

    /// <summary>No body.</summary>
    public static RecordTensors None { get; } = new([], [], null);

    /// <summary>Whether the worker kept only the tensors' descriptions (the body was over its size limit).</summary>
    public bool Truncated => TruncatedBytes is not null;

    /// <summary>Reads <paramref name="property"/> (<c>inputs</c> or <c>outputs</c>) of a stored body.</summary>
    public static RecordTensors Read(JsonElement? body, string property)
    {
        if (body is not { ValueKind: JsonValueKind.Object } root)
        {
            return None;
        }

        bool truncated = root.TryGetProperty("truncated", out var flag) && flag.ValueKind == JsonValueKind.True;
        long? bytes = truncated ? root.TryGetProperty("bytes", out var size) && size.TryGetInt64(out long b) ? b : 0 : null;
        if (!root.TryGetProperty(truncated ? "tensors" : property, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return new([], [], bytes);
        }

        var tensors = new List<TensorMetadata>();
        var values = new List<string>();
        foreach (var tensor in list.EnumerateArray())
        {
            tensors.Add(new TensorMetadata(Text(tensor, "name"), Text(tensor, "datatype"), Shape(tensor)));
            values.Add(truncated ? "(not kept)" : Data(tensor));
        }

        return new(tensors, values, bytes);
    }

    /// <summary>
    /// The feature rows of a tabular request: the first dimension of its one rank-2 input; 1 for anything else.
    /// </summary>
    public static int Rows(JsonElement? request)
    {
        var inputs = Read(request, "inputs").Tensors;
        return inputs is [{ Shape: [long rows, _] }] && rows is > 1 and <= int.MaxValue ? (int)rows : 1;
    }

    private static string Text(JsonElement owner, string property)
        => owner.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

    private static long[] Shape(JsonElement tensor)
        => tensor.TryGetProperty("shape", out var shape) && shape.ValueKind == JsonValueKind.Array
            ? [.. shape.EnumerateArray().Select(d => d.TryGetInt64(out long n) ? n : -1)]
            : [];

    // Row-major data, flattened (nested arrays are allowed by the protocol), at most MaxValues elements.
    private static string Data(JsonElement tensor)
    {
        if (!tensor.TryGetProperty("data", out var data))
        {
            return "";
        }

        var text = new StringBuilder();
        int shown = 0;
        int total = 0;
        Append(data, text, ref shown, ref total);
        return total > shown ? text.Append(CultureInfo.InvariantCulture, $", … {total - shown} more").ToString() : text.ToString();
    }

    private static void Append(JsonElement element, StringBuilder text, ref int shown, ref int total)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                Append(item, text, ref shown, ref total);
            }

            return;
        }

        total++;
        if (shown == MaxValues)
        {
            return;
        }

        if (shown > 0)
        {
            text.Append(", ");
        }

        text.Append(element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number when element.TryGetDouble(out double d) => d.ToString("G6", CultureInfo.InvariantCulture),
            _ => element.GetRawText(),
        });
        shown++;
    }
}
