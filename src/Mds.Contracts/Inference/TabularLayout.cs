using System.Globalization;

namespace Mds.Contracts.Inference;

/// <summary>How a tabular model takes its rows.</summary>
public enum TabularLayoutKind
{
    /// <summary>One numeric input of shape <c>[rows, features]</c>: one column of it per feature.</summary>
    Matrix,

    /// <summary>One or more inputs, each <c>[rows, 1]</c> or <c>[rows]</c>, numeric or BYTES: one input per column (the skl2onnx default).</summary>
    Columns,
}

/// <summary>One column of a tabular model's rows.</summary>
/// <param name="Name">The column's name: the feature name (or <c>feature i</c>) for a matrix, the input's name for per-column inputs.</param>
/// <param name="InputName">The input tensor that holds the column.</param>
/// <param name="Index">The column's position in a row (for a matrix, also its column in the input tensor).</param>
/// <param name="Datatype">The input's datatype.</param>
/// <param name="IsText">True for a BYTES (string) column; its cells are sent as they are, not parsed as numbers.</param>
public sealed record TabularColumn(string Name, string InputName, int Index, TensorDatatype Datatype, bool IsText);

/// <summary>
/// A tabular model's inputs seen as rows of named cells: one numeric input <c>[rows, features]</c>
/// (<see cref="TabularLayoutKind.Matrix"/>), or several inputs each <c>[rows, 1]</c> or <c>[rows]</c>, numeric or
/// strings (<see cref="TabularLayoutKind.Columns"/>). Builds the request tensors from rows of cells (text; numbers
/// parsed with the invariant culture) and reads the rows back from request tensors. Pure and immutable.
/// </summary>
public sealed class TabularLayout
{
    /// <summary>The widest matrix input taken as tabular.</summary>
    public const int MaxMatrixWidth = 4096;

    private TabularLayout(TabularLayoutKind kind, IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<TabularColumn> columns)
    {
        Kind = kind;
        Inputs = inputs;
        Columns = columns;
    }

    /// <summary>Which of the two forms the model's inputs take.</summary>
    public TabularLayoutKind Kind { get; }

    /// <summary>The model's inputs, in schema order.</summary>
    public IReadOnlyList<TensorMetadata> Inputs { get; }

    /// <summary>The columns of a row, in order.</summary>
    public IReadOnlyList<TabularColumn> Columns { get; }

    /// <summary>True when some column holds strings.</summary>
    public bool HasText => Columns.Any(c => c.IsText);

    /// <summary>The columns' names, in order.</summary>
    public IReadOnlyList<string> ColumnNames => [.. Columns.Select(c => c.Name)];

    /// <summary>
    /// The layout of <paramref name="inputs"/>, or null when the model is not tabular. A matrix's columns are named by
    /// <paramref name="featureNames"/> when their count fits (its width when fixed, else taken from the names), else
    /// <c>feature i</c>; a matrix of unknown width without names is not tabular. Per-column inputs are named by their input.
    /// </summary>
    public static TabularLayout? Of(IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0)
        {
            return null;
        }

        if (inputs.Count == 1 && inputs[0].Shape is [_, var width] && IsNumeric(TensorDatatypes.Parse(inputs[0].Datatype)) && width != 0)
        {
            var input = inputs[0];
            int count = width > 0 ? (int)Math.Min(width, int.MaxValue) : featureNames?.Count ?? 0;
            if (count < 1 || count > MaxMatrixWidth)
            {
                return null;
            }

            bool named = featureNames is not null && featureNames.Count == count;
            var datatype = TensorDatatypes.Parse(input.Datatype);
            var columns = Enumerable.Range(0, count)
                .Select(i => new TabularColumn(named ? featureNames![i] : string.Create(CultureInfo.InvariantCulture, $"feature {i}"), input.Name, i, datatype, false))
                .ToList();
            return new TabularLayout(TabularLayoutKind.Matrix, inputs, columns);
        }

        var perColumn = new List<TabularColumn>(inputs.Count);
        foreach (var input in inputs)
        {
            var datatype = TensorDatatypes.Parse(input.Datatype);
            bool oneColumn = input.Shape is [_] or [_, 1];
            if (!oneColumn || !(IsNumeric(datatype) || datatype == TensorDatatype.Bytes))
            {
                return null;
            }

            perColumn.Add(new TabularColumn(input.Name, input.Name, perColumn.Count, datatype, datatype == TensorDatatype.Bytes));
        }

