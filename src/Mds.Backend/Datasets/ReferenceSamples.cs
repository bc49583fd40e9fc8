using System.Collections.Concurrent;
using System.Globalization;
using Mds.Analytics.Drift;
using Mds.Analytics.Outliers;
using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Datasets;

/// <summary>
/// A version's reference dataset read into memory: its feature rows in the model's input order, which features are
/// categorical, and the detectors fitted on it (built once, on first use). Immutable and shared between requests.
/// </summary>
public sealed class ReferenceSample
{
    /// <summary>Integral features with at most this many distinct values (and at least ten rows a value) count as categorical.</summary>
    public const int MaxCategories = 20;

    private readonly Lazy<MahalanobisDetector> _outliers;
    private readonly ConcurrentDictionary<(double Alpha, int Bins), DriftDetector> _drift = new();

    internal ReferenceSample(ModelVersion version, ReferenceDataset dataset, TensorMetadata input, IReadOnlyList<string> features, double[][] rows)
    {
        VersionId = version.Id;
        Model = version.Model.Name;
        Version = version.Version;
        UploadedAt = dataset.UploadedAt;
        Input = input;
        Features = features;
        Rows = rows;
        Categorical = [.. Enumerable.Range(0, features.Count).Where(f => IsCategorical(rows, f))];
        _outliers = new Lazy<MahalanobisDetector>(() => MahalanobisDetector.Fit(Rows));
    }

    public long VersionId { get; }
    public string Model { get; }
    public int Version { get; }
    public DateTimeOffset UploadedAt { get; }

    /// <summary>The model's one tabular input.</summary>
    public TensorMetadata Input { get; }

    /// <summary>Feature names in input order.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>The dataset's feature rows, in file order.</summary>
    public double[][] Rows { get; }

    /// <summary>Indices of the features compared by the chi-squared test rather than Kolmogorov–Smirnov.</summary>
    public IReadOnlyList<int> Categorical { get; }

    /// <summary>The Mahalanobis detector fitted on the rows (threshold: the rows' own 99th percentile).</summary>
    public MahalanobisDetector Outliers => _outliers.Value;

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
        if (TabularCsv.InputOf(version) is not { } input)
        {
            return (null, $"model '{version.Model.Name}' version {version.Version} is not tabular (one numeric input of shape [rows, features])");
        }

        var dataset = await db.Set<ReferenceDataset>().AsNoTracking().SingleOrDefaultAsync(d => d.ModelVersionId == version.Id, ct);
        if (dataset is null)
        {
            return (null, $"model '{version.Model.Name}' version {version.Version} has no reference dataset; upload one on the version's page");
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

    private Entry Load(ModelVersion version, ReferenceDataset dataset, TensorMetadata input)
    {
        string path = DatasetServices.PathOf(options.Value.DataDirectory, version.Id);
        return new Entry(dataset.UploadedAt, new Lazy<Task<ReferenceSample>>(() => Task.Run(() => Read(version, dataset, input, path))));
    }

    private sealed record Entry(DateTimeOffset UploadedAt, Lazy<Task<ReferenceSample>> Sample);

    internal static ReferenceSample Read(ModelVersion version, ReferenceDataset dataset, TensorMetadata input, string path)
    {
        using var reader = new StreamReader(path);
        List<string>? header = null;
        DatasetLayout? layout = null;
        var rows = new List<double[]>(dataset.Rows);
        foreach (var record in Csv.Read(reader))
        {
            if (header is null)
            {
                header = record;
                string? error;
                (layout, error) = DatasetValidator.Layout(header, TabularCsv.FeatureCount(version, input), version.FeatureNames, dataset.LabelColumn);
                if (error is not null)
                {
                    throw new InvalidDataException(error);
                }

                continue;
            }

            var row = new double[layout!.FeatureColumns.Count];
            for (int f = 0; f < row.Length; f++)
            {
                row[f] = double.Parse(record[layout.FeatureColumns[f]], NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            rows.Add(row);
        }

        if (header is null || rows.Count == 0)
        {
            throw new InvalidDataException("the file has no data rows");
        }

        var names = version.FeatureNames is { Count: > 0 } named ? named : [.. layout!.FeatureColumns.Select(c => header[c].Trim())];
        return new ReferenceSample(version, dataset, input, names, [.. rows]);
    }
}
