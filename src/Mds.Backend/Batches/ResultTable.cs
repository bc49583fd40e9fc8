using System.Globalization;
using Mds.Contracts.Inference;

namespace Mds.Backend.Batches;

/// <summary>One output tensor as result columns: <see cref="PerRow"/> values per row, one column each (or one joined column).</summary>
/// <param name="Output">The output tensor's name.</param>
/// <param name="PerRow">Values per row.</param>
/// <param name="Names">Column names.</param>
public sealed record OutputColumns(string Output, int PerRow, IReadOnlyList<string> Names)
{
    /// <summary>Above this many values per row, the row's values share one column, separated by spaces.</summary>
    public const int MaxColumns = 64;

    public bool Joined => Names.Count == 1 && PerRow > 1;
}

/// <summary>How a batch's predictions become CSV columns and cells. Pure: no I/O; tested directly.</summary>
public static class ResultTable
{
    /// <summary>The column that holds a classifier's predicted class (the label output's value), first after the file's columns.</summary>
    public const string PredictedColumn = "predicted";

    /// <summary>
    /// The columns for a response to <paramref name="rows"/> rows: for a <paramref name="classifier"/>, first a
    /// <see cref="PredictedColumn"/> column with the label output's value; then each output: one with one value per row
    /// keeps its name; one with several gets a column per value named <c>Score[setosa]</c> by class label (a
    /// classifier's probability output: the labels it carries, as a ZipMap's <c>class_labels</c>; else when
    /// <paramref name="classes"/> names them all), else <c>Score[0]</c>…; names already taken by
    /// <paramref name="inputColumns"/> get " (predicted)".
    /// </summary>
    /// <exception cref="InferenceProtocolException">An output's values are not a whole number per row.</exception>
    public static IReadOnlyList<OutputColumns> ColumnsOf(
        InferenceResponse response, int rows, IReadOnlyList<string>? classes, IReadOnlyCollection<string> inputColumns, ClassifierOutputs? classifier = null)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(inputColumns);
        var taken = new HashSet<string>(inputColumns, StringComparer.Ordinal);
        var result = new List<OutputColumns>(response.Outputs.Count + 1);
        IReadOnlyList<string>? probabilityLabels = null;
        if (classifier is not null && response.Outputs.FirstOrDefault(o => o.Name == classifier.LabelOutput.Name) is { } label
            && rows > 0 && label.Data.Length == rows)
        {
            result.Add(new OutputColumns(label.Name, 1, [taken.Add(PredictedColumn) ? PredictedColumn : Unique(PredictedColumn, taken)]));
            var probability = response.Outputs.FirstOrDefault(o => o.Name == classifier.ProbabilityOutput?.Name);
            probabilityLabels = TensorMetadata.ParseClassLabels(probability?.Parameters?.GetValueOrDefault(TensorMetadata.ClassLabelsParameter) as string)
                ?? classifier.ProbabilityOutput?.ClassLabels;
        }

        foreach (var output in response.Outputs)
        {
            int length = output.Data.Length;
            if (rows <= 0 || length % rows != 0 || length == 0)
            {
                throw new InferenceProtocolException($"output '{output.Name}' has {length} values for {rows} rows; batch results need the same number per row");
            }

            int perRow = length / rows;
            IEnumerable<string> names = perRow == 1 || perRow > OutputColumns.MaxColumns
                ? [output.Name]
                : output.Name == classifier?.ProbabilityOutput?.Name && probabilityLabels is { } own && own.Count == perRow
                    ? own.Select(label => $"{output.Name}[{label}]")
                : classes is { } c && c.Count == perRow
                    ? c.Select(label => $"{output.Name}[{label}]")
                    : Enumerable.Range(0, perRow).Select(i => string.Create(CultureInfo.InvariantCulture, $"{output.Name}[{i}]"));
            var unique = names.Select(n => taken.Add(n) ? n : Unique(n, taken)).ToList();
            result.Add(new OutputColumns(output.Name, perRow, unique));
        }

