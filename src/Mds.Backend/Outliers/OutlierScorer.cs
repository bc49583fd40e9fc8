using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mds.Backend.Audit;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Mds.Backend.Outliers;

/// <summary><c>Mds:Outliers</c>: how inference records get their outlier scores.</summary>
public sealed class OutlierOptions
{
    /// <summary>How long the scorer rests when every recent record is scored.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Records scored per database round trip.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100_000)]
    public int BatchSize { get; set; } = 500;

    /// <summary>Records older than this are left unscored (the scorer does not comb the whole retention period).</summary>
    public TimeSpan Lookback { get; set; } = TimeSpan.FromDays(1);
}

/// <summary>
/// Gives every successful inference record of a version with a reference dataset its outlier score: the largest
/// Mahalanobis distance of its rows from the reference, flagged when past the detector's threshold (the reference's
/// own 99th percentile). Records whose rows cannot be read (truncated, or the explainer's coalitions) get NaN, so
/// they are not read again. Runs in the background on every backend; two backends scoring the same record write the
/// same figures.
/// </summary>
public sealed partial class OutlierScorer(
    IServiceScopeFactory scopes, ReferenceSamples samples, IOptions<OutlierOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<OutlierScorer> log)
    : BackgroundService
{
    private readonly Counter<long> _scored = meters.Create("Mds").CreateCounter<long>(
        "outlier_records_scored_total", description: "Inference records given an outlier score, by model, version and verdict.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            int scored = 0;
            try
            {
                scored = await ScoreOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or DbUpdateException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                LogFailed(e);
            }

            if (scored == 0)
            {
                await Task.Delay(options.Value.Interval, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Scores one batch of unscored records of every version with a reference dataset; returns how many were scored.</summary>
    public async Task<int> ScoreOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var versions = await db.ModelVersions.AsNoTracking().Include(v => v.Model)
            .Where(v => db.Set<ReferenceDataset>().Any(d => d.ModelVersionId == v.Id)).ToListAsync(ct);
        samples.Retain(versions.Select(v => v.Id).ToHashSet());
        var since = clock.GetUtcNow() - options.Value.Lookback;
        int total = 0;
        foreach (var version in versions)
        {
            var (sample, _) = await samples.GetAsync(db, version, ct);
            if (sample is null)
            {
                continue; // not tabular, or the file is unreadable: the APIs say why when asked
            }

            string model = version.Model.Name;
            int number = version.Version;
            var records = await db.Set<InferenceRecord>().AsNoTracking()
                .Where(r => r.ModelName == model && r.Version == number && r.Status < 400 && r.OutlierScore == null && r.Time >= since)
                .OrderBy(r => r.Time).Take(options.Value.BatchSize)
                .Select(r => new { r.Id, r.Time, r.Request, r.Caller })
                .ToListAsync(ct);
            if (records.Count == 0)
            {
                continue;
            }

            var detector = sample.Outliers; // numeric columns only: text columns are not scored
            var codec = sample.NewCodec();
            var ids = new Guid[records.Count];
            var times = new DateTime[records.Count];
            var scores = new double[records.Count];
            var flags = new bool?[records.Count];
            for (int i = 0; i < records.Count; i++)
            {
                var r = records[i];
                ids[i] = r.Id;
                times[i] = r.Time.UtcDateTime;
                var rows = detector is null || Explanations.Explainer.IsExplainerCall(r.Caller) ? [] : sample.RowsOf(r.Request, codec);
                scores[i] = rows.Count == 0 ? double.NaN : rows.Max(row => detector!.Score(sample.Numeric(row)));
                flags[i] = rows.Count == 0 ? null : scores[i] > detector!.Threshold;
                _scored.Add(1, new TagList { { "model", model }, { "version", number.ToString(System.Globalization.CultureInfo.InvariantCulture) }, { "outlier", flags[i] switch { true => "true", false => "false", null => "unreadable" } } });
            }

            await using var command = new NpgsqlCommand("""
                UPDATE inference_records AS r SET "OutlierScore" = u.score, "IsOutlier" = u.flag
                FROM unnest(@ids, @times, @scores, @flags) AS u(id, time, score, flag)
                WHERE r."Id" = u.id AND r."Time" = u.time
                """, (NpgsqlConnection)db.Database.GetDbConnection());
            command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = ids });
            command.Parameters.Add(new NpgsqlParameter("times", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = times });
            command.Parameters.Add(new NpgsqlParameter("scores", NpgsqlDbType.Array | NpgsqlDbType.Double) { Value = scores });
            command.Parameters.Add(new NpgsqlParameter("flags", NpgsqlDbType.Array | NpgsqlDbType.Boolean) { Value = flags });
            await db.Database.OpenConnectionAsync(ct);
            total += await command.ExecuteNonQueryAsync(ct);
        }

        return total;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outlier scoring failed; retrying shortly")]
    private partial void LogFailed(Exception e);
}
