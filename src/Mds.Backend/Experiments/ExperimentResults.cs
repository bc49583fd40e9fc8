using System.Globalization;
using Mds.Analytics.Experiments;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>
/// Builds an experiment's results from its call log (<c>experiment_calls</c>) and the feedback on its answers: per
/// candidate requests, error rate (Wilson), latency percentiles, accuracy (Wilson) or MAE / RMSE (t intervals), each
/// compared with the baseline (two-proportion z-test, Welch's t-test, Mann-Whitney U) with a verdict in words and the
/// sample size still needed; the mirror's agreement on paired requests; and per-minute traffic for the charts.
/// Bounded: each candidate's figures come from at most its latest
/// <see cref="ExperimentResultsOptions.MaxCallsPerCandidate"/> calls, aggregated in PostgreSQL (only latencies come
/// back as values, for the rank test). A call is an error when it was not answered with a 2xx status.
/// </summary>
public sealed class ExperimentResults(MdsDbContext db, IOptions<ExperimentResultsOptions> options, TimeProvider clock)
{
    private const double Alpha = 0.05;

    /// <summary>Builds the results of <paramref name="experiment"/>.</summary>
    /// <param name="experiment">The experiment's name.</param>
    /// <param name="candidates">Its candidate keys, in the spec's order.</param>
    /// <param name="baseline">The candidate compared against (the default); null for the first candidate.</param>
    /// <param name="mirror">The mirror's key, if it has one.</param>
    /// <param name="createdAt">When the experiment was created: its age sizes the series' buckets.</param>
    /// <param name="endedAt">When it ended, if it has (its age stops there).</param>
    /// <param name="ct">Cancels the queries.</param>
    public async Task<ExperimentResultsDto> BuildAsync(
        string experiment, IReadOnlyList<string> candidates, string? baseline, string? mirror, DateTimeOffset createdAt, DateTimeOffset? endedAt, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("An experiment has at least one candidate.", nameof(candidates));
        }

        string baselineKey = baseline is not null && candidates.Contains(baseline) ? baseline : candidates[0];
        int limit = options.Value.MaxCallsPerCandidate;
        var figures = new Dictionary<string, CandidateFigures>(StringComparer.Ordinal);
        foreach (string candidate in candidates.Distinct())
        {
            figures[candidate] = await ReadCandidateAsync(experiment, candidate, limit, ct);
        }

        long feedback = figures.Values.Sum(f => f.Feedback.Feedback);
        bool regressor = feedback > 0 && figures.Values.Sum(f => f.Feedback.WithTrueValue) * 2 > feedback;
        var b = figures[baselineKey];
        var results = new List<CandidateResultsDto>(figures.Count);
        foreach (var (key, f) in figures)
        {
            var comparisons = key == baselineKey ? [] : Compare(key, f, b, regressor);
            results.Add(new CandidateResultsDto(
                key, f.Summary.Requests, f.Summary.Errors,
                f.Summary.Requests > 0 ? ToDto(WilsonInterval.Of(f.Summary.Errors, f.Summary.Requests)) : null,
                f.Summary.P50, f.Summary.P95, f.Summary.P99, f.Feedback.Feedback,
                !regressor && f.Feedback.Feedback > 0 ? ToDto(WilsonInterval.Of(f.Feedback.Correct, f.Feedback.Feedback)) : null,
                regressor ? Mae(f.Feedback) : null,
                regressor ? Rmse(f.Feedback) : null,
                comparisons));
        }

