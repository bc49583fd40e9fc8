using System.Globalization;
using Hangfire;
using Hangfire.Server;
using Hangfire.Storage;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Limits;
using Mds.Backend.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Drift;

/// <summary>
/// One recurring Hangfire job per deployed version with a reference dataset, <c>mds-drift-{model}-v{version}</c> on
/// the <c>monitoring</c> queue at <see cref="DriftOptions.Schedule"/>. The job <c>mds-drift-schedule</c> keeps that set
/// in line with the registry every <see cref="DriftOptions.SyncInterval"/> (adding jobs for new datasets, removing
/// those of deleted versions or datasets, and versions scaled to zero) and refreshes the drift gauges from the newest
/// stored reports, so every backend exports them.
/// </summary>
public sealed partial class DriftSchedule(
    IServiceScopeFactory scopes, IRecurringJobManager jobs, JobStorage storage, DriftMetrics metrics, IOptions<DriftOptions> options, ILogger<DriftSchedule> log)
{
    public const string Queue = "monitoring";
    public const string SyncJobId = "mds-drift-schedule";
    public const string JobPrefix = "mds-drift-";

    /// <summary>The recurring job id of a version's drift check.</summary>
    public static string JobId(string model, int version) => $"{JobPrefix}{model}-v{version.ToString(CultureInfo.InvariantCulture)}";

    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(60)]
    public async Task SyncAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var wanted = await db.ModelVersions.AsNoTracking()
            .Where(v => v.Replicas > 0 && db.Set<ReferenceDataset>().Any(d => d.ModelVersionId == v.Id))
            .Select(v => new { v.Id, Model = v.Model.Name, v.Version })
            .ToListAsync(ct);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in wanted)
        {
            string id = JobId(v.Model, v.Version);
            ids.Add(id);
            long versionId = v.Id;
            jobs.AddOrUpdate<DriftJob>(id, Queue, j => j.RunScheduledAsync(versionId, null, CancellationToken.None), options.Value.Schedule);
        }

        using (var connection = storage.GetConnection())
        {
            foreach (var job in connection.GetRecurringJobs())
            {
                if (job.Id.StartsWith(JobPrefix, StringComparison.Ordinal) && job.Id != SyncJobId && !ids.Contains(job.Id))
                {
                    jobs.RemoveIfExists(job.Id);
                    LogRemoved(job.Id);
                }
            }
        }

        // The newest report of every version that has reports, for the gauges (a restarted backend exports them too).
        var latest = await db.Set<DriftReportRecord>().AsNoTracking()
            .Where(r => r.Id == db.Set<DriftReportRecord>().Where(x => x.ModelVersionId == r.ModelVersionId).Max(x => x.Id))
            .Select(r => new { Model = r.ModelVersion.Model.Name, r.ModelVersion.Version, r.Time, r.Drifted, r.FeaturesJson })
            .ToListAsync(ct);
        foreach (var r in latest)
        {
            metrics.Observe(r.Model, r.Version, r.Time, r.Drifted, DriftApi.Features(r.FeaturesJson, withHistograms: false));
        }

        metrics.Retain(latest.Select(r => (r.Model, r.Version)).ToHashSet());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed drift job {JobId}: its version is gone, scaled to zero or has no reference dataset")]
    private partial void LogRemoved(string jobId);
}

/// <summary>A version's scheduled drift check (Hangfire).</summary>
public sealed partial class DriftJob(MdsDbContext db, DriftRunner runner, DriftMetrics metrics, IOptions<DriftOptions> options, TimeProvider clock, ILogger<DriftJob> log)
{
    /// <summary>A check as registered before its job took the context (such jobs may still be queued after an upgrade).</summary>
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(300)]
    public Task RunScheduledAsync(long versionId, CancellationToken ct) => RunScheduledAsync(versionId, context: null, ct);

    /// <summary>
    /// A version's scheduled check. One that finds a report of its version made after it was enqueued skips: that report
    /// says what this one would, so a queue that fell behind (more versions, or slower runs, than the monitoring worker
    /// gets through in one interval) catches up with one run per version instead of running every missed check in turn.
    /// </summary>
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(300)]
    public async Task RunScheduledAsync(long versionId, PerformContext? context, CancellationToken ct)
    {
        var version = await db.ModelVersions.AsNoTracking().Include(v => v.Model).SingleOrDefaultAsync(v => v.Id == versionId, ct);
        if (version is null)
        {
            return; // deleted; the schedule removes the job on its next sync
        }

        if (context?.BackgroundJob.CreatedAt is { } enqueued)
        {
            var due = new DateTimeOffset(DateTime.SpecifyKind(enqueued, DateTimeKind.Utc));
            var newest = await db.Set<DriftReportRecord>().Where(r => r.ModelVersionId == versionId).MaxAsync(r => (DateTimeOffset?)r.Time, ct);
            if (newest > due)
            {
                metrics.CountRun(version.Model.Name, version.Version, "skipped");
                LogSkipped(version.Model.Name, version.Version, $"report of {newest:O} is newer than this check, enqueued {due:O}");
                return;
            }
        }

        var (report, error) = await runner.RunAsync(version, DriftRunner.Scheduled, ct);
        if (report is null)
        {
            metrics.CountRun(version.Model.Name, version.Version, "skipped");
            LogSkipped(version.Model.Name, version.Version, error!);
        }
        else if (report.Drifted)
        {
            LogDrift(version.Model.Name, version.Version, report.Id);
        }

        var before = clock.GetUtcNow().AddDays(-options.Value.KeepDays);
        await db.Set<DriftReportRecord>().Where(r => r.ModelVersionId == versionId && r.Time < before).ExecuteDeleteAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Drift check of {Model} v{Version} skipped: {Reason}")]
    private partial void LogSkipped(string model, int version, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift detected for {Model} v{Version} (report {ReportId})")]
    private partial void LogDrift(string model, int version, long reportId);
}

/// <summary>Registers the drift services, the <c>monitoring</c> queue's Hangfire server and the schedule's own job.</summary>
public static class DriftSetup
{
    public static IHostApplicationBuilder AddDrift(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DriftOptions>().Bind(builder.Configuration.GetSection("Mds:Drift")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DriftMetrics>();
        builder.Services.AddSingleton<DriftSchedule>();
        builder.Services.AddScoped<DriftRunner>();
        builder.Services.AddScoped<DriftJob>();
        builder.Services.AddConcurrencyLimit<DriftOptions>(DriftApi.LimitPolicy, o => (o.MaxConcurrentManualRuns, o.MaxQueuedManualRuns));
        builder.Services.AddHangfireServer(o =>
        {
            o.ServerName = $"monitoring-{Environment.MachineName}-{Environment.ProcessId}";
            o.Queues = [DriftSchedule.Queue];
            o.WorkerCount = 1;
            // Only its worker: the backend's main server (ReconcileSchedule) runs the recurring and delayed job
            // schedulers for every queue, the drift job's included, and the storage's housekeeping.
            o.IsLightweightServer = true;
        });
        builder.Services.AddHostedService<Registration>();
        return builder;
    }

    private sealed class Registration(IRecurringJobManager jobs, IOptions<DriftOptions> options, ILogger<Registration> log) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => RecurringJobRegistration.StartAsync(DriftSchedule.SyncJobId, () =>
        {
            jobs.AddOrUpdate<DriftSchedule>(DriftSchedule.SyncJobId, DriftSchedule.Queue, s => s.SyncAsync(CancellationToken.None), ReconcileSchedule.CronFor(options.Value.SyncInterval));
            jobs.Trigger(DriftSchedule.SyncJobId);
        }, log);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
