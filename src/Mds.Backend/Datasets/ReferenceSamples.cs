using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Mds.Backend.Audit;
using Mds.Analytics.Drift;
using Mds.Analytics.Outliers;
using Mds.Analytics.Tabular;
using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Datasets;

/// <summary>
/// A version's reference dataset read into memory: its rows in the model's column order (<see cref="TabularLayout"/>),
/// text columns as codes into a per-column vocabulary (<see cref="CategoryCodes"/>), which columns are categorical,
/// and the detectors fitted on it (built once, on first use). Immutable and shared between requests.
/// </summary>
public sealed class ReferenceSample
{
    /// <summary>Integral features with at most this many distinct values (and at least ten rows a value) count as categorical.</summary>
    public const int MaxCategories = 20;

    /// <summary>How many of a text column's values the dataset's API answer lists.</summary>
    public const int MaxListedValues = 50;

    private readonly Lazy<MahalanobisDetector?> _outliers;
    private readonly ConcurrentDictionary<(double Alpha, int Bins), DriftDetector> _drift = new();

    internal ReferenceSample(ModelVersion version, ReferenceDataset dataset, TabularLayout layout, IReadOnlyList<string> features, double[][] rows, IReadOnlyList<CategoryCodes?> vocabularies)
    {
        VersionId = version.Id;
        Model = version.Model.Name;
        Version = version.Version;
        UploadedAt = dataset.UploadedAt;
        Layout = layout;
        Features = features;
        Rows = rows;
        Vocabularies = vocabularies;
        NumericColumns = [.. Enumerable.Range(0, features.Count).Where(f => vocabularies[f] is null)];
        Categorical = [.. Enumerable.Range(0, features.Count).Where(f => vocabularies[f] is not null || IsCategorical(rows, f))];
        _outliers = new Lazy<MahalanobisDetector?>(() => NumericColumns.Count == 0 ? null : MahalanobisDetector.Fit([.. Rows.Select(Numeric)]));
    }

    public long VersionId { get; }
    public string Model { get; }
    public int Version { get; }
    public DateTimeOffset UploadedAt { get; }

    /// <summary>The model's inputs as rows of named columns.</summary>
    public TabularLayout Layout { get; }

    /// <summary>Feature names in column order.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>The dataset's rows, in file order; a text column's cells are codes into its <see cref="Vocabularies"/> entry.</summary>
    public double[][] Rows { get; }

    /// <summary>Each column's vocabulary: for a text column the values seen (most frequent first), null for a numeric one.</summary>
    public IReadOnlyList<CategoryCodes?> Vocabularies { get; }

    /// <summary>The indices of the numeric (not text) columns: the ones the outlier detector reads.</summary>
    public IReadOnlyList<int> NumericColumns { get; }

    /// <summary>Indices of the features compared by the chi-squared test rather than Kolmogorov–Smirnov: every text column, and integral ones with few values.</summary>
    public IReadOnlyList<int> Categorical { get; }

    /// <summary>
    /// The Mahalanobis detector fitted on the rows' numeric columns (threshold: the rows' own 99th percentile); text
    /// columns are left out. Null when the model has no numeric column.
    /// </summary>
    public MahalanobisDetector? Outliers => _outliers.Value;

    /// <summary>Each text column's values as seen in the dataset, most frequent first, at most <see cref="MaxListedValues"/> each.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> TextValues =>
        Enumerable.Range(0, Features.Count).Where(f => Vocabularies[f] is not null)
            .ToDictionary(f => Features[f], f => (IReadOnlyList<string>)[.. Vocabularies[f]!.Values.Take(MaxListedValues)]);

    /// <summary>A row's numeric columns, as the outlier detector reads them.</summary>
    public double[] Numeric(double[] row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var numeric = new double[NumericColumns.Count];
        for (int i = 0; i < numeric.Length; i++)
        {
            numeric[i] = row[NumericColumns[i]];
        }

        return numeric;
    }

    /// <summary>The outlier score of an encoded row (the Mahalanobis distance of its numeric columns); NaN when there is no detector.</summary>
    public double OutlierScore(double[] row) => Outliers is { } detector ? detector.Score(Numeric(row)) : double.NaN;

    /// <summary>A codec for one use (a drift window, an explanation): unseen text values get codes of their own.</summary>
    public RowCodec NewCodec() => new(this);

