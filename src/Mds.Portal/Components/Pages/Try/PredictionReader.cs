using System.Globalization;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>A classifier's answer for one row: the predicted label and the probability of each class.</summary>
public sealed record Classification(string Label, IReadOnlyList<string> Classes, IReadOnlyList<double> Probabilities);

/// <summary>Reads an inference response the way a person wants to see it. No I/O: tested directly.</summary>
public static class PredictionReader
{
    /// <summary>
    /// The answer as a classification when it is one: a BYTES output holding one label and an FP32 output holding
    /// one score per class (as many as <paramref name="classes"/> when the model names them). Null otherwise.
    /// </summary>
    public static Classification? AsClassification(InferenceResponse response, IReadOnlyList<string>? classes)
    {
        ArgumentNullException.ThrowIfNull(response);
        var label = response.Outputs.FirstOrDefault(o => o.Datatype == TensorDatatype.Bytes && o.Data.Length == 1);
        var scores = response.Outputs.FirstOrDefault(o =>
            o.Datatype == TensorDatatype.Fp32 && o.Data.Length >= 2 && o.Shape.Length >= 1
            && o.Shape[^1] == o.Data.Length
            && (classes is null || classes.Count == o.Data.Length));
        if (label is null || scores is null)
        {
            return null;
        }

        var probabilities = ((float[])scores.Data).Select(v => (double)v).ToList();
        var names = classes is { Count: > 0 }
            ? classes
            : [.. Enumerable.Range(0, probabilities.Count).Select(i => string.Create(CultureInfo.InvariantCulture, $"class {i}"))];
        return new Classification(((string[])label.Data)[0], names, probabilities);
    }

    /// <summary>What the model said, as text for the feedback record: the label, or the first output's first value.</summary>
    public static string? Predicted(InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
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