        return new TabularLayout(TabularLayoutKind.Columns, inputs, perColumn);
    }

    /// <summary>The column named <paramref name="name"/> (ordinal, ignoring case), or null.</summary>
    public TabularColumn? Column(string name) =>
        Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal))
        ?? Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The request tensors holding <paramref name="rows"/> (one cell a column, in <see cref="Columns"/> order): a
    /// matrix as one <c>[rows, features]</c> tensor, per-column inputs each as <c>[rows, 1]</c> (or <c>[rows]</c>
    /// when the input has rank 1). Numbers are parsed with the invariant culture; integers rounded to the nearest.
    /// </summary>
    /// <exception cref="InferenceProtocolException">There are no rows, a row has the wrong number of cells, or a numeric cell is not a number that fits; the message names the column.</exception>
    public IReadOnlyList<InferenceTensor> CreateInputs(IReadOnlyList<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            throw new InferenceProtocolException("There are no rows.");
        }

        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r] is null || rows[r].Count != Columns.Count)
            {
                throw new InferenceProtocolException(string.Create(CultureInfo.InvariantCulture,
                    $"Row {r + 1} has {rows[r]?.Count ?? 0} cells; the model takes {Columns.Count} ({string.Join(", ", ColumnNames)})."));
            }
        }

        if (Kind == TabularLayoutKind.Matrix)
        {
            var values = new double[rows.Count * Columns.Count];
            for (int r = 0; r < rows.Count; r++)
            {
                for (int c = 0; c < Columns.Count; c++)
                {
                    values[(r * Columns.Count) + c] = Number(Columns[c], rows[r][c], r);
                }
            }

            return [new InferenceTensor(Inputs[0].Name, Columns[0].Datatype, [rows.Count, Columns.Count], Convert(Columns[0], values))];
        }

        var tensors = new InferenceTensor[Columns.Count];
        for (int c = 0; c < Columns.Count; c++)
        {
            var column = Columns[c];
            long[] shape = Inputs[c].Shape.Length == 1 ? [rows.Count] : [rows.Count, 1];
            Array data;
            if (column.IsText)
            {
                var cells = new string[rows.Count];
                for (int r = 0; r < rows.Count; r++)
                {
                    cells[r] = rows[r][c] ?? "";
                }

                data = cells;
            }
            else
            {
                var values = new double[rows.Count];
                for (int r = 0; r < rows.Count; r++)
                {
                    values[r] = Number(column, rows[r][c], r);
                }

                data = Convert(column, values);
            }

            tensors[c] = new InferenceTensor(column.InputName, column.Datatype, shape, data);
        }

        return tensors;
    }

    /// <summary>
    /// The rows held by a request's input tensors (found by name; a lone tensor stands for a lone input), each as
    /// one cell a column: numbers in the invariant culture's shortest round-trip form, strings as they are.
    /// </summary>
    /// <exception cref="InferenceProtocolException">An input is missing, or its shape or datatype does not fit the layout; the message names the column.</exception>
    public IReadOnlyList<string[]> ReadRows(IReadOnlyList<InferenceTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (Kind == TabularLayoutKind.Matrix)
        {
            var tensor = Find(tensors, Inputs[0].Name);
            if (tensor.Shape is not [var count, var width] || width != Columns.Count || tensor.Datatype is TensorDatatype.Bytes or TensorDatatype.Bool)
            {
                throw new InferenceProtocolException(string.Create(CultureInfo.InvariantCulture,
                    $"Input '{tensor.Name}' must be numbers of shape [rows, {Columns.Count}], not {tensor.Datatype.ToWireName()} [{string.Join(", ", tensor.Shape)}]."));
            }

            var rows = new string[count][];
            for (int r = 0; r < count; r++)
            {
                rows[r] = new string[Columns.Count];
                for (int c = 0; c < Columns.Count; c++)
                {
                    rows[r][c] = Cell(tensor.Data, (int)((r * width) + c));
                }
            }

            return rows;
        }

        long rowCount = -1;
        var found = new InferenceTensor[Columns.Count];
        for (int c = 0; c < Columns.Count; c++)
        {
            var tensor = Find(tensors, Columns[c].InputName);
            bool oneColumn = tensor.Shape is [_] or [_, 1];
            bool text = tensor.Datatype == TensorDatatype.Bytes;
            if (!oneColumn || text != Columns[c].IsText || tensor.Datatype == TensorDatatype.Bool || (rowCount >= 0 && tensor.Shape[0] != rowCount))
            {
                throw new InferenceProtocolException(string.Create(CultureInfo.InvariantCulture,
                    $"Column '{Columns[c].Name}' must be {(Columns[c].IsText ? "strings" : "numbers")} of shape [rows, 1] like the other columns, not {tensor.Datatype.ToWireName()} [{string.Join(", ", tensor.Shape)}]."));
            }

            rowCount = tensor.Shape[0];
            found[c] = tensor;
        }

        var result = new string[rowCount][];
        for (int r = 0; r < rowCount; r++)
        {
            result[r] = new string[Columns.Count];
            for (int c = 0; c < Columns.Count; c++)
            {
                result[r][c] = Cell(found[c].Data, r);
            }
        }

        return result;
    }

    private InferenceTensor Find(IReadOnlyList<InferenceTensor> tensors, string name) =>
        tensors.FirstOrDefault(t => t.Name == name)
        ?? (tensors.Count == 1 && Inputs.Count == 1 ? tensors[0] : null)
        ?? throw new InferenceProtocolException($"The request has no input '{name}'.");

    private static double Number(TabularColumn column, string? cell, int row)
    {
        if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value))
        {
            return value;
        }

        throw new InferenceProtocolException(string.Create(CultureInfo.InvariantCulture,
            $"Column '{column.Name}' takes numbers; row {row + 1} holds '{Shorten(cell)}'."));
    }

    private static Array Convert(TabularColumn column, double[] values)
    {
        try
        {
            return TabularTensor.Convert(values, column.Datatype);
        }
        catch (InferenceProtocolException)
        {
            throw new InferenceProtocolException($"Column '{column.Name}' holds a value that does not fit its datatype {column.Datatype.ToWireName()}.");
        }
    }

    private static string Cell(Array data, int index) => data.GetValue(index) switch
    {
        string s => s,
        float f => f.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString(CultureInfo.InvariantCulture),
        Half h => ((float)h).ToString(CultureInfo.InvariantCulture),
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        var other => other?.ToString() ?? "",
    };

    private static string Shorten(string? cell) => cell is null ? "" : cell.Length <= 40 ? cell : cell[..40] + "…";

    private static bool IsNumeric(TensorDatatype datatype) =>
        datatype is not (TensorDatatype.Invalid or TensorDatatype.Bytes or TensorDatatype.Bool);
}