    /// <summary>
    /// The rows of a stored V2 request (an inference record's), encoded with <paramref name="codec"/>; empty when the
    /// request does not hold them readably (truncated, another shape, a word in a numeric column, binary data).
    /// </summary>
    public IReadOnlyList<double[]> RowsOf(string? requestJson, RowCodec codec)
    {
        ArgumentNullException.ThrowIfNull(codec);
        if (Layout.Kind == TabularLayoutKind.Matrix)
        {
            return RecordRows.Of(requestJson, Layout.Inputs[0].Name, Features.Count);
        }

        if (string.IsNullOrEmpty(requestJson))
        {
            return [];
        }

        try
        {
            var request = V2JsonCodec.DecodeRequest(Encoding.UTF8.GetBytes(requestJson));
            var rows = new List<double[]>();
            foreach (var cells in Layout.ReadRows(request.Inputs))
            {
                if (codec.Encode(cells) is not { } row)
                {
                    return [];
                }

                rows.Add(row);
            }

            return rows;
        }
        catch (InferenceProtocolException)
        {
            return [];
        }
    }

    /// <summary>The drift detector for <paramref name="alpha"/> and <paramref name="psiBins"/>, prepared once.</summary>
    public DriftDetector Drift(double alpha, int psiBins) =>
        _drift.GetOrAdd((alpha, psiBins), k => new DriftDetector(Rows, Features, Categorical, k.Alpha, k.Bins));

    /// <summary>Up to <paramref name="count"/> rows spread evenly through the file (the same rows every time): a background sample.</summary>
    public double[][] Spread(int count) => Spread(Rows, count);

    /// <summary>Up to <paramref name="count"/> of <paramref name="rows"/>, spread evenly (deterministic).</summary>
    public static double[][] Spread(double[][] rows, int count)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Length <= count)
        {
            return rows;
        }

        double step = (double)rows.Length / count;
        return [.. Enumerable.Range(0, count).Select(i => rows[(int)(i * step)])];
    }

    private static bool IsCategorical(double[][] rows, int feature)
    {
        var values = new HashSet<double>();
        foreach (var row in rows)
        {
            double v = row[feature];
            if (v != Math.Floor(v) || (values.Add(v) && values.Count > MaxCategories))
            {
                return false;
            }
        }

        return values.Count * 10 <= rows.Length;
    }
}

/// <summary>
/// Rows of cells (text) to rows of numbers for the statistics and back, for one use of a <see cref="ReferenceSample"/>:
/// numeric cells parsed (invariant), text cells coded by the column's vocabulary, unseen values getting codes of their own.
/// </summary>
public sealed class RowCodec
{
    private readonly ReferenceSample _sample;
    private readonly CategoryCodes.Encoder?[] _encoders;

    internal RowCodec(ReferenceSample sample)
    {
        _sample = sample;
        _encoders = [.. sample.Vocabularies.Select(v => v?.NewEncoder())];
    }

    /// <summary>The row as numbers; null when a numeric cell is not a finite number or the count is wrong.</summary>
    public double[]? Encode(IReadOnlyList<string> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Count != _encoders.Length)
        {
            return null;
        }

        var row = new double[cells.Count];
        for (int c = 0; c < row.Length; c++)
        {
            if (_encoders[c] is { } encoder)
            {
                row[c] = encoder.Code(cells[c] ?? "");
            }
            else if (double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v))
            {
                row[c] = v;
            }
            else
            {
                return null;
            }
        }

        return row;
    }

    /// <summary>The row as cells: numbers in the invariant round-trip form, codes as their text.</summary>
    public string[] Decode(double[] row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var cells = new string[row.Length];
        for (int c = 0; c < row.Length; c++)
        {
            cells[c] = _encoders[c] is { } encoder ? encoder.Value(row[c]) : row[c].ToString("R", CultureInfo.InvariantCulture);
        }

        return cells;
    }

    /// <summary>The text a column's code stands for, or the number itself for a numeric column.</summary>
    public string Cell(int column, double value) =>
        _encoders[column] is { } encoder ? encoder.Value(value) : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Whether column <paramref name="column"/> holds text.</summary>
    public bool IsText(int column) => _sample.Vocabularies[column] is not null;
}

