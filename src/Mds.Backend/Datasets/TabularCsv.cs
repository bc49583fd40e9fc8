using Mds.Backend.Registry;
using Mds.Contracts.Inference;

namespace Mds.Backend.Datasets;

/// <summary>What <see cref="TabularCsv.Check"/> learnt about a file: its header, data rows, layout and label column.</summary>
public sealed record TabularCsvInfo(IReadOnlyList<string> Header, int Rows, DatasetLayout Layout, string? LabelColumn);

/// <summary>CSV files of rows for a tabular model (one numeric input of shape [rows, features]): reference datasets, batches.</summary>
public static class TabularCsv
{
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
    /// Reads the whole file once: the layout from the header (see <see cref="DatasetValidator.Layout"/>; with an unknown
    /// <paramref name="featureCount"/> every column but the label is a feature), then every row's feature cells must be numbers.
    /// </summary>
    /// <returns>What the file holds, or the reason (in words) it does not fit.</returns>
    public static (TabularCsvInfo? Info, string? Error) Check(string path, int featureCount, IReadOnlyList<string>? featureNames, string? labelColumn)
    {
        using var reader = new StreamReader(path);
        List<string>? header = null;
        DatasetLayout? layout = null;
        int rows = 0;
        try
        {
            foreach (var record in Csv.Read(reader))
            {
                if (header is null)
                {
                    header = record;
                    int features = featureCount > 0 ? featureCount : header.Count - (string.IsNullOrWhiteSpace(labelColumn) ? 0 : 1);
                    string? error;
                    (layout, error) = DatasetValidator.Layout(header, features, featureNames, labelColumn);
                    if (error is not null)
                    {
                        return (null, error);
                    }

                    continue;
                }

                rows++;
                string? bad = DatasetValidator.FirstBadCell(header, record, rows, layout!);
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

        return (new TabularCsvInfo(header, rows, layout!, layout!.LabelColumn is int l ? header[l] : null), null);
    }
}
