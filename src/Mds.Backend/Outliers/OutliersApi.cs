using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using static Mds.Backend.Http.ApiResults;

namespace Mds.Backend.Outliers;

/// <summary><c>/api/models/{name}/versions/{v}/outliers</c>: a version's outlier detector, and scores for rows sent.</summary>
public static class OutliersApi
{
    /// <summary>The most rows one scoring request may send.</summary>
    public const int MaxRows = 10_000;

    public static IHostApplicationBuilder AddOutliers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OutlierOptions>().Bind(builder.Configuration.GetSection("Mds:Outliers")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReferenceSamples>();
        builder.Services.AddHostedService<OutlierScorer>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOutliersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/models/{name}/versions/{version:int}/outliers").WithTags("Outliers").RequireAuthorization(Policies.AnyUser);
        group.MapGet("/", Get).WithName("GetOutlierDetector").WithSummary("The version's outlier detector: Mahalanobis distance fitted on its reference dataset");
        group.MapPost("/score", Score).WithName("ScoreOutliers").WithSummary("Outlier scores of the rows sent");
        return app;
    }

    private static async Task<Results<Ok<OutlierDetectorDto>, ProblemHttpResult>> Get(string name, int version, MdsDbContext db, ReferenceSamples samples, CancellationToken ct)
    {
        var (sample, problem) = await samples.ForVersionAsync(db, name, version, ct);
        if (sample is null)
        {
            return problem!;
        }

        if (sample.Outliers is not { } detector)
        {
            return Bad(NoNumericColumns);
        }

        return TypedResults.Ok(new OutlierDetectorDto(
            "mahalanobis", detector.Threshold, detector.Quantile, sample.Rows.Length,
            [.. sample.NumericColumns.Select(f => sample.Features[f])],
            [.. Enumerable.Range(0, sample.Features.Count).Except(sample.NumericColumns).Select(f => sample.Features[f])]));
    }

    private static async Task<Results<Ok<OutlierScoresDto>, ProblemHttpResult>> Score(
        string name, int version, [FromBody] FeatureRowsDto? body, MdsDbContext db, ReferenceSamples samples, CancellationToken ct)
    {
        var (sample, problem) = await samples.ForVersionAsync(db, name, version, ct);
        if (sample is null)
        {
            return problem!;
        }

        if (sample.Outliers is not { } detector)
        {
            return Bad(NoNumericColumns);
        }

        // Rows hold the numeric features only (the detector's Features): text columns are not scored.
        if (CheckRows(body, sample.NumericColumns.Count, MaxRows) is { } error)
        {
            return Bad(error);
        }

        var scores = body!.Rows.Select(r => detector.Score(r.ToArray())).ToList();
        return TypedResults.Ok(new OutlierScoresDto(scores, [.. scores.Select(s => s > detector.Threshold)], detector.Threshold));
    }

    /// <summary>Why <paramref name="body"/> is not 1 to <paramref name="maxRows"/> rows of <paramref name="width"/> finite numbers; null when it is.</summary>
    internal static string? CheckRows(FeatureRowsDto? body, int width, int maxRows)
    {
        if (body?.Rows is not { Count: > 0 } rows)
        {
            return "'rows' is required: a list of rows, each a list of feature values.";
        }

        if (rows.Count > maxRows)
        {
            return maxRows == 1 ? $"Send exactly one row; {rows.Count} were sent." : $"At most {maxRows} rows at a time; {rows.Count} were sent.";
        }

        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r] is null || rows[r].Count != width)
            {
                return $"Row {r} has {rows[r]?.Count ?? 0} values; the model takes {width} features.";
            }

            if (rows[r].Any(v => !double.IsFinite(v)))
            {
                return $"Row {r} holds a value that is not a finite number.";
            }
        }

        return null;
    }

    private const string NoNumericColumns = "The model has no numeric columns: outliers are scored on numeric columns only (text columns are skipped).";
}
