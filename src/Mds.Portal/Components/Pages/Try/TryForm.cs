using System.Globalization;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// The form the Try page shows for a model version, built from its input schema. A tabular model (one numeric input
/// of shape [-1, n] or [1, n]) gets one number field per feature, labelled with the feature names when the model
/// declares them; anything else gets a JSON editor prefilled with a valid V2 request. Either way it builds the
/// <see cref="InferenceRequest"/> to send. No I/O: tested directly.
/// </summary>
public sealed class TryForm
{
    private TryForm(IReadOnlyList<TensorMetadata> inputs, TensorMetadata? tabularInput, IReadOnlyList<TryField> fields)
    {
        Inputs = inputs;
        TabularInput = tabularInput;
        Fields = fields;
        Json = RequestTemplate(inputs);
    }

    /// <summary>The model's inputs.</summary>
    public IReadOnlyList<TensorMetadata> Inputs { get; }

    /// <summary>The one input the fields fill, for a tabular model; null otherwise.</summary>
    public TensorMetadata? TabularInput { get; }

    /// <summary>True when the form is one number field per feature; false when it is the JSON editor.</summary>
    public bool IsTabular => TabularInput is not null;

    /// <summary>One field per feature (empty for the JSON editor).</summary>
    public IReadOnlyList<TryField> Fields { get; }

    /// <summary>The JSON editor's text: a V2 request body (prefilled with a template for the schema).</summary>
    public string Json { get; set; }

    /// <summary>Builds the form for <paramref name="inputs"/>; <paramref name="featureNames"/> label the fields when their count fits.</summary>
    public static TryForm Create(IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (TabularWidth(inputs) is not { } width)
        {
            return new TryForm(inputs, null, []);
        }

        bool named = featureNames is not null && featureNames.Count == width;
        var fields = Enumerable.Range(0, width)
            .Select(i => new TryField(i, named ? featureNames![i] : string.Create(CultureInfo.InvariantCulture, $"feature {i}")))
            .ToList();
        return new TryForm(inputs, inputs[0], fields);
    }

    /// <summary>
    /// The number of features when <paramref name="inputs"/> is one numeric tensor of rank 2 whose first dimension
    /// is dynamic or 1 and whose second is fixed; null otherwise.
    /// </summary>
    public static int? TabularWidth(IReadOnlyList<TensorMetadata> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1 || inputs[0].Shape is not [var rows, var columns] || rows is not (-1 or 1) || columns is < 1 or > 4096)
        {
            return null;
        }

        return IsNumeric(TensorDatatypes.Parse(inputs[0].Datatype)) ? (int)columns : null;
    }

    /// <summary>
    /// Fills the fields from a dataset row: by feature name when the columns carry the names, otherwise column by
    /// column skipping <paramref name="labelColumn"/>. Cells that are not numbers leave their field empty.
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
            field.Value = column is { } c && c < row.Count
                && double.TryParse(row[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                ? value
                : null;
        }
    }

    /// <summary>The fields not filled in yet (by label), for the message that asks for them.</summary>
    public IReadOnlyList<string> MissingFields() => [.. Fields.Where(f => f.Value is null).Select(f => f.Label)];

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
            error = $"A value does not fit the input's datatype ({TabularInput?.Datatype}).";
        }

        request = null;
        return false;
    }

    /// <summary>
    /// The request to send, with id <paramref name="requestId"/>: for a tabular model one row of the fields' values
    /// in the input's datatype; otherwise the JSON editor's text, decoded (and so checked) by the V2 codec.
    /// </summary>
    /// <exception cref="InferenceProtocolException">A field is empty, or the JSON is not a valid V2 request; the message says which.</exception>
    public InferenceRequest BuildRequest(string requestId)
    {
        if (TabularInput is not { } input)
        {
            var parsed = V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(Json));
            return new InferenceRequest { Id = requestId, Parameters = parsed.Parameters, Inputs = parsed.Inputs, Outputs = parsed.Outputs };
        }

        if (MissingFields() is { Count: > 0 } missing)
        {
            throw new InferenceProtocolException($"Fill in {string.Join(", ", missing)}.");
        }

        var datatype = TensorDatatypes.Parse(input.Datatype);
        var values = Fields.Select(f => f.Value!.Value).ToArray();
        var tensor = new InferenceTensor(input.Name, datatype, [1, values.Length], Convert(values, datatype));
        return new InferenceRequest { Id = requestId, Inputs = [tensor] };
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

    private static bool IsNumeric(TensorDatatype datatype)
        => datatype is not (TensorDatatype.Invalid or TensorDatatype.Bytes or TensorDatatype.Bool);

    private static Array Convert(double[] values, TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Fp32 => values.Select(v => (float)v).ToArray(),
        TensorDatatype.Fp64 => values,
        TensorDatatype.Fp16 => values.Select(v => (Half)v).ToArray(),
        TensorDatatype.Bf16 => values.Select(BFloat16.FromDouble).ToArray(),
        TensorDatatype.Int8 => values.Select(v => checked((sbyte)Math.Round(v))).ToArray(),
        TensorDatatype.Int16 => values.Select(v => checked((short)Math.Round(v))).ToArray(),
        TensorDatatype.Int32 => values.Select(v => checked((int)Math.Round(v))).ToArray(),
        TensorDatatype.Int64 => values.Select(v => checked((long)Math.Round(v))).ToArray(),
        TensorDatatype.UInt8 => values.Select(v => checked((byte)Math.Round(v))).ToArray(),
        TensorDatatype.UInt16 => values.Select(v => checked((ushort)Math.Round(v))).ToArray(),
        TensorDatatype.UInt32 => values.Select(v => checked((uint)Math.Round(v))).ToArray(),
        TensorDatatype.UInt64 => values.Select(v => checked((ulong)Math.Round(v))).ToArray(),
        _ => throw new InferenceProtocolException($"The portal cannot fill a {datatype.ToWireName()} tensor from number fields."),
    };
}

/// <summary>One number field of a tabular form: which column of the input it fills, its label, its value.</summary>
public sealed class TryField(int index, string label)
{
    /// <summary>The column of the input tensor.</summary>
    public int Index { get; } = index;

    /// <summary>The feature's name, or <c>feature i</c>.</summary>
    public string Label { get; } = label;

    /// <summary>The value typed in; null while empty.</summary>
    public double? Value { get; set; }
}
