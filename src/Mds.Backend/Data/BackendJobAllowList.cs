using Hangfire.Common;
using Hangfire.States;
using Mds.Backend.Audit;
using Mds.Backend.Batches;
using Mds.Backend.Drift;
using Mds.Backend.Experiments;
using Mds.Backend.Scheduling;

namespace Mds.Backend.Data;

/// <summary>
/// The only jobs the backend's Hangfire servers run. A job is a type and a method named in a database row, and the
/// server would build and call whatever it names; anyone who can write Hangfire's tables could run code in the
/// backend. So before a job moves to Processing (before its type is activated) this filter checks it against the
/// list; any other job fails with the reason, and is neither activated nor retried.
/// </summary>
public sealed class BackendJobAllowList : JobFilterAttribute, IElectStateFilter
{
    private static readonly HashSet<(Type Type, string Method)> Allowed =
    [
        (typeof(Reconciler), nameof(Reconciler.RunScheduledAsync)),
        (typeof(DriftSchedule), nameof(DriftSchedule.SyncAsync)),
        (typeof(DriftJob), nameof(DriftJob.RunScheduledAsync)),
        (typeof(AuditPartitions), nameof(AuditPartitions.MaintainAsync)),
        (typeof(BatchJob), nameof(BatchJob.RunAsync)),
        (typeof(BatchJob), nameof(BatchJob.CleanupAsync)),
        (typeof(RolloutJob), nameof(RolloutJob.RunScheduledAsync)),
    ];

    /// <summary>Runs after every other filter (AutomaticRetry included), so a refused job is not retried.</summary>
    public BackendJobAllowList() => Order = int.MaxValue;

    /// <summary>True when the backend may run <paramref name="job"/>.</summary>
    public static bool Allows(Job? job) => job is not null && Allowed.Contains((job.Type, job.Method.Name));

    /// <inheritdoc />
    public void OnStateElection(ElectStateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.CandidateState is ProcessingState && !Allows(context.BackgroundJob.Job))
        {
            var job = context.BackgroundJob.Job;
            string what = job is null ? "a job whose type cannot be loaded" : $"{job.Type.FullName}.{job.Method.Name}";
            context.CandidateState = new FailedState(new UnauthorizedAccessException($"The backend does not run {what}: it is not on the backend's job allow-list."))
            {
                Reason = "not on the backend's job allow-list",
            };
        }
    }
}
