using Hangfire;

namespace Mds.Backend.Scheduling;

/// <summary>
/// The reconciler's recurring Hangfire timer: a job on the backend's own queue every
/// <see cref="SchedulerOptions.ReconcileInterval"/> (second-level cron; Hangfire runs each recurrence on one backend
/// only). Changes (uploads, heartbeats, reports) also wake the reconciler at once through <see cref="ReconcileSignal"/>.
/// </summary>
public static class ReconcileSchedule
{
    public const string Queue = "backend";
    public const string JobId = "mds-reconcile";

    public static IServiceCollection AddReconcileSchedule(this IServiceCollection services)
    {
        services.AddHangfireServer(o =>
        {
            o.ServerName = $"backend-{Environment.MachineName}-{Environment.ProcessId}";
            o.Queues = [Queue];
            o.WorkerCount = 2;
            // The backend's one full server: its recurring and delayed job schedulers serve every queue (reconcile,
            // drift, batches; the drift and batch servers are lightweight) and it runs the storage's housekeeping.
            o.SchedulePollingInterval = TimeSpan.FromSeconds(1);
        });
        services.AddHostedService<Registration>();
        return services;
    }

    /// <summary>A cron expression for the interval: seconds below a minute, minutes above.</summary>
    public static string CronFor(TimeSpan interval)
    {
        int seconds = Math.Max(1, (int)Math.Round(interval.TotalSeconds));
        return seconds < 60 ? $"*/{seconds} * * * * *" : $"*/{Math.Max(1, seconds / 60)} * * * *";
    }

    private sealed class Registration(IRecurringJobManager jobs, Microsoft.Extensions.Options.IOptions<SchedulerOptions> options, ILogger<Registration> log) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => RecurringJobRegistration.StartAsync(JobId, () =>
            jobs.AddOrUpdate<Reconciler>(JobId, Queue, r => r.RunScheduledAsync(CancellationToken.None), CronFor(options.Value.ReconcileInterval)), log);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
