using System.Globalization;

namespace Mds.Contracts.Inference;

/// <summary>One row of a classifier's answer.</summary>
/// <param name="Label">The predicted class: the label output's value as text.</param>
/// <param name="Classes">The class labels, in the probability output's column order (empty without one).</param>
/// <param name="Probabilities">Each class's probability, in <paramref name="Classes"/> order (empty without a probability output).</param>
/// <param name="LabelIndex">The probability column of <paramref name="Label"/>; null when it cannot be told (no probability output).</param>
public sealed record ClassifierPrediction(string Label, IReadOnlyList<string> Classes, IReadOnlyList<double> Probabilities, int? LabelIndex);

/// <summary>
/// A classifier's outputs, recognised by their form however they are named: a label output (INT64 or BYTES,
/// <c>[rows]</c> or <c>[rows, 1]</c>) beside a probability output (FP32 or FP64 <c>[rows, classes]</c>, a served
/// ZipMap or a plain tensor) — the skl2onnx and onnxmltools export, and the older MDS form of a BYTES label beside
/// FP32 scores. The predicted class is the label output's value, never a score.
/// </summary>
/// <param name="LabelOutput">The output holding each row's predicted class.</param>
/// <param name="ProbabilityOutput">The output holding each row's class probabilities; null for a BYTES label alone.</param>
/// <param name="ClassLabels">
/// The probability columns' labels as the metadata tells them: the output's <see cref="TensorMetadata.ClassLabels"/>,
/// else the model's <c>classes</c> when their count fits, else <c>class i</c>; empty when the width is unknown until an answer.
/// </param>
public sealed record ClassifierOutputs(TensorMetadata LabelOutput, TensorMetadata? ProbabilityOutput, IReadOnlyList<string> ClassLabels)
{
    /// <summary>
    /// The classifier outputs among <paramref name="outputs"/>, or null when the model is not a classifier (a
    /// regressor's numeric outputs, an image model's logits alone). <paramref name="classes"/> (the version's class
    /// names) label the probability columns when the output carries no labels of its own.
    /// </summary>
    public static ClassifierOutputs? Of(IReadOnlyList<TensorMetadata> outputs, IReadOnlyList<string>? classes)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var labels = outputs.Where(IsLabel).ToList();
        if (labels.Count == 0)
        {
            return null;
        }

        var probabilities = outputs.Where(IsProbability).ToList();
        var probability = probabilities.FirstOrDefault(o => o.ClassLabels is not null)
            ?? probabilities.FirstOrDefault(o => o.Name.Contains("prob", StringComparison.OrdinalIgnoreCase))
            ?? probabilities.FirstOrDefault();
        var label = labels.FirstOrDefault(o => o.Name.Contains("label", StringComparison.OrdinalIgnoreCase)) ?? labels[0];
        if (probability is null && TensorDatatypes.Parse(label.Datatype) != TensorDatatype.Bytes)
        {
            return null; // integers alone could be counts: without probabilities beside them, not a classifier
        }

        return new ClassifierOutputs(label, probability, probability is null ? [] : Labels(probability.ClassLabels, classes, probability.Shape[1]));
    }

    /// <summary>
    /// Reads a response's outputs row by row; empty when the label output is missing. Labels come from the probability
    /// tensor's <c>class_labels</c> parameter when it has one, else <see cref="ClassLabels"/> when the width fits, else <c>class i</c>.
    /// </summary>
    public IReadOnlyList<ClassifierPrediction> Read(IReadOnlyList<InferenceTensor> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var label = outputs.FirstOrDefault(o => o.Name == LabelOutput.Name);
        if (label is null || label.Data.Length == 0)
        {
            return [];
        }

        int rows = label.Data.Length;
        var probability = ProbabilityOutput is null ? null : outputs.FirstOrDefault(o => o.Name == ProbabilityOutput.Name);
        double[]? values = probability is null ? null : TabularTensor.ToDoubles(probability.Data);
        int width = values is { Length: > 0 } && values.Length % rows == 0 ? values.Length / rows : 0;
        IReadOnlyList<string> classes = width == 0 ? []
            : Labels(TensorMetadata.ParseClassLabels(probability!.Parameters?.GetValueOrDefault(TensorMetadata.ClassLabelsParameter) as string), ClassLabels, width);
        var result = new ClassifierPrediction[rows];
        for (int r = 0; r < rows; r++)
        {
            string predicted = Text(label.Data.GetValue(r));
            double[] row = width == 0 ? [] : values!.AsSpan(r * width, width).ToArray();
            result[r] = new ClassifierPrediction(predicted, classes, row, width == 0 ? null : IndexOf(predicted, classes, row));
        }

        return result;
    }

    /// <summary>The probability column of <paramref name="label"/>: by class label, else an integer label as the column, else the most probable column.</summary>
    public static int IndexOf(string label, IReadOnlyList<string> classes, IReadOnlyList<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(probabilities);
        for (int i = 0; i < classes.Count; i++)
        {
            if (string.Equals(classes[i], label, StringComparison.Ordinal))
            {
                return i;
            }
        }

        if (long.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 0 && n < probabilities.Count)
        {
            return (int)n;
        }

        int best = 0;
        for (int i = 1; i < probabilities.Count; i++)
        {
            best = probabilities[i] > probabilities[best] ? i : best;
        }

        return best;
    }

    private static bool IsLabel(TensorMetadata t) =>
        TensorDatatypes.Parse(t.Datatype) is TensorDatatype.Int64 or TensorDatatype.Bytes && t.Shape is [_] or [_, 1];

    private static bool IsProbability(TensorMetadata t) =>
        TensorDatatypes.Parse(t.Datatype) is TensorDatatype.Fp32 or TensorDatatype.Fp64 && t.Shape is [_, var width] && (width is -1 or >= 2);

    private static IReadOnlyList<string> Labels(IReadOnlyList<string>? own, IReadOnlyList<string>? classes, long width)
    {
        if (own is { Count: > 0 } && (width < 0 || own.Count == width))
        {
            return own;
        }

        if (classes is { Count: > 0 } && (width < 0 || classes.Count == width))
        {
            return classes;
        }

        return width < 0 ? [] : [.. Enumerable.Range(0, (int)width).Select(i => string.Create(CultureInfo.InvariantCulture, $"class {i}"))];
    }

    private static string Text(object? value) => value switch
    {
        string s => s,
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "",
    };
}