        return result;
    }

    /// <summary>The output cells of row <paramref name="row"/>, in the order of <paramref name="columns"/>.</summary>
    public static IEnumerable<string> CellsOf(InferenceResponse response, IReadOnlyList<OutputColumns> columns, int row)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(columns);
        foreach (var column in columns)
        {
            var output = response.Outputs.FirstOrDefault(o => o.Name == column.Output)
                ?? throw new InferenceProtocolException($"the response has no output '{column.Output}'");
            if (output.Data.Length < (row + 1) * column.PerRow)
            {
                throw new InferenceProtocolException($"output '{column.Output}' has {output.Data.Length} values, too few for row {row + 1}");
            }

            int start = row * column.PerRow;
            if (column.Joined)
            {
                yield return string.Join(' ', Enumerable.Range(start, column.PerRow).Select(i => Cell(output.Data, i)));
                continue;
            }

            for (int i = 0; i < column.PerRow; i++)
            {
                yield return Cell(output.Data, start + i);
            }
        }
    }

    /// <summary>One element as CSV text: numbers invariant and round-trippable, booleans true/false.</summary>
    public static string Cell(Array data, int index)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.GetValue(index) switch
        {
            float f => f.ToString(CultureInfo.InvariantCulture),
            double d => d.ToString(CultureInfo.InvariantCulture),
            Half h => ((float)h).ToString(CultureInfo.InvariantCulture),
            BFloat16 b => b.ToString(),
            string s => s,
            bool b => b ? "true" : "false",
            IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
            var other => other?.ToString() ?? "",
        };
    }

    private static string Unique(string name, HashSet<string> taken)
    {
        string candidate = name + " (predicted)";
        for (int i = 2; !taken.Add(candidate); i++)
        {
            candidate = string.Create(CultureInfo.InvariantCulture, $"{name} (predicted {i})");
        }

        return candidate;
    }
}

/// <summary>
/// How the predictions compare with a label column, row by row: the share that match (classifiers: the first output
/// with one label or integer per row), or the mean absolute and root mean squared error (regressors: one number per row).
/// </summary>
public sealed class LabelComparison(string labelColumn)
{
    private int _rows;
    private int _matches;
    private double _absoluteError;
    private double _squaredError;
    private bool _numeric;

    /// <summary>Compares one row: the label cell with the prediction's first one-per-row output.</summary>
    public void Add(string label, InferenceResponse response, IReadOnlyList<OutputColumns> columns, int row)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(columns);
        var single = columns.FirstOrDefault(c => c.PerRow == 1);
        if (single is null)
        {
            return;
        }

        var output = response.Outputs.First(o => o.Name == single.Output);
        object? predicted = output.Data.GetValue(row);
        bool isRegression = output.Datatype is TensorDatatype.Fp16 or TensorDatatype.Bf16 or TensorDatatype.Fp32 or TensorDatatype.Fp64;
        if (isRegression)
        {
            if (!double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out double truth))
            {
                return;
            }

            double value = predicted switch
            {
                Half h => (float)h,
                BFloat16 bf => bf,
                _ => System.Convert.ToDouble(predicted, CultureInfo.InvariantCulture),
            };
            _numeric = true;
            _rows++;
            _absoluteError += Math.Abs(value - truth);
            _squaredError += (value - truth) * (value - truth);
            return;
        }

        string text = ResultTable.Cell(output.Data, row);
        _rows++;
        if (string.Equals(text.Trim(), label.Trim(), StringComparison.Ordinal)
            || (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double a)
                && double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out double b)
                && a == b))
        {
            _matches++;
        }
    }

    /// <summary>In words, e.g. "146 of 150 rows (97.3 %) match the label column 'species'"; null when nothing compared.</summary>
    public string? Summary()
    {
        if (_rows == 0)
        {
            return null;
        }

        return _numeric
            ? string.Create(CultureInfo.InvariantCulture, $"Against the label column '{labelColumn}' over {_rows} rows: mean absolute error {_absoluteError / _rows:G4}, root mean squared error {Math.Sqrt(_squaredError / _rows):G4}")
            : string.Create(CultureInfo.InvariantCulture, $"{_matches} of {_rows} rows ({100.0 * _matches / _rows:0.0} %) match the label column '{labelColumn}'");
    }
}