/// <summary>
/// Reads reference datasets into <see cref="ReferenceSample"/>s and keeps them, keyed by version and upload time, so a
/// replaced dataset is read afresh and a deleted version's sample is forgotten on the next sweep.
/// </summary>
public sealed class ReferenceSamples(IOptions<RegistryOptions> options)
{
    private readonly ConcurrentDictionary<long, Entry> _samples = new();

    /// <summary>The sample of <paramref name="version"/> (with its model loaded), or the reason there is none.</summary>
    public async Task<(ReferenceSample? Sample, string? Error)> GetAsync(MdsDbContext db, ModelVersion version, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(version);
        if (!TabularCsv.IsTabular(version))
        {
            return (null, $"model '{version.Model.Name}' version {version.Version} is not tabular ({TabularCsv.Rule})");
        }

        var dataset = await db.Set<ReferenceDataset>().AsNoTracking().SingleOrDefaultAsync(d => d.ModelVersionId == version.Id, ct);
        if (dataset is null)
        {
            return (null, $"model '{version.Model.Name}' version {version.Version} has no reference dataset; upload one on the version's page");
        }

        if (TabularCsv.LayoutOf(version, dataset.Columns, dataset.LabelColumn) is not { } input)
        {
            return (null, $"the reference dataset of model '{version.Model.Name}' version {version.Version} does not give the model's width");
        }

        var entry = _samples.AddOrUpdate(
            version.Id,
            _ => Load(version, dataset, input),
            (_, existing) => existing.UploadedAt == dataset.UploadedAt ? existing : Load(version, dataset, input));
        try
        {
            return (await entry.Sample.Value.WaitAsync(ct), null);
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidDataException)
        {
            _samples.TryRemove(new KeyValuePair<long, Entry>(version.Id, entry));
            // An I/O error names the file on this server: the reason given to callers does not.
            string why = e is IOException ? "the file could not be read on the server" : e.Message;
            return (null, $"the reference dataset of model '{version.Model.Name}' version {version.Version} cannot be read: {why}");
        }
    }

    /// <summary>Forgets the samples of versions not in <paramref name="keep"/>.</summary>
    public void Retain(IReadOnlySet<long> keep)
    {
        foreach (long id in _samples.Keys.Where(id => !keep.Contains(id)).ToList())
        {
            _samples.TryRemove(id, out _);
        }
    }

    private Entry Load(ModelVersion version, ReferenceDataset dataset, TabularLayout input)
    {
        string path = DatasetServices.PathOf(options.Value.DataDirectory, version.Id);
        return new Entry(dataset.UploadedAt, new Lazy<Task<ReferenceSample>>(() => Task.Run(() => Read(version, dataset, input, path))));
    }

    private sealed record Entry(DateTimeOffset UploadedAt, Lazy<Task<ReferenceSample>> Sample);

    internal static ReferenceSample Read(ModelVersion version, ReferenceDataset dataset, TabularLayout layout, string path)
    {
        using var reader = new StreamReader(path);
        List<string>? header = null;
        DatasetLayout? columns = null;
        var cells = new List<string[]>(dataset.Rows);
        foreach (var record in Csv.Read(reader))
        {
            if (header is null)
            {
                header = record;
                string? error;
                (columns, error) = TabularCsv.Columns(header, version, layout, dataset.LabelColumn);
                if (error is not null)
                {
                    throw new InvalidDataException(error);
                }

                continue;
            }

            cells.Add([.. columns!.FeatureColumns.Select(c => record[c])]);
        }

        if (header is null || cells.Count == 0)
        {
            throw new InvalidDataException("the file has no data rows");
        }

        var vocabularies = layout.Columns.Select(c => c.IsText ? CategoryCodes.Fit(cells.Select(row => row[c.Index])) : null).ToList();
        var rows = new double[cells.Count][];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = new double[layout.Columns.Count];
            for (int f = 0; f < rows[r].Length; f++)
            {
                rows[r][f] = vocabularies[f] is { } codes ? codes.CodeOf(cells[r][f])!.Value
                    : double.Parse(cells[r][f], NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        var names = layout.Kind == TabularLayoutKind.Matrix && version.FeatureNames is { Count: > 0 } named && named.Count == layout.Columns.Count
            ? named
            : layout.Kind == TabularLayoutKind.Columns ? layout.ColumnNames : [.. columns!.FeatureColumns.Select(c => header[c].Trim())];
        return new ReferenceSample(version, dataset, layout, names, rows, vocabularies);
    }
}
