using System.Globalization;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Images;

/// <summary>One image's answer as classes: the prediction and every class ranked, from the response's outputs.</summary>
/// <param name="Predicted">The label output's value when the model has one, else the top class's label.</param>
/// <param name="Ranked">Every class, most probable first.</param>
/// <param name="Source">"model" (the scores already were probabilities), "softmax" (their softmax was taken) or "none" (no scores output).</param>
/// <param name="ScoresOutput">The output the classes were read from; empty when none.</param>
public sealed record ClassReading(string Predicted, IReadOnlyList<ClassScoreDto> Ranked, string Source, string ScoresOutput);

/// <summary>
/// Reads a classifier's answer however its outputs are named: a label output (INT64 or BYTES, one value per row) and/or
/// a scores output (floating point, several values per row). Class labels come from the scores output's
/// <c>class_labels</c> parameter, else the model's <c>classes</c> metadata when the count fits, else "class i". Scores
/// that are already a probability vector (each in [0, 1], summing to 1 within 1e-3) are kept; others go through softmax.
/// Pure: tested directly.
/// </summary>
public static class ImageClasses
{
    /// <summary>Row <paramref name="row"/> of a response to <paramref name="rows"/> rows.</summary>
    public static ClassReading Read(InferenceResponse response, int row, int rows, IReadOnlyList<string>? classes)
    {
        ArgumentNullException.ThrowIfNull(response);
        var label = response.Outputs.FirstOrDefault(o => o.Datatype is TensorDatatype.Int64 or TensorDatatype.Bytes && o.Data.Length == rows);
        var scores = response.Outputs.FirstOrDefault(o => o.Datatype is TensorDatatype.Fp32 or TensorDatatype.Fp64 or TensorDatatype.Fp16
            && o.Data.Length >= 2 * rows && o.Data.Length % rows == 0);
        string? labelText = label is null ? null : Convert.ToString(label.Data.GetValue(row), CultureInfo.InvariantCulture);
        if (scores is null)
        {
            string predicted = labelText ?? (response.Outputs.FirstOrDefault(o => o.Data.Length > 0) is { } first
                ? Convert.ToString(first.Data.GetValue(Math.Min(row, first.Data.Length - 1)), CultureInfo.InvariantCulture) ?? ""
                : "");
            return new ClassReading(predicted, [], "none", "");
        }

        int k = scores.Data.Length / rows;
        var values = TabularTensor.ToDoubles(scores.Data)!.AsSpan(row * k, k).ToArray();
        var names = LabelsOf(scores) is { } own && own.Count == k ? own
            : classes is { } c && c.Count == k ? c
            : [.. Enumerable.Range(0, k).Select(i => string.Create(CultureInfo.InvariantCulture, $"class {i}"))];
        bool probabilities = values.All(v => v is >= 0 and <= 1) && Math.Abs(values.Sum() - 1) <= 1e-3;
        if (!probabilities)
        {
            double max = values.Max();
            var exp = values.Select(v => Math.Exp(v - max)).ToArray();
            double sum = exp.Sum();
            values = [.. exp.Select(e => e / sum)];
        }

        var ranked = values.Select((p, i) => new ClassScoreDto(names[i], i, p)).OrderByDescending(s => s.Probability).ThenBy(s => s.Index).ToList();
        return new ClassReading(labelText ?? ranked[0].Label, ranked, probabilities ? "model" : "softmax", scores.Name);
    }

    /// <summary>An output's elements as JSON-friendly values (numbers, or text for BYTES).</summary>
    public static ImageOutputDto ToDto(InferenceTensor output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var data = new List<object>(output.Data.Length);
        foreach (object? value in output.Data)
        {
            data.Add(value switch
            {
                Half h => (double)h,
                float f when !float.IsFinite(f) => f.ToString(CultureInfo.InvariantCulture),
                double d when !double.IsFinite(d) => d.ToString(CultureInfo.InvariantCulture),
                null => "",
                _ => value,
            });
        }

        return new ImageOutputDto(output.Name, output.Datatype.ToWireName(), output.Shape, data);
    }

    private static List<string>? LabelsOf(InferenceTensor output)
    {
        if (output.Parameters?.GetValueOrDefault("class_labels") is not { } labels)
        {
            return null;
        }

        try
        {
            return labels switch
            {
                string text => JsonSerializer.Deserialize<List<string>>(text),
                JsonElement { ValueKind: JsonValueKind.String } e => JsonSerializer.Deserialize<List<string>>(e.GetString()!),
                JsonElement { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => x.ToString())],
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
