using Mds.Backend.Registry;
using Mds.Contracts.Inference;

namespace Mds.Backend.Datasets;

/// <summary>What <see cref="TabularCsv.Check"/> learnt about a file: its header, data rows, layout and label column, and the model's columns.</summary>
public sealed record TabularCsvInfo(IReadOnlyList<string> Header, int Rows, DatasetLayout Layout, string? LabelColumn, TabularLayout Tabular);

/// <summary>
/// CSV files of rows for a tabular model (<see cref="TabularLayout"/>: one numeric input of shape [rows, features], or
/// one input per column, strings allowed): reference datasets, batches.
/// </summary>
public static class TabularCsv
{
    /// <summary>The tabular rule in words, for the messages that refuse other models.</summary>
    public const string Rule = "one numeric input of shape [rows, features], or one input of shape [rows, 1] per column, numbers or strings";

    /// <summary>
    /// The version's columns; null when the model is not tabular. A matrix of unknown width whose model names no
    /// features takes its width from <paramref name="csvHeader"/> (every column but <paramref name="labelColumn"/>).
    /// </summary>
    public static TabularLayout? LayoutOf(ModelVersion version, IReadOnlyList<string>? csvHeader = null, string? labelColumn = null)
    {
        ArgumentNullException.ThrowIfNull(version);
        return LayoutOf(RegistryMapping.Schema(version.InputsJson), version.FeatureNames, csvHeader, labelColumn);
    }

    /// <summary>The columns of any V2 signature (a version's, a pipeline's derived one); see <see cref="LayoutOf(ModelVersion, IReadOnlyList{string}?, string?)"/>.</summary>
    public static TabularLayout? LayoutOf(IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<string>? featureNames, IReadOnlyList<string>? csvHeader = null, string? labelColumn = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (TabularLayout.Of(inputs, featureNames) is { } layout)
        {
            return layout;
        }

        if (csvHeader is null || InputOf(inputs) is null)
        {
            return null;
        }

        string? label = string.IsNullOrWhiteSpace(labelColumn) ? null : labelColumn.Trim();
        return TabularLayout.Of(inputs, [.. csvHeader.Select(h => h.Trim()).Where(h => !string.Equals(h, label, StringComparison.Ordinal))]);
    }

    /// <summary>
    /// The one source of a tabular version's feature names, for every page and the API: the model's own (its ONNX
    /// metadata, or its inputs' names when each column is an input), else its reference dataset's header (the columns the
    /// drift checks and explanations read), else positions (<c>feature 0</c>…). Null names when the model is not tabular.
    /// </summary>
    public static (IReadOnlyList<string>? Names, string? From) FeatureLabels(ModelVersion version, ReferenceDataset? dataset)
    {
        ArgumentNullException.ThrowIfNull(version);
        var inputs = RegistryMapping.Schema(version.InputsJson);
        var layout = LayoutOf(inputs, version.FeatureNames, dataset?.Columns, dataset?.LabelColumn);
        if (layout is null)
        {
            return (null, null);
        }

        if (layout.Kind == TabularLayoutKind.Columns)
        {
            return (layout.ColumnNames, "model");
        }

        if (version.FeatureNames is { } named && named.Count == layout.Columns.Count)
        {
            return (named, "model");
        }

        if (dataset is not null && Columns(dataset.Columns, version.FeatureNames, layout, dataset.LabelColumn) is ({ } columns, null)
            && columns.FeatureColumns.Count == layout.Columns.Count)
        {
            return ([.. columns.FeatureColumns.Select(c => dataset.Columns[c].Trim())], "dataset");
        }

        return ([.. layout.Columns.Select(c => c.Name)], "positions");
    }

    /// <summary>Whether the version is tabular, perhaps of a width only a file will tell.</summary>
    public static bool IsTabular(ModelVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        var inputs = RegistryMapping.Schema(version.InputsJson);
        return TabularLayout.Of(inputs, version.FeatureNames) is not null || InputOf(inputs) is not null;
    }

