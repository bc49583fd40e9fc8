using Hangfire;
using Mds.Backend.Cluster;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Scheduling;

/// <summary>
/// Turns the planner's actions into replica rows and Hangfire orders. Runs under a PostgreSQL advisory lock, so two
/// backends never place the same replica twice; running it again with nothing changed does nothing.
/// </summary>
public sealed class Reconciler(
    MdsDbContext db,
    WorkerOrdersQueue orders,
    RoutingTable routing,
    AutoscaleSignals signals,
    IOptions<SchedulerOptions> options,
    TimeProvider clock,
    ServingSince servingSince,
    ILogger<Reconciler> log)
{
    private const long AdvisoryLockKey = 0x4d44535f5343; // "MDS_SC"

    /// <summary>The recurring Hangfire job's entry point (the plan is not a job result worth storing).</summary>
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task RunScheduledAsync(CancellationToken ct) => await ReconcileAsync(ct);

    /// <summary>One pass: mark silent workers Offline, plan, apply. Returns the plan that was applied.</summary>
    public async Task<PlacementPlan> ReconcileAsync(CancellationToken ct)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var jobs = new List<(long WorkerId, long ReplicaId, bool Load)>();
        PlacementPlan plan;
        bool reasonsChanged = false;

        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", ct);

            // Workers that stopped heartbeating go Offline, and what they had fails. Not before this backend has listened
            // for a heartbeat timeout itself: after a restart every worker's last heartbeat is as old as the outage, and
            // failing their replicas would reload every model that is still Ready (the workers kept serving).
            var silentSince = now - o.HeartbeatTimeout;
            var lost = servingSince.HasServedFor(o.HeartbeatTimeout)
                ? await db.Workers.Where(w => w.State != WorkerStates.Offline && w.LastHeartbeatAt < silentSince).ToListAsync(ct)
                : [];
            foreach (var w in lost)
            {
                w.State = WorkerStates.Offline;
                log.LogWarning("Worker {Worker} missed heartbeats since {LastHeartbeat}; now Offline", w.Name, w.LastHeartbeatAt);
            }

            if (lost.Count > 0)
            {
                var lostIds = lost.Select(w => w.Id).ToList();
                await db.SaveChangesAsync(ct);
                await db.Replicas.Where(r => lostIds.Contains(r.WorkerId) && r.State != ReplicaStates.Failed)
                    .ExecuteUpdateAsync(s => s.SetProperty(r => r.State, ReplicaStates.Failed).SetProperty(r => r.Error, "worker offline").SetProperty(r => r.UpdatedAt, now), ct);
                foreach (var id in lostIds)
                {
                    orders.ClearQueue(id); // orders waiting for a dead worker would run stale if it came back
                }
            }

            var replicas = await db.Replicas.ToListAsync(ct);
            var tracked = await db.ModelVersions.ToListAsync(ct);
            await AutoscaleAsync(tracked, replicas, now, o, ct);
            var versions = tracked.Select(v => new { v.Id, v.Requirements, v.MemoryMb, v.MeasuredMemoryMb, v.Replicas, v.PendingReason }).ToList();
            var workers = await db.Workers.AsNoTracking().ToListAsync(ct);

            var memoryOf = versions.ToDictionary(v => v.Id, v => v.MemoryMb ?? v.MeasuredMemoryMb ?? o.DefaultMemoryMb);
            plan = PlacementPlanner.Plan(
                versions.Select(v => new VersionDemand(v.Id, v.Requirements.ToHashSet(StringComparer.Ordinal), memoryOf[v.Id], v.Replicas)).ToList(),
                workers.Select(w => new WorkerSupply(w.Id, w.Capabilities.ToHashSet(StringComparer.Ordinal), w.MemoryCapacityMb, Condition(w.State))).ToList(),
                replicas.Where(r => r.State != ReplicaStates.Unloading)
                    .Select(r => new ReplicaPlacement(r.Id, r.ModelVersionId, r.WorkerId, Condition(r), memoryOf.GetValueOrDefault(r.ModelVersionId, o.DefaultMemoryMb)))
                    .ToList(),
                o.OvercommitFactor);

            var added = new List<Replica>();
            foreach (var load in plan.Loads)
            {
                var replica = new Replica { ModelVersionId = load.VersionId, WorkerId = load.WorkerId, State = ReplicaStates.Scheduled, CreatedAt = now, UpdatedAt = now };
                db.Replicas.Add(replica);
                added.Add(replica);
            }

            foreach (var r in replicas.Where(r => plan.Unloads.Contains(r.Id)))
            {
                db.Replicas.Remove(r);
                jobs.Add((r.WorkerId, r.Id, false));
            }

            // A load order nobody picked up (lost enqueue, worker restarted) is given again; loading is idempotent.
            foreach (var r in replicas.Where(r => r.State == ReplicaStates.Scheduled && now - r.UpdatedAt > o.LoadOrderTimeout))
            {
                r.UpdatedAt = now;
                jobs.Add((r.WorkerId, r.Id, true));
            }

            // Pending reasons: set where the planner gave one, cleared where it no longer applies. A version that failed
            // to load on every eligible worker says so, with the workers' own errors, instead of a placement message.
            var workerNames = workers.ToDictionary(w => w.Id, w => w.Name);
            foreach (var v in tracked)
            {
                string? reason = plan.PendingReasons.GetValueOrDefault(v.Id);
                if (plan.FailedOn.TryGetValue(v.Id, out var failedOn))
                {
                    var failures = replicas.Where(r => r.ModelVersionId == v.Id && r.State == ReplicaStates.Failed && failedOn.Contains(r.WorkerId)).ToList();
                    int serving = replicas.Count(r => r.ModelVersionId == v.Id && r.State is ReplicaStates.Ready or ReplicaStates.Loading or ReplicaStates.Scheduled);
                    reason = LoadFailure.Describe([.. failedOn.Select(id => workerNames.GetValueOrDefault(id, $"worker {id}"))],
                        failures.OrderBy(r => r.WorkerId).Select(r => r.Error), serving, v.Replicas);
                }

                if (reason != v.PendingReason)
                {
                    reasonsChanged = true;
                    v.PendingReason = reason;
                }
            }

            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            jobs.AddRange(added.Select(r => (r.WorkerId, r.Id, true)));
        }

        // Orders go out after the commit, so a worker never asks for a replica that is not there yet; and after this
        // backend's routing table has dropped the replicas being unloaded, so it stops sending requests there first.
        bool refreshed = false;
        if (plan.Unloads.Count > 0)
        {
            await routing.RefreshAsync(ct);
            refreshed = true;
        }

        foreach (var (workerId, replicaId, load) in jobs)
        {
            _ = load ? orders.Load(workerId, replicaId) : orders.Unload(workerId, replicaId);
        }

        if (!plan.IsEmpty)
        {
            log.LogInformation("Reconciled: {Loads} replicas placed, {Unloads} removed, {Pending} versions pending", plan.Loads.Count, plan.Unloads.Count, plan.PendingReasons.Count);
        }

        if (!refreshed && (!plan.IsEmpty || jobs.Count > 0 || reasonsChanged))
        {
            await routing.RefreshAsync(ct);
        }

        return plan;
    }

    /// <summary>
    /// Applies the autoscaling rule to every version with bounds; changes the tracked entities and records each change as
    /// a <see cref="ScalingEvent"/> with its reason. The load is every backend's fresh gateway report summed, and the
    /// workers' last heartbeats.
    /// </summary>
    private async Task AutoscaleAsync(List<ModelVersion> versions, List<Replica> replicas, DateTimeOffset now, SchedulerOptions o, CancellationToken ct)
    {
        var autoscaled = versions.Where(v => v.MinReplicas is not null && v.MaxReplicas is not null).ToList();
        signals.KeepOnly(autoscaled.Select(v => v.Id).ToHashSet());
        if (autoscaled.Count == 0)
        {
            return;
        }

        var ids = autoscaled.Select(v => v.Id).ToList();
        var freshSince = now - 3 * o.HeartbeatInterval;
        var reports = (await db.Set<GatewayLoadReport>().AsNoTracking()
                .Where(r => ids.Contains(r.ModelVersionId) && r.UpdatedAt >= freshSince).ToListAsync(ct))
            .ToLookup(r => r.ModelVersionId);
        var modelIds = autoscaled.Select(v => v.ModelId).Distinct().ToList();
        var names = await db.Models.AsNoTracking().Where(m => modelIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, m => m.Name, ct);
        foreach (var v in autoscaled)
        {
            var ready = replicas.Where(r => r.ModelVersionId == v.Id && r.State == ReplicaStates.Ready).ToList();
            var seen = reports[v.Id].ToList();
            var input = new AutoscaleInput(v.Replicas, v.MinReplicas, v.MaxReplicas, ready.Count,
                seen.Sum(r => r.Outstanding), ready.Sum(r => r.InFlight), ready.Sum(r => r.Waiting),
                seen.Where(r => r.P95Ms is not null).Select(r => r.P95Ms).Max(), v.TargetLatencyMs,
                v.LoadHighSince, v.LoadLowSince, v.LastScaledAt);
            var decision = Autoscaler.Decide(input, now, o);
            string model = names.GetValueOrDefault(v.ModelId, $"model {v.ModelId}");
            if (decision.Scaled(input))
            {
                string reason = decision.Reason ?? $"{v.Replicas} → {decision.Replicas} replicas";
                log.LogInformation("Autoscaling {Model} version {Version}: {Reason}", model, v.Version, reason);
                db.Add(new ScalingEvent { ModelVersionId = v.Id, At = now, FromReplicas = v.Replicas, ToReplicas = decision.Replicas, Reason = reason, By = Autoscaler.By });
            }

            (v.Replicas, v.LoadHighSince, v.LoadLowSince, v.LastScaledAt) = (decision.Replicas, decision.HighSince, decision.LowSince, decision.LastScaledAt);
            signals.Set(v.Id, model, v.Version, input, decision.Replicas);
        }
    }

    private static ReplicaCondition Condition(Replica r) => r.State switch
    {
        ReplicaStates.Ready => ReplicaCondition.Ready,
        ReplicaStates.Failed => ReplicaCondition.Failed,
        _ => ReplicaCondition.Loading,
    };

    private static WorkerCondition Condition(string state) => state switch
    {
        WorkerStates.Online => WorkerCondition.Online,
        WorkerStates.Draining => WorkerCondition.Draining,
        _ => WorkerCondition.Offline,
    };
}

/// <summary>
/// Runs the reconciler as soon as something changed (<see cref="ReconcileSignal"/>), and as soon as a worker has been
/// silent for longer than the heartbeat timeout (a cheap check every heartbeat interval), so failover does not wait for
/// the recurring timer, which is Hangfire's.
/// </summary>
internal sealed class ReconcileLoop(IServiceScopeFactory scopes, ReconcileSignal signal, IOptions<SchedulerOptions> options, TimeProvider clock, ILogger<ReconcileLoop> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        bool run = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                if (run || await AnyWorkerSilentAsync(scope.ServiceProvider.GetRequiredService<MdsDbContext>(), stoppingToken))
                {
                    await scope.ServiceProvider.GetRequiredService<Reconciler>().ReconcileAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                log.LogError(e, "Reconcile pass failed; retrying at the next tick");
            }

            try
            {
                run = await signal.WaitAsync(options.Value.HeartbeatInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task<bool> AnyWorkerSilentAsync(MdsDbContext db, CancellationToken ct)
    {
        var silentSince = clock.GetUtcNow() - options.Value.HeartbeatTimeout;
        return db.Workers.AnyAsync(w => w.State != WorkerStates.Offline && w.LastHeartbeatAt < silentSince, ct);
    }
}
