using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Monitoring;

/// <summary><c>/api/stats</c>: what the admin dashboard charts.</summary>
public static class StatsApi
{
    /// <summary>The gateway's in-memory traffic statistics.</summary>
    public static IHostApplicationBuilder AddMonitoring(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TrafficStats>();
        builder.Services.AddHostedService<ClusterMetrics>();
        return builder;
    }

    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder app)
    {
        var stats = app.MapGroup("/api/stats").WithTags("Monitoring").RequireAuthorization(Policies.Admin);
        stats.MapGet("/traffic", Traffic)
            .WithName("Traffic").WithSummary("Requests, errors and latency percentiles per model and minute (this backend, last hour)");
        stats.MapGet("/failures", Failures)
            .WithName("RecentFailures").WithSummary("Recent failed inferences through the gateway and replicas that failed to load, newest first");
        return app;
    }

    private static Ok<IReadOnlyList<TrafficPointDto>> Traffic(TrafficStats traffic, int minutes = 60) =>
        TypedResults.Ok(traffic.Traffic(minutes));

    private static async Task<Ok<List<FailureDto>>> Failures(TrafficStats traffic, MdsDbContext db, CancellationToken ct, int take = 50)
    {
        take = Math.Clamp(take, 1, TrafficStats.MaxFailures);
        var replicas = await db.Replicas.AsNoTracking().Where(r => r.State == ReplicaStates.Failed)
            .OrderByDescending(r => r.UpdatedAt).Take(take)
            .Select(r => new { r.UpdatedAt, Model = r.ModelVersion.Model.Name, r.ModelVersion.Version, r.Error, Worker = r.Worker.Name })
            .ToListAsync(ct);
        var gateway = traffic.RecentFailures(take)
            .Select(f => new FailureDto(f.At, f.Model, f.Version, "gateway", f.Status, $"the gateway answered {f.Status} to POST {f.Route}"));
        var failed = replicas.Select(r => new FailureDto(r.UpdatedAt, r.Model, r.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "replica", null, $"{r.Error ?? "failed"} (worker {r.Worker})"));
        return TypedResults.Ok(gateway.Concat(failed).OrderByDescending(f => f.At).Take(take).ToList());
    }
}
