using System.Globalization;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// The form the Try page shows for a model version, built from its input schema. A tabular model (see
/// <see cref="TabularLayout"/>: one numeric input <c>[rows, features]</c>, or one input per column, each
/// <c>[rows, 1]</c>, numbers or strings) gets one field per column — a number field, or a text field offering the
/// values the reference dataset holds — labelled with the column's name; anything else gets a JSON editor prefilled
/// with a valid V2 request. Either way it builds the <see cref="InferenceRequest"/> to send. No I/O: tested directly.
/// </summary>
public sealed class TryForm
{
    private TryForm(IReadOnlyList<TensorMetadata> inputs, TabularLayout? layout)
    {
        Inputs = inputs;
        Layout = layout;
        Fields = layout is null ? [] : [.. layout.Columns.Select(c => new TryField(c.Index, c.Name, c.IsText))];
        Json = RequestTemplate(inputs);
    }

    /// <summary>The model's inputs.</summary>
    public IReadOnlyList<TensorMetadata> Inputs { get; }

    /// <summary>How the fields become input tensors, for a tabular model; null otherwise.</summary>
    public TabularLayout? Layout { get; }

    /// <summary>True when the form is one field per column; false when it is the JSON editor.</summary>
    public bool IsTabular => Layout is not null;

    /// <summary>One field per column (empty for the JSON editor).</summary>
    public IReadOnlyList<TryField> Fields { get; }

    /// <summary>The JSON editor's text: a V2 request body (prefilled with a template for the schema).</summary>
    public string Json { get; set; }

    /// <summary>Builds the form for <paramref name="inputs"/>; <paramref name="featureNames"/> label a matrix's fields when their count fits.</summary>
    public static TryForm Create(IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return new TryForm(inputs, TabularLayout.Of(inputs, featureNames));
    }

    /// <summary>
    /// Offers each text field the values <paramref name="textValues"/> lists for its column (the reference dataset's,
    /// most frequent first); fields of columns it does not list offer nothing.
    /// </summary>
    public void OfferValues(IReadOnlyDictionary<string, IReadOnlyList<string>>? textValues)
    {
        foreach (var field in Fields.Where(f => f.IsText))
        {
            field.Suggestions = textValues is null ? []
                : textValues.TryGetValue(field.Label, out var values) ? values
                : textValues.FirstOrDefault(p => string.Equals(p.Key, field.Label, StringComparison.OrdinalIgnoreCase)).Value ?? [];
        }
    }

    /// <summary>
    /// Fills the fields from a dataset row: by column name when the columns carry the names, otherwise column by
    /// column skipping <paramref name="labelColumn"/>. A number field whose cell is not a number is left empty; a text
    /// field takes its cell as it is.
    /// </summary>
    public void FillFrom(IReadOnlyList<string> columns, IReadOnlyList<string> row, string? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(row);
        var byName = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < columns.Count; i++)
        {
            byName.TryAdd(columns[i], i);
        }

