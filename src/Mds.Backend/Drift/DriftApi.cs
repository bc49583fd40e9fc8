using System.Text.Json;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Drift;

/// <summary><c>/api/models/{name}/versions/{v}/drift</c> and <c>/api/drift/status</c>: drift reports, on-demand checks, badges.</summary>
public static class DriftApi
{
    /// <summary>The PSI above which a feature is usually said to have shifted markedly.</summary>
    public const double PsiWarning = 0.2;

    private const int MaxTake = 1000;

    /// <summary>The concurrency limit of manual drift checks (<see cref="DriftOptions.MaxConcurrentManualRuns"/>).</summary>
    public const string LimitPolicy = "drift check";

    public static IEndpointRouteBuilder MapDriftApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/models/{name}/versions/{version:int}/drift").WithTags("Drift").RequireAuthorization(Policies.AnyUser);
        group.MapGet("/", List).WithName("ListDriftReports").WithSummary("The version's drift reports, oldest first: ?take= (newest N, default 100)");
        group.MapGet("/{id:long}", Get).WithName("GetDriftReport").WithSummary("One drift report with reference-vs-current histograms per feature");
        group.MapPost("/", Run).WithName("RunDriftCheck").WithSummary("Check drift now over the newest input rows")
            .RequireRateLimiting(LimitPolicy);
        app.MapGet("/api/drift/status", Status).WithTags("Drift").RequireAuthorization(Policies.AnyUser)
            .WithName("DriftStatus").WithSummary("The newest drift verdict of every version that has one");
        return app;
    }

    /// <summary>The stored features of a report; without histograms for lists.</summary>
    public static IReadOnlyList<FeatureDriftDto> Features(string json, bool withHistograms)
    {
        var features = JsonSerializer.Deserialize<List<FeatureDriftDto>>(json, DriftRunner.Json) ?? [];
        return withHistograms ? features : [.. features.Select(f => f with { Histogram = null })];
    }

    private static async Task<Results<Ok<DriftReportListDto>, ProblemHttpResult>> List(
        string name, int version, MdsDbContext db, IOptions<DriftOptions> options, CancellationToken ct, int take = 100)
    {
        if (take < 1)
        {
            return TypedResults.Problem("'take' must be 1 or more.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (!await db.ModelVersions.AnyAsync(v => v.Model.Name == name && v.Version == version, ct))
        {
            return NotFound(name, version);
        }

        var rows = await db.Set<DriftReportRecord>().AsNoTracking()
            .Where(r => r.ModelVersion.Model.Name == name && r.ModelVersion.Version == version)
            .OrderByDescending(r => r.Time).ThenByDescending(r => r.Id).Take(Math.Min(take, MaxTake)).ToListAsync(ct);
        rows.Reverse();
        var o = options.Value;
        return TypedResults.Ok(new DriftReportListDto(name, version, [.. rows.Select(r => ToDto(r, name, version, withHistograms: false))],
            PsiWarning, o.WindowRows, o.MinRows, o.Schedule));
    }

    private static async Task<Results<Ok<DriftReportDto>, ProblemHttpResult>> Get(string name, int version, long id, MdsDbContext db, CancellationToken ct)
    {
        var report = await db.Set<DriftReportRecord>().AsNoTracking()
            .SingleOrDefaultAsync(r => r.Id == id && r.ModelVersion.Model.Name == name && r.ModelVersion.Version == version, ct);
        return report is null
            ? TypedResults.Problem($"Model '{name}' version {version} has no drift report {id}.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(ToDto(report, name, version, withHistograms: true));
    }

    private static async Task<Results<Created<DriftReportDto>, ProblemHttpResult>> Run(string name, int version, MdsDbContext db, DriftRunner runner, CancellationToken ct)
    {
        var v = await db.ModelVersions.AsNoTracking().Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFound(name, version);
        }

        var (report, error) = await runner.RunAsync(v, DriftRunner.Manual, ct);
        return report is null
            ? TypedResults.Problem(char.ToUpperInvariant(error![0]) + error[1..] + ".", statusCode: StatusCodes.Status400BadRequest)
            : TypedResults.Created($"/api/models/{name}/versions/{version}/drift/{report.Id}", ToDto(report, name, version, withHistograms: true));
    }

    private static async Task<Ok<List<DriftStatusDto>>> Status(MdsDbContext db, CancellationToken ct)
    {
        var latest = await db.Set<DriftReportRecord>().AsNoTracking()
            .Where(r => r.Id == db.Set<DriftReportRecord>().Where(x => x.ModelVersionId == r.ModelVersionId).Max(x => x.Id))
            .OrderBy(r => r.ModelVersion.Model.Name).ThenBy(r => r.ModelVersion.Version)
            .Select(r => new { Model = r.ModelVersion.Model.Name, r.ModelVersion.Version, r.Id, r.Time, r.Drifted, r.FeaturesJson })
            .ToListAsync(ct);
        return TypedResults.Ok(latest.Select(r => new DriftStatusDto(r.Model, r.Version, r.Id, r.Time, r.Drifted,
            [.. Features(r.FeaturesJson, withHistograms: false).Where(f => f.Drifted).Select(f => f.Feature)])).ToList());
    }

    private static DriftReportDto ToDto(DriftReportRecord r, string name, int version, bool withHistograms) => new(
        r.Id, name, version, r.Time, r.Trigger, r.WindowFrom, r.WindowTo, r.Records, r.Rows, r.ReferenceRows, r.Alpha, r.Threshold, r.Drifted,
        Features(r.FeaturesJson, withHistograms),
        r.MultivariateJson is null ? null : JsonSerializer.Deserialize<MultivariateDriftDto>(r.MultivariateJson, DriftRunner.Json));

    private static ProblemHttpResult NotFound(string name, int version) =>
        TypedResults.Problem($"Model '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound);
}