        var agreement = mirror is null ? null : await ReadMirrorAsync(experiment, mirror, limit, ct);
        var traffic = await ReadTrafficAsync(experiment, clock.GetUtcNow().AddHours(-1), ct);
        var series = await ReadSeriesAsync(experiment, [.. figures.Keys], regressor, limit, createdAt, endedAt, ct);
        return new ExperimentResultsDto(experiment, baselineKey, results, agreement, traffic, series);
    }

    /// <summary>
    /// A candidate's figures since <paramref name="since"/> (its latest calls only, bounded as the results are): what
    /// the rollout job's guards read.
    /// </summary>
    public async Task<RolloutFigures> StepFiguresAsync(string experiment, string candidate, DateTimeOffset since, CancellationToken ct)
    {
        int limit = options.Value.MaxCallsPerCandidate;
        var from = since.ToUniversalTime();
        var row = await db.Database.SqlQuery<SummaryRow>($"""
            WITH c AS (
                SELECT "Status", "LatencyMs" FROM experiment_calls
                WHERE "Experiment" = {experiment} AND "Candidate" = {candidate} AND NOT "IsMirror" AND "At" >= {from}
                ORDER BY "At" DESC LIMIT {limit})
            SELECT count(*) AS "Requests", count(*) FILTER (WHERE "Status" NOT BETWEEN 200 AND 299) AS "Errors",
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY "LatencyMs") AS "P50",
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY "LatencyMs") AS "P95",
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY "LatencyMs") AS "P99"
            FROM c
            """).SingleAsync(ct);
        return new RolloutFigures(row.Requests, row.Errors, row.P95);
    }

    private async Task<CandidateFigures> ReadCandidateAsync(string experiment, string candidate, int limit, CancellationToken ct)
    {
        var summary = await db.Database.SqlQuery<SummaryRow>($"""
            WITH c AS (
                SELECT "Status", "LatencyMs" FROM experiment_calls
                WHERE "Experiment" = {experiment} AND "Candidate" = {candidate} AND NOT "IsMirror"
                ORDER BY "At" DESC LIMIT {limit})
            SELECT count(*) AS "Requests", count(*) FILTER (WHERE "Status" NOT BETWEEN 200 AND 299) AS "Errors",
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY "LatencyMs") AS "P50",
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY "LatencyMs") AS "P95",
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY "LatencyMs") AS "P99"
            FROM c
            """).SingleAsync(ct);
        var latencies = await db.Database.SqlQuery<double>($"""
            SELECT "LatencyMs" AS "Value" FROM experiment_calls
            WHERE "Experiment" = {experiment} AND "Candidate" = {candidate} AND NOT "IsMirror"
            ORDER BY "At" DESC LIMIT {limit}
            """).ToArrayAsync(ct);
        // The latest feedback on each call (an analyst may correct an earlier verdict); errors from the call's score.
        var feedback = await db.Database.SqlQuery<FeedbackRow>($"""
            WITH c AS (
                SELECT "RequestId", "Score" FROM experiment_calls
                WHERE "Experiment" = {experiment} AND "Candidate" = {candidate} AND NOT "IsMirror"
                ORDER BY "At" DESC LIMIT {limit}),
            j AS (
                SELECT f."Correct", f."TrueValue", abs(c."Score" - f."TrueValue") AS e
                FROM c CROSS JOIN LATERAL (
                    SELECT "Correct", "TrueValue" FROM feedback WHERE "RequestId" = c."RequestId"
                    ORDER BY "CreatedAt" DESC, "Id" DESC LIMIT 1) f)
            SELECT count(*) AS "Feedback", count(*) FILTER (WHERE "Correct") AS "Correct",
                   count("TrueValue") AS "WithTrueValue", count(e) AS "Scored",
                   avg(e) AS "Mae", var_samp(e) AS "MaeVariance", avg(e * e) AS "Mse", var_samp(e * e) AS "MseVariance"
            FROM j
            """).SingleAsync(ct);
        return new CandidateFigures(summary, latencies, feedback);
    }

    private async Task<MirrorAgreementDto> ReadMirrorAsync(string experiment, string mirror, int limit, CancellationToken ct)
    {
        // Each mirror copy paired with the answer the caller got (same request id, any candidate).
        var row = await db.Database.SqlQuery<MirrorRow>($"""
            WITH m AS (
                SELECT "RequestId", "Status", "Predicted", "Score" FROM experiment_calls
                WHERE "Experiment" = {experiment} AND "Candidate" = {mirror} AND "IsMirror"
                ORDER BY "At" DESC LIMIT {limit}),
            p AS (
                SELECT m."Status" BETWEEN 200 AND 299 AS ok, c."RequestId" IS NOT NULL AS paired,
                       m."Predicted" AS mp, c."Predicted" AS cp, m."Score" AS ms, c."Score" AS cs
                FROM m LEFT JOIN LATERAL (
                    SELECT "RequestId", "Predicted", "Score" FROM experiment_calls
                    WHERE "Experiment" = {experiment} AND "RequestId" = m."RequestId" AND NOT "IsMirror" AND "Status" BETWEEN 200 AND 299
                    LIMIT 1) c ON true)
            SELECT count(*) FILTER (WHERE NOT ok) AS "MirrorErrors", count(*) FILTER (WHERE ok AND paired) AS "Paired",
                   (avg(CASE WHEN mp = cp THEN 1.0 ELSE 0.0 END) FILTER (WHERE ok AND paired AND mp IS NOT NULL AND cp IS NOT NULL))::float8 AS "LabelAgreement",
                   avg(abs(ms - cs)) FILTER (WHERE ok AND paired) AS "ScoreDifference"
            FROM p
            """).SingleAsync(ct);
        return new MirrorAgreementDto(mirror, row.Paired, row.LabelAgreement, row.ScoreDifference, row.MirrorErrors);
    }

    // Accuracy (or MAE) over time: each candidate's feedback bucketed by when the call was made, over the same latest
    // calls as its results (so the last cumulative point equals the table's figure); counts and sums come back, not rows.
    private async Task<ExperimentSeriesDto> ReadSeriesAsync(
        string experiment, IReadOnlyList<string> candidates, bool regressor, int limit, DateTimeOffset createdAt, DateTimeOffset? endedAt, CancellationToken ct)
    {
        string bucket = FeedbackSeries.BucketFor((endedAt ?? clock.GetUtcNow()) - createdAt);
        var points = new List<ExperimentSeriesPointDto>();
        foreach (string candidate in candidates)
        {
            var rows = await db.Database.SqlQuery<BucketRow>($"""
                WITH c AS (
                    SELECT "RequestId", "Score", "At" FROM experiment_calls
                    WHERE "Experiment" = {experiment} AND "Candidate" = {candidate} AND NOT "IsMirror"
                    ORDER BY "At" DESC LIMIT {limit}),
                j AS (
                    SELECT c."At", f."Correct", abs(c."Score" - f."TrueValue") AS e
                    FROM c CROSS JOIN LATERAL (
                        SELECT "Correct", "TrueValue" FROM feedback WHERE "RequestId" = c."RequestId"
                        ORDER BY "CreatedAt" DESC, "Id" DESC LIMIT 1) f)
                SELECT date_trunc({bucket}, "At", 'UTC') AS "Start", count(*) AS "Feedback", count(*) FILTER (WHERE "Correct") AS "Correct",
                       count(e) AS "Scored", coalesce(sum(e), 0) AS "SumError", coalesce(sum(e * e), 0) AS "SumSquaredError"
                FROM j GROUP BY 1 ORDER BY 1
                """).ToListAsync(ct);
            var series = FeedbackSeries.Cumulative(
                rows.Select(r => new FeedbackBucket(r.Start.ToUniversalTime(), r.Feedback, r.Correct, r.Scored, r.SumError, r.SumSquaredError)), regressor);
            points.AddRange(series.Select(p => new ExperimentSeriesPointDto(
                p.Start, candidate, p.Feedback, p.Total, p.Accuracy is { } a ? ToDto(a) : null, p.Mae is { } m ? ToDto(m) : null)));
        }

        return new ExperimentSeriesDto(bucket, regressor ? "absolute-error" : "accuracy", points);
    }

    private async Task<IReadOnlyList<ExperimentTrafficPointDto>> ReadTrafficAsync(string experiment, DateTimeOffset since, CancellationToken ct)
    {
        var rows = await db.Database.SqlQuery<TrafficRow>($"""
            SELECT date_trunc('minute', "At", 'UTC') AS "Minute", "Candidate",
                   count(*)::int AS "Requests", (count(*) FILTER (WHERE "Status" NOT BETWEEN 200 AND 299))::int AS "Errors",
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY "LatencyMs") AS "P50",
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY "LatencyMs") AS "P95",
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY "LatencyMs") AS "P99"
            FROM experiment_calls
            WHERE "Experiment" = {experiment} AND "At" >= {since}
            GROUP BY 1, 2 ORDER BY 1, 2
            """).ToListAsync(ct);
        return rows.Select(r => new ExperimentTrafficPointDto(r.Minute.ToUniversalTime(), r.Candidate, r.Requests, r.Errors, r.P50, r.P95, r.P99)).ToList();
    }

    private static List<ComparisonDto> Compare(string key, CandidateFigures c, CandidateFigures b, bool regressor)
    {
        var list = new List<ComparisonDto>(3);
        if (c.Summary.Requests > 0 && b.Summary.Requests > 0)
        {
            var t = TwoProportionZTest.Test(c.Summary.Errors, c.Summary.Requests, b.Summary.Errors, b.Summary.Requests);
            long? needed = Needed(SampleSize.TwoProportions(t.P1, t.P2, Alpha));
            string verdict = t.PValue < Alpha
                ? $"candidate {key} fails {(t.Difference < 0 ? "less" : "more")} often: {Pct(t.P1)} vs {Pct(t.P2)}, {P(t.PValue)}"
                : $"no significant difference in error rate ({Pct(t.P1)} vs {Pct(t.P2)}, {P(t.PValue)}){More(needed, Math.Min(c.Summary.Requests, b.Summary.Requests), "requests")}";
            list.Add(new ComparisonDto("error-rate", "two-proportion z-test", t.Difference, t.Low, t.High, t.PValue, needed, verdict));
        }

        if (c.Latencies.Length > 0 && b.Latencies.Length > 0)
        {
            var u = MannWhitneyU.Test(c.Latencies, b.Latencies);
            double mc = MannWhitneyU.Median(c.Latencies), mb = MannWhitneyU.Median(b.Latencies);
            long? needed = Needed(SampleSize.MannWhitney(u.Superiority, Alpha));
            string verdict = u.PValue < Alpha
                ? $"candidate {key} has {(u.Superiority < 0.5 ? "lower" : "higher")} latency: median {Ms(mc)} vs {Ms(mb)}, {P(u.PValue)}"
                : $"no significant difference in latency (median {Ms(mc)} vs {Ms(mb)}, {P(u.PValue)}){More(needed, Math.Min(c.Latencies.Length, b.Latencies.Length), "requests")}";
            // An interval needs 3 values a side; without one the difference itself stands in (the DTO carries no NaN over JSON).
            list.Add(new ComparisonDto("latency", "Mann-Whitney U", u.MedianDifference,
                double.IsNaN(u.Low) ? u.MedianDifference : u.Low, double.IsNaN(u.High) ? u.MedianDifference : u.High, u.PValue, needed, verdict));
        }

        if (!regressor && c.Feedback.Feedback > 0 && b.Feedback.Feedback > 0)
        {
            var t = TwoProportionZTest.Test(c.Feedback.Correct, c.Feedback.Feedback, b.Feedback.Correct, b.Feedback.Feedback);
            long? needed = Needed(SampleSize.TwoProportions(t.P1, t.P2, Alpha));
            string verdict = t.PValue < Alpha
                ? $"candidate {key} is {(t.Difference > 0 ? "more" : "less")} accurate: {Pct(t.P1)} vs {Pct(t.P2)}, {P(t.PValue)}"
                : $"no significant difference in accuracy ({Pct(t.P1)} vs {Pct(t.P2)}, {P(t.PValue)}){More(needed, Math.Min(c.Feedback.Feedback, b.Feedback.Feedback), "feedback records")}";
            list.Add(new ComparisonDto("accuracy", "two-proportion z-test", t.Difference, t.Low, t.High, t.PValue, needed, verdict));
        }

        if (regressor && AbsoluteErrors(c.Feedback) is { } ce && AbsoluteErrors(b.Feedback) is { } be)
        {
            var t = WelchTTest.Test(ce, be);
            long? needed = Needed(SampleSize.TwoMeans(t.Difference, Math.Sqrt((ce.Variance + be.Variance) / 2), Alpha));
            string verdict = t.PValue < Alpha
                ? $"candidate {key} has {(t.Difference < 0 ? "smaller" : "larger")} errors: MAE {Num(ce.Mean)} vs {Num(be.Mean)}, {P(t.PValue)}"
                : $"no significant difference in absolute error (MAE {Num(ce.Mean)} vs {Num(be.Mean)}, {P(t.PValue)}){More(needed, Math.Min(ce.Count, be.Count), "feedback records")}";
            list.Add(new ComparisonDto("absolute-error", "Welch's t-test", t.Difference, t.Low, t.High, t.PValue, needed, verdict));
        }

        return list;
    }

    private static SampleSummary? AbsoluteErrors(FeedbackRow f) =>
        f.Scored >= 2 && f.Mae is { } mae ? new SampleSummary(f.Scored, mae, f.MaeVariance ?? 0) : null;

    private static EstimateDto? Mae(FeedbackRow f) => AbsoluteErrors(f) is { } s ? ToDto(MeanInterval.Of(s)) : null;

    private static EstimateDto? Rmse(FeedbackRow f)
    {
        if (f.Scored < 2 || f.Mse is not { } mse)
        {
            return null;
        }

        // The t interval of the mean squared error, its ends square-rooted (a monotone map keeps the coverage).
        var e = MeanInterval.Of(new SampleSummary(f.Scored, mse, f.MseVariance ?? 0));
        return new EstimateDto(Math.Sqrt(mse), Math.Sqrt(Math.Max(0, e.Low)), Math.Sqrt(Math.Max(0, e.High)));
    }

    private static EstimateDto ToDto(Estimate e) => new(e.Value, e.Low, e.High);

    private static long? Needed(double n) => double.IsFinite(n) && n < 1e15 ? (long)Math.Ceiling(n) : null;

    private static string More(long? needed, long have, string what) =>
        needed is { } n && n > have
            ? string.Create(CultureInfo.InvariantCulture, $"; about {n - have:N0} more {what} per candidate would be needed to detect it")
            : needed is null ? "; the figures are the same" : "";

    private static string Pct(double p) => string.Create(CultureInfo.InvariantCulture, $"{p * 100:0.0} %");

    private static string Ms(double ms) => string.Create(CultureInfo.InvariantCulture, $"{ms:0.#} ms");

    private static string Num(double x) => x.ToString("G3", CultureInfo.InvariantCulture);

    private static string P(double p) => p < 0.001 ? "p < 0.001" : string.Create(CultureInfo.InvariantCulture, $"p = {(p < 0.01 ? p.ToString("0.000", CultureInfo.InvariantCulture) : p.ToString("0.00", CultureInfo.InvariantCulture))}");

    private sealed record CandidateFigures(SummaryRow Summary, double[] Latencies, FeedbackRow Feedback);

    private sealed class SummaryRow
    {
        public long Requests { get; init; }
        public long Errors { get; init; }
        public double? P50 { get; init; }
        public double? P95 { get; init; }
        public double? P99 { get; init; }
    }

    private sealed class FeedbackRow
    {
        public long Feedback { get; init; }
        public long Correct { get; init; }
        public long WithTrueValue { get; init; }
        public long Scored { get; init; }
        public double? Mae { get; init; }
        public double? MaeVariance { get; init; }
        public double? Mse { get; init; }
        public double? MseVariance { get; init; }
    }

    private sealed class MirrorRow
    {
        public long MirrorErrors { get; init; }
        public long Paired { get; init; }
        public double? LabelAgreement { get; init; }
        public double? ScoreDifference { get; init; }
    }

    private sealed class BucketRow
    {
        public DateTimeOffset Start { get; init; }
        public long Feedback { get; init; }
        public long Correct { get; init; }
        public long Scored { get; init; }
        public double SumError { get; init; }
        public double SumSquaredError { get; init; }
    }

    private sealed class TrafficRow
    {
        public DateTimeOffset Minute { get; init; }
        public required string Candidate { get; init; }
        public int Requests { get; init; }
        public int Errors { get; init; }
        public double P50 { get; init; }
        public double P95 { get; init; }
        public double P99 { get; init; }
    }
}
