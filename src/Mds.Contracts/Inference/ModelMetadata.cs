using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mds.Contracts.Inference;

/// <summary>V2 tensor metadata: <c>{"name", "datatype", "shape"}</c>; -1 marks a dynamic dimension.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Datatype">The wire datatype, e.g. <c>FP32</c>.</param>
/// <param name="Shape">The shape; -1 marks a dynamic dimension.</param>
public sealed record TensorMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("datatype")] string Datatype,
    [property: JsonPropertyName("shape")] long[] Shape)
{
    /// <summary>The parameter of an output's metadata that carries <see cref="ClassLabels"/>: a JSON array of strings, as text.</summary>
    public const string ClassLabelsParameter = "class_labels";

    /// <summary>
    /// The class label of each column of a probability output (a ZipMap served as a <c>[rows, classes]</c> tensor), in
    /// column order; null for any other tensor. On the wire it is <c>"parameters": {"class_labels": "[...]"}</c>, absent when null.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<string>? ClassLabels { get; init; }

    /// <summary>The wire form of <see cref="ClassLabels"/> (<c>parameters</c>); null, and not written, when there are none.</summary>
    [JsonPropertyName("parameters")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, JsonElement>? Parameters
    {
        get => ClassLabels is null ? null
            : new Dictionary<string, JsonElement> { [ClassLabelsParameter] = JsonSerializer.SerializeToElement(JsonSerializer.Serialize(ClassLabels)) };
        init => ClassLabels = value is not null && value.TryGetValue(ClassLabelsParameter, out var labels)
            ? ParseClassLabels(labels.ValueKind == JsonValueKind.String ? labels.GetString() : labels.GetRawText())
            : null;
    }

    /// <summary>Reads a <c>class_labels</c> value (a JSON array of strings or numbers, as text); null when it is not one.</summary>
    public static IReadOnlyList<string>? ParseClassLabels(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var labels = new List<string>();
            foreach (var item in document.RootElement.EnumerateArray())
            {
                switch (item.ValueKind)
                {
                    case JsonValueKind.String:
                        labels.Add(item.GetString()!);
                        break;
                    case JsonValueKind.Number:
                        labels.Add(item.GetRawText());
                        break;
                    default:
                        return null;
                }
            }

            return labels;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>V2 model metadata response (<c>GET /v2/models/{name}[/versions/{v}]</c>).</summary>
public sealed record ModelMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("versions")] IReadOnlyList<string> Versions,
    [property: JsonPropertyName("platform")] string Platform,
    [property: JsonPropertyName("inputs")] IReadOnlyList<TensorMetadata> Inputs,
    [property: JsonPropertyName("outputs")] IReadOnlyList<TensorMetadata> Outputs);

/// <summary>V2 server metadata response (<c>GET /v2</c>).</summary>
public sealed record ServerMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("extensions")] IReadOnlyList<string> Extensions);

/// <summary>V2 error body: <c>{"error": "..."}</c>.</summary>
public sealed record V2Error([property: JsonPropertyName("error")] string Error);

/// <summary>Constants of the protocol as MDS serves it.</summary>
public static class V2
{
    /// <summary>The platform string for ONNX Runtime models, as Triton spells it.</summary>
    public const string OnnxPlatform = "onnxruntime_onnx";
}