        bool namesMatch = Fields.All(f => byName.ContainsKey(f.Label));
        var featureColumns = Enumerable.Range(0, columns.Count)
            .Where(i => !string.Equals(columns[i], labelColumn, StringComparison.OrdinalIgnoreCase))
            .ToList();
        foreach (var field in Fields)
        {
            int? column = namesMatch ? byName[field.Label] : field.Index < featureColumns.Count ? featureColumns[field.Index] : null;
            string? cell = column is { } c && c < row.Count ? row[c] : null;
            if (field.IsText)
            {
                field.Text = cell;
            }
            else
            {
                field.Value = double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : null;
            }
        }
    }

    /// <summary>The fields not filled in yet (by label), for the message that asks for them.</summary>
    public IReadOnlyList<string> MissingFields() => [.. Fields.Where(f => !f.IsFilled).Select(f => f.Label)];

    /// <summary>The row the fields hold, a cell a column: numbers in the invariant culture, text as typed.</summary>
    public IReadOnlyList<string> Cells() => [.. Fields.Select(f => f.Cell)];

    /// <summary>The numeric fields' values, in column order (text columns left out): the row the outlier detector scores.</summary>
    public IReadOnlyList<double> Numbers() => [.. Fields.Where(f => !f.IsText).Select(f => f.Value ?? 0)];

    /// <summary>The row as the explain API takes it: numbers as numbers, text as strings.</summary>
    public IReadOnlyList<object> ExplainCells() => [.. Fields.Select(f => f.IsText ? (object)(f.Text ?? "") : f.Value ?? 0)];

    /// <summary>
    /// <see cref="BuildRequest"/> with a new request id, or the message to show beside the form when the fields do not
    /// make a request (an empty field, JSON that is not V2, a value too large for the datatype).
    /// </summary>
    public bool TryBuildRequest([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out InferenceRequest? request, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        try
        {
            request = BuildRequest(Guid.NewGuid().ToString("N"));
            error = null;
            return true;
        }
        catch (InferenceProtocolException ex)
        {
            error = ex.Message;
        }
        catch (OverflowException)
        {
            error = "A value does not fit the input's datatype.";
        }

        request = null;
        return false;
    }

    /// <summary>
    /// The request to send, with id <paramref name="requestId"/>: for a tabular model one row of the fields' values,
    /// in the inputs' datatypes and shapes (<see cref="TabularLayout.CreateInputs"/>); otherwise the JSON editor's
    /// text, decoded (and so checked) by the V2 codec.
    /// </summary>
    /// <exception cref="InferenceProtocolException">A field is empty, or the JSON is not a valid V2 request; the message says which.</exception>
    public InferenceRequest BuildRequest(string requestId)
    {
        if (Layout is not { } layout)
        {
            var parsed = V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(Json));
            return new InferenceRequest { Id = requestId, Parameters = parsed.Parameters, Inputs = parsed.Inputs, Outputs = parsed.Outputs };
        }

        if (MissingFields() is { Count: > 0 } missing)
        {
            throw new InferenceProtocolException($"Fill in {string.Join(", ", missing)}.");
        }

        return new InferenceRequest { Id = requestId, Inputs = layout.CreateInputs([Cells()]) };
    }

    /// <summary>
    /// A V2 request body for <paramref name="inputs"/>: dynamic dimensions as 1, zeros (or empty strings, false) as
    /// data; indented, with each array on one line so the editor stays short.
    /// </summary>
    public static string RequestTemplate(IReadOnlyList<TensorMetadata> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var text = new StringBuilder("{\n  \"inputs\": [");
        for (int t = 0; t < inputs.Count; t++)
        {
            var input = inputs[t];
            long[] shape = [.. input.Shape.Select(d => d < 0 ? 1 : d)];
            string zero = TensorDatatypes.Parse(input.Datatype) switch
            {
                TensorDatatype.Bytes => "\"\"",
                TensorDatatype.Bool => "false",
                _ => "0",
            };
            text.Append(t == 0 ? "\n" : ",\n")
                .Append("    {\n")
                .Append("      \"name\": ").Append(JsonSerializer.Serialize(input.Name)).Append(",\n")
                .Append("      \"shape\": [").AppendJoin(", ", shape).Append("],\n")
                .Append("      \"datatype\": ").Append(JsonSerializer.Serialize(input.Datatype)).Append(",\n")
                .Append("      \"data\": [").AppendJoin(", ", Enumerable.Repeat(zero, (int)Math.Min(InferenceTensor.ElementCount(shape), int.MaxValue))).Append("]\n")
                .Append("    }");
        }

        return text.Append("\n  ]\n}\n").ToString();
    }
}

/// <summary>One field of a tabular form: which column it fills, its label, and its value — a number, or text for a string column.</summary>
public sealed class TryField(int index, string label, bool isText = false)
{
    /// <summary>The column's position in the row.</summary>
    public int Index { get; } = index;

    /// <summary>The column's name (the feature name, <c>feature i</c>, or the input's name).</summary>
    public string Label { get; } = label;

    /// <summary>True for a string column: the field takes text, not a number.</summary>
    public bool IsText { get; } = isText;

    /// <summary>The number typed in (a numeric column); null while empty.</summary>
    public double? Value { get; set; }

    /// <summary>The text typed in or picked (a string column); null while empty.</summary>
    public string? Text { get; set; }

    /// <summary>The values a text field offers: those its column holds in the reference dataset, most frequent first.</summary>
    public IReadOnlyList<string> Suggestions { get; set; } = [];

    /// <summary>True when the field holds a value (a text field may hold any text but none).</summary>
    public bool IsFilled => IsText ? !string.IsNullOrEmpty(Text) : Value is not null;

    /// <summary>The value as a cell: the number in the invariant culture's round-trip form, or the text.</summary>
    public string Cell => IsText ? Text ?? "" : Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
}