    /// <summary>
    /// Which CSV columns are the model's: per-column inputs by name (the header must name every input); a matrix by the
    /// model's feature names when it has them, else the first columns in order (see <see cref="DatasetValidator.Layout"/>).
    /// </summary>
    public static (DatasetLayout? Layout, string? Error) Columns(IReadOnlyList<string> header, IReadOnlyList<string>? featureNames, TabularLayout layout, string? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var names = layout.Kind == TabularLayoutKind.Columns ? layout.ColumnNames
            : featureNames is { } f && f.Count == layout.Columns.Count ? featureNames : null;
        return DatasetValidator.Layout(header, layout.Columns.Count, names, labelColumn);
    }

    /// <summary><see cref="Columns(IReadOnlyList{string}, IReadOnlyList{string}?, TabularLayout, string?)"/> with the version's feature names.</summary>
    public static (DatasetLayout? Layout, string? Error) Columns(IReadOnlyList<string> header, ModelVersion version, TabularLayout layout, string? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(version);
        return Columns(header, version.FeatureNames, layout, labelColumn);
    }

    /// <summary>The version's one numeric [rows, features] input; null when the model is not tabular.</summary>
    public static TensorMetadata? InputOf(ModelVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return InputOf(RegistryMapping.Schema(version.InputsJson));
    }

    /// <summary>
    /// The tabular rule on any V2 signature (a model version's, or a pipeline's derived one): exactly one numeric input of
    /// shape [rows, features]; null when <paramref name="inputs"/> is anything else.
    /// </summary>
    public static TensorMetadata? InputOf(IReadOnlyList<TensorMetadata> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return inputs.Count == 1 && inputs[0].Shape.Length == 2
            && TensorDatatypes.Parse(inputs[0].Datatype) is not (TensorDatatype.Bytes or TensorDatatype.Bool or TensorDatatype.Invalid)
            ? inputs[0]
            : null;
    }

    /// <summary>How many features the version takes: the input's width, else as many names as it gives; -1 when unknown.</summary>
    public static int FeatureCount(ModelVersion version, TensorMetadata input)
    {
        ArgumentNullException.ThrowIfNull(version);
        return FeatureCount(input, version.FeatureNames);
    }

    /// <summary>How many features <paramref name="input"/> takes: its width, else as many as <paramref name="featureNames"/>; -1 when unknown.</summary>
    public static int FeatureCount(TensorMetadata input, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(input);
        long width = input.Shape[1];
        return width > 0 ? (int)width : featureNames?.Count ?? -1;
    }

    /// <summary>
    /// Reads the whole file once: the model's columns (see <see cref="LayoutOf(IReadOnlyList{TensorMetadata}, IReadOnlyList{string}?, IReadOnlyList{string}?, string?)"/>),
    /// the file's layout from the header (<see cref="Columns(IReadOnlyList{string}, IReadOnlyList{string}?, TabularLayout, string?)"/>),
    /// then every row's numeric cells must be numbers; text columns take any text.
    /// </summary>
    /// <returns>What the file holds, or the reason (in words) it does not fit.</returns>
    public static (TabularCsvInfo? Info, string? Error) Check(string path, IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<string>? featureNames, string? labelColumn)
    {
        using var reader = new StreamReader(path);
        List<string>? header = null;
        DatasetLayout? layout = null;
        TabularLayout? tabular = null;
        bool[] text = [];
        int rows = 0;
        try
        {
            foreach (var record in Csv.Read(reader))
            {
                if (header is null)
                {
                    header = record;
                    tabular = LayoutOf(inputs, featureNames, header, labelColumn);
                    if (tabular is null)
                    {
                        return (null, "the model is not tabular (" + Rule + ")");
                    }

                    string? error;
                    (layout, error) = Columns(header, featureNames, tabular, labelColumn);
                    if (error is not null)
                    {
                        return (null, error);
                    }

                    text = [.. tabular.Columns.Select(c => c.IsText)];
                    continue;
                }

                rows++;
                string? bad = DatasetValidator.FirstBadCell(header, record, rows, layout!, text);
                if (bad is not null)
                {
                    return (null, bad);
                }
            }
        }
        catch (FormatException e)
        {
            return (null, e.Message);
        }

        if (header is null || rows == 0)
        {
            return (null, "the file has no header row or no data rows");
        }

        return (new TabularCsvInfo(header, rows, layout!, layout!.LabelColumn is int l ? header[l] : null, tabular!), null);
    }
}
