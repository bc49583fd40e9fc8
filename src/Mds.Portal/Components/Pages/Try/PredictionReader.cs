using System.Globalization;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>Reads an inference response the way a person wants to see it. No I/O: tested directly.</summary>
public static class PredictionReader
{
    /// <summary>
    /// The answer's first row as a classification when the model is a classifier (<see cref="ClassifierOutputs"/>:
    /// a label output beside a probability output, however named and in whatever order): the predicted class is the
    /// label output's value, the probabilities are labelled by the output's <c>class_labels</c>, else
    /// <paramref name="classes"/>, else <c>class i</c>. <paramref name="outputs"/> is the version's output schema;
    /// without it (or when it does not tell), the response's own tensors are read as the schema. Null otherwise.
    /// </summary>
    public static ClassifierPrediction? AsClassification(InferenceResponse response, IReadOnlyList<string>? classes, IReadOnlyList<TensorMetadata>? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        var classifier = (outputs is null ? null : ClassifierOutputs.Of(outputs, classes)) ?? ClassifierOutputs.Of(SchemaOf(response), classes);
        return classifier?.Read(response.Outputs) is [var first, ..] ? first : null;
    }

    /// <summary>
    /// What the model said, as text for the feedback record: for a classifier the predicted class the page shows
    /// (the label output's value, never a score), else a lone string output's value, else the first output's first value.
    /// </summary>
    public static string? Predicted(InferenceResponse response, IReadOnlyList<string>? classes = null, IReadOnlyList<TensorMetadata>? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (AsClassification(response, classes, outputs) is { } classification)
        {
            return classification.Label;
        }

        var first = response.Outputs.FirstOrDefault(o => o.Datatype == TensorDatatype.Bytes && o.Data.Length == 1)
            ?? response.Outputs.FirstOrDefault(o => o.Data.Length > 0);
        return first is null ? null : Element(first.Data, 0);
    }

    /// <summary>True when the answer is one number (a regressor): feedback then asks for the true value.</summary>
    public static bool IsSingleValue(InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.Outputs.Count >= 1 && response.Outputs[0].Data.Length == 1
            && response.Outputs[0].Datatype is not (TensorDatatype.Bytes or TensorDatatype.Bool);
    }

    /// <summary>A tensor's elements as text, at most <paramref name="max"/> of them (then "… N more").</summary>
    public static string Values(InferenceTensor tensor, int max = 64)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int shown = Math.Min(max, tensor.Data.Length);
        string text = string.Join(", ", Enumerable.Range(0, shown).Select(i => Element(tensor.Data, i)));
        return tensor.Data.Length > shown
            ? string.Create(CultureInfo.InvariantCulture, $"{text}, … {tensor.Data.Length - shown} more")
            : text;
    }

    // A response's tensors as a schema (rows dynamic), for reading an answer whose version's schema does not tell.
    private static List<TensorMetadata> SchemaOf(InferenceResponse response) =>
        [.. response.Outputs.Select(o => new TensorMetadata(o.Name, o.Datatype.ToWireName(), [-1, .. o.Shape.Skip(1)]))];

    private static string Element(Array data, int index) => data.GetValue(index) switch
    {
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        Half h => ((float)h).ToString("G4", CultureInfo.InvariantCulture),
        BFloat16 b => b.ToString(),
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        var other => other?.ToString() ?? "",
    };
}
