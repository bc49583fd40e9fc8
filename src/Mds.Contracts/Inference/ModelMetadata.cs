using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mds.Contracts.Inference;

/// <summary>
/// V2 tensor metadata: <c>{"name", "datatype", "shape"}</c>; -1 marks a dynamic dimension. A classifier's probability
/// output that the model file produces as a sequence of maps (scikit-learn's ZipMap) is served as a
/// <c>[rows, classes]</c> tensor and names its columns in <see cref="ClassLabels"/>, written on the wire as
/// <c>"parameters": {"class_labels": "[\"a\",\"b\"]"}</c> (a JSON array in a string: V2 parameter values are scalars).
/// </summary>
public sealed record TensorMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("datatype")] string Datatype,
    [property: JsonPropertyName("shape")] long[] Shape)
{
    /// <summary>The parameter that carries <see cref="ClassLabels"/> on tensors and tensor metadata.</summary>
    public const string ClassLabelsParameter = "class_labels";

    /// <summary>The class label of each column of the last dimension, in order; null when the model names none.</summary>
    [JsonIgnore]
    public IReadOnlyList<string>? ClassLabels { get; init; }

    /// <summary>V2 metadata parameters: <c>class_labels</c> when <see cref="ClassLabels"/> is set; null otherwise.</summary>
    [JsonPropertyName("parameters")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Parameters
    {
        get => ClassLabels is null ? null : new Dictionary<string, string> { [ClassLabelsParameter] = EncodeLabels(ClassLabels) };
        init => ClassLabels = value is not null && value.TryGetValue(ClassLabelsParameter, out string? text) ? DecodeLabels(text) : null;
    }

    /// <summary>Class labels as the <c>class_labels</c> parameter spells them: a JSON array of strings.</summary>
    public static string EncodeLabels(IReadOnlyList<string> labels) => JsonSerializer.Serialize(labels, LabelsContext.Default.IReadOnlyListString);

    /// <summary>
    /// The labels in a <c>class_labels</c> parameter: a JSON array of strings or numbers (numbers kept as written);
    /// null when it is not one.
    /// </summary>
    public static IReadOnlyList<string>? DecodeLabels(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 1 << 20)
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

            var labels = new List<string>(document.RootElement.GetArrayLength());
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

    /// <summary>The same as <see cref="DecodeLabels"/>.</summary>
    public static IReadOnlyList<string>? ParseClassLabels(string? text) => DecodeLabels(text);
}

[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class LabelsContext : JsonSerializerContext;

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
