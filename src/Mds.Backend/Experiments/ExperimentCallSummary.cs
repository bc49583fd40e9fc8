using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Experiments;

/// <summary>
/// The results that the call log gives directly: per candidate requests, errors (with a Wilson 95 % interval), latency
/// percentiles, feedback count; mirror agreement by request id; traffic per minute. The statistical comparisons
/// (accuracy, MAE, tests, sample sizes) are the statistics service's (<c>ExperimentResults</c>); until it is wired in,
/// <see cref="CandidateResultsDto.Comparisons"/> is empty and accuracy/MAE are null — never made up.
/// </summary>
public static class ExperimentCallSummary
{
    private sealed record CandidateRow(string Candidate, long Requests, long Errors, double? P50, double? P95, double? P99, long Feedback);

    private sealed record MirrorRow(long Paired, long Same, long Labelled, double? ScoreDiff, long MirrorErrors);

    private sealed record TrafficRow(DateTime Minute, string Candidate, int Requests, int Errors, double P50, double P95, double P99);

    public static async Task<ExperimentResultsDto> BuildAsync(MdsDbContext db, Experiment row, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(row);
        var spec = ExperimentSpecParser.FromStored(row.SpecJson);
        var keys = spec.Candidates.Select(c => ExperimentValidator.KeyOf(c.Name, c.Version)).ToList();
        string baseline = row.Default ?? keys[0];
        string name = row.Name;
        var rows = await db.Database.SqlQuery<CandidateRow>($"""
            SELECT c."Candidate", count(*) AS "Requests",
                   count(*) FILTER (WHERE c."Status" < 200 OR c."Status" >= 300) AS "Errors",
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY c."LatencyMs") AS "P50",
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY c."LatencyMs") AS "P95",
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY c."LatencyMs") AS "P99",
                   (SELECT count(*) FROM feedback f WHERE f."RequestId" IN
                       (SELECT x."RequestId" FROM experiment_calls x WHERE x."Experiment" = {name} AND NOT x."IsMirror" AND x."Candidate" = c."Candidate")) AS "Feedback"
            FROM experiment_calls c
            WHERE c."Experiment" = {name} AND NOT c."IsMirror"
            GROUP BY c."Candidate"
            """).ToListAsync(ct);
        var candidates = keys.Select(k => rows.FirstOrDefault(r => r.Candidate == k) is { } r
                ? new CandidateResultsDto(k, r.Requests, r.Errors, Wilson(r.Errors, r.Requests), r.P50, r.P95, r.P99, r.Feedback, null, null, null, [])
                : new CandidateResultsDto(k, 0, 0, null, null, null, null, 0, null, null, null, []))
            .ToList();

        MirrorAgreementDto? mirror = null;
        if (spec.Mirror is { } m)
        {
            string mirrorKey = ExperimentValidator.KeyOf(m.Name, m.Version);
            var agreement = (await db.Database.SqlQuery<MirrorRow>($"""
                SELECT count(b."Id") AS "Paired",
                       count(b."Id") FILTER (WHERE b."Predicted" IS NOT NULL AND b."Predicted" = s."Predicted") AS "Same",
                       count(b."Id") FILTER (WHERE b."Predicted" IS NOT NULL AND s."Predicted" IS NOT NULL) AS "Labelled",
                       avg(abs(b."Score" - s."Score")) AS "ScoreDiff",
                       (SELECT count(*) FROM experiment_calls e WHERE e."Experiment" = {name} AND e."IsMirror" AND (e."Status" < 200 OR e."Status" >= 300)) AS "MirrorErrors"
                FROM experiment_calls s
                JOIN experiment_calls b ON b."Experiment" = s."Experiment" AND b."RequestId" = s."RequestId" AND NOT b."IsMirror" AND b."Candidate" = {baseline}
                    AND b."Status" BETWEEN 200 AND 299
                WHERE s."Experiment" = {name} AND s."IsMirror" AND s."Status" BETWEEN 200 AND 299
                """).ToListAsync(ct)).Single();
            mirror = new MirrorAgreementDto(mirrorKey, agreement.Paired, agreement.Labelled > 0 ? (double)agreement.Same / agreement.Labelled : null,
                agreement.ScoreDiff, agreement.MirrorErrors);
        }

        var since = now.AddHours(-1);
        var traffic = await db.Database.SqlQuery<TrafficRow>($"""
            SELECT date_trunc('minute', "At" AT TIME ZONE 'UTC') AS "Minute", "Candidate", count(*)::int AS "Requests",
                   (count(*) FILTER (WHERE "Status" < 200 OR "Status" >= 300))::int AS "Errors",
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY "LatencyMs") AS "P50",
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY "LatencyMs") AS "P95",
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY "LatencyMs") AS "P99"
            FROM experiment_calls
            WHERE "Experiment" = {name} AND NOT "IsMirror" AND "At" >= {since}
            GROUP BY 1, 2 ORDER BY 1, 2
            """).ToListAsync(ct);
        return new ExperimentResultsDto(name, baseline, candidates, mirror,
            [.. traffic.Select(t => new ExperimentTrafficPointDto(new DateTimeOffset(DateTime.SpecifyKind(t.Minute, DateTimeKind.Utc)), t.Candidate, t.Requests, t.Errors, t.P50, t.P95, t.P99))]);
    }

    /// <summary>The error rate with its Wilson score interval at 95 %.</summary>
    public static EstimateDto? Wilson(long successes, long n)
    {
        if (n <= 0)
        {
            return null;
        }

        const double z = 1.959963984540054;
        double p = (double)successes / n;
        double denominator = 1 + z * z / n;
        double centre = (p + z * z / (2 * n)) / denominator;
        double half = z * Math.Sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denominator;
        return new EstimateDto(p, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }
}
