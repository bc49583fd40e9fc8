using System.Globalization;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// Reads a batch prediction the way a person wants to see it: how far it has got, which result columns the model
/// wrote, and cells as short numbers. No I/O: tested directly.
/// </summary>
public static class BatchReader
{
    /// <summary>True while the batch waits or is being scored: the page keeps asking how far it has got.</summary>
    public static bool IsActive(BatchDto batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.State is BatchStates.Queued or BatchStates.Running;
    }

    /// <summary>True when every row is scored and the result can be read.</summary>
    public static bool HasResult(BatchDto batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.State == BatchStates.Succeeded;
    }

    /// <summary>How much is scored, 0 to 100.</summary>
    public static double Percent(BatchDto batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.State == BatchStates.Succeeded)
        {
            return 100;
        }

        return batch.TotalRows <= 0 ? 0 : Math.Clamp(100.0 * batch.DoneRows / batch.TotalRows, 0, 100);
    }

    /// <summary>One line on where the batch is: <c>1,200 of 5,000 rows scored (24 %)</c>.</summary>
    public static string Progress(BatchDto batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        string total = Rows(batch.TotalRows);
        return batch.State switch
        {
            BatchStates.Queued => $"Waiting for a job to start on {total}.",
            BatchStates.Running => string.Create(CultureInfo.InvariantCulture,
                $"{batch.DoneRows:N0} of {total} scored ({Percent(batch):0} %)."),
            BatchStates.Succeeded => $"All {total} scored.",
            BatchStates.Failed => string.Create(CultureInfo.InvariantCulture, $"Stopped after {batch.DoneRows:N0} of {total}."),
            _ => string.Create(CultureInfo.InvariantCulture, $"{batch.State}: {batch.DoneRows:N0} of {total}."),
        };
    }

    /// <summary><c>1 row</c>, <c>1,500 rows</c>.</summary>
    public static string Rows(int count)
        => string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? "row" : "rows")}");

    /// <summary>How long scoring took, once finished: <c>1.2 s</c>; null before.</summary>
    public static TimeSpan? Duration(BatchDto batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.FinishedAt is { } finished ? finished - (batch.StartedAt ?? batch.CreatedAt) : null;
    }

    /// <summary>
    /// True when <paramref name="column"/> holds a prediction: it is named after one of the version's outputs, as is
    /// (one value per row: <c>PredictedLabel</c>) or with an index (several: <c>Score[setosa]</c>, <c>Score[0]</c>).
    /// </summary>
    public static bool IsPredicted(string column, IEnumerable<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(column);
        ArgumentNullException.ThrowIfNull(outputNames);
        foreach (string output in outputNames)
        {
            if (string.Equals(column, output, StringComparison.Ordinal)
                || (column.Length > output.Length + 2 && column.StartsWith(output, StringComparison.Ordinal)
                    && column[output.Length] == '[' && column[^1] == ']'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when the cell is a finite number (right-aligned in the table).</summary>
    public static bool IsNumber(string cell)
        => double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value);

    /// <summary>
    /// A cell as the table shows it: numbers to at most four decimals (<c>0.9722</c>, <c>5.1</c>, <c>150</c>), very small or
    /// very large ones in scientific notation (<c>4.025e-7</c>); anything else as it is.
    /// </summary>
    public static string Cell(string cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            return cell;
        }

        double magnitude = Math.Abs(value);
        if (magnitude == 0)
        {
            return "0";
        }

        return magnitude is >= 1e-4 and < 1e12
            ? value.ToString("0.####", CultureInfo.InvariantCulture)
            : value.ToString("0.###e+0", CultureInfo.InvariantCulture);
    }

    /// <summary>A CSV header line's column names (quotes removed); empty for an empty line.</summary>
    public static IReadOnlyList<string> Header(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string firstLine = text.TrimStart('\uFEFF').Split('\n')[0].TrimEnd('\r');
        return [.. firstLine.Split(',').Select(h => h.Trim().Trim('"').Trim()).Where(h => h.Length > 0)];
    }

    /// <summary>
    /// The columns a file must name for <paramref name="layout"/>, as the backend matches them: per-column inputs by
    /// the inputs' names, a matrix by <paramref name="featureNames"/> when their count fits; null when a matrix's
    /// columns are taken in order instead.
    /// </summary>
    public static IReadOnlyList<string>? NamedColumns(TabularLayout layout, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return layout.Kind == TabularLayoutKind.Columns ? layout.ColumnNames
            : featureNames is { Count: > 0 } && featureNames.Count == layout.Columns.Count ? featureNames
            : null;
    }

    /// <summary>The columns of <see cref="NamedColumns"/> that <paramref name="header"/> lacks (names compared exactly, trimmed); empty when none.</summary>
    public static IReadOnlyList<string> MissingColumns(IReadOnlyList<string> header, TabularLayout layout, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(header);
        var present = header.Select(h => h.Trim()).ToHashSet(StringComparer.Ordinal);
        return NamedColumns(layout, featureNames) is { } names ? [.. names.Where(n => !present.Contains(n))] : [];
    }
}
