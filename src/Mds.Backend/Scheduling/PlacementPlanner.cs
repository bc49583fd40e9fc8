namespace Mds.Backend.Scheduling;

/// <summary>What a version asks for.</summary>
/// <param name="MemoryMb">Memory one replica needs (declared, else measured, else the default).</param>
public sealed record VersionDemand(long VersionId, IReadOnlySet<string> Requirements, int MemoryMb, int DesiredReplicas);

/// <summary>What a worker offers.</summary>
public sealed record WorkerSupply(long WorkerId, IReadOnlySet<string> Capabilities, int CapacityMb, WorkerCondition Condition);

/// <summary>A worker's state as the planner sees it.</summary>
public enum WorkerCondition
{
    /// <summary>Takes new replicas.</summary>
    Online,
    /// <summary>Keeps what it has, takes nothing new.</summary>
    Draining,
    /// <summary>Gone: what it had does not count.</summary>
    Offline,
}

/// <summary>A replica as the planner sees it.</summary>
public sealed record ReplicaPlacement(long ReplicaId, long VersionId, long WorkerId, ReplicaCondition Condition, int MemoryMb);

/// <summary>A replica's state as the planner sees it.</summary>
public enum ReplicaCondition
{
    /// <summary>Scheduled or loading: counts towards the desired replicas and uses memory, but cannot answer yet.</summary>
    Loading,
    /// <summary>Failed to load there: does not count, and keeps the version off that worker.</summary>
    Failed,
    /// <summary>Answering requests.</summary>
    Ready,
}

/// <summary>The planner's answer: replicas to add, replicas to remove, and why versions stay short.</summary>
public sealed record PlacementPlan(
    IReadOnlyList<PlannedLoad> Loads,
    IReadOnlyList<long> Unloads,
    IReadOnlyDictionary<long, string> PendingReasons)
{
    public bool IsEmpty => Loads.Count == 0 && Unloads.Count == 0;

    /// <summary>
    /// Versions that stay short only because their replicas failed to load on every eligible worker that does not
    /// already serve them: version → those workers (in id order). Such a version is not placed there again until its
    /// failed replicas go (a worker registers again, or a manual retry).
    /// </summary>
    public IReadOnlyDictionary<long, IReadOnlyList<long>> FailedOn { get; init; } = new Dictionary<long, IReadOnlyList<long>>();
}

/// <summary>Place one replica of a version on a worker.</summary>
public sealed record PlannedLoad(long VersionId, long WorkerId);

/// <summary>
/// The scheduler's pure planning function: (versions, workers, replicas) → actions. No I/O; deterministic for the
/// same input. Rules: a worker's capabilities must cover the version's requirements; free memory (capacity ×
/// overcommit − memory of the active replicas there) must fit; draining workers keep their replicas until enough
/// replicas are Ready elsewhere; replicas of one version go to distinct workers; among
/// candidates the least loaded (by memory fraction, then replica count, then id) wins. Time is linear in
/// versions × workers.
/// </summary>
public static class PlacementPlanner
{
    public static PlacementPlan Plan(
        IReadOnlyList<VersionDemand> versions,
        IReadOnlyList<WorkerSupply> workers,
        IReadOnlyList<ReplicaPlacement> replicas,
        double overcommit = 1.0)
    {
        ArgumentNullException.ThrowIfNull(versions);
        ArgumentNullException.ThrowIfNull(workers);
        ArgumentNullException.ThrowIfNull(replicas);
        ArgumentOutOfRangeException.ThrowIfLessThan(overcommit, 0.1);

        var state = new Dictionary<long, WorkerState>(workers.Count);
        foreach (var w in workers)
        {
            state[w.WorkerId] = new WorkerState(w, (long)Math.Floor(w.CapacityMb * overcommit));
        }

        var all = state.Values.ToArray();

        // Which workers each version already sits on (any condition), and its active replicas.
        var byVersion = new Dictionary<long, List<ReplicaPlacement>>();
        foreach (var r in replicas)
        {
            if (!state.TryGetValue(r.WorkerId, out var ws) || ws.Supply.Condition == WorkerCondition.Offline)
            {
                continue; // a replica on an unknown or offline worker neither counts nor blocks
            }

            if (!byVersion.TryGetValue(r.VersionId, out var list))
            {
                byVersion[r.VersionId] = list = [];
            }

            list.Add(r);
            if (r.Condition != ReplicaCondition.Failed)
            {
                ws.UsedMb += r.MemoryMb;
                ws.Replicas++;
            }
        }

        var loads = new List<PlannedLoad>();
        var unloads = new List<long>();
        var pending = new Dictionary<long, string>();
        var occupied = new HashSet<long>();
        var failedOn = new Dictionary<long, IReadOnlyList<long>>();

        void Unload(ReplicaPlacement r)
        {
            unloads.Add(r.ReplicaId);
            var ws = state[r.WorkerId];
            ws.UsedMb -= r.MemoryMb;
            ws.Replicas--;
        }

        foreach (var v in versions.OrderBy(v => v.VersionId))
        {
            occupied.Clear();
            var placed = byVersion.GetValueOrDefault(v.VersionId) ?? [];
            var serving = new List<ReplicaPlacement>();   // active on Online workers
            var draining = new List<ReplicaPlacement>();  // active on Draining workers: kept until replaced
            int readyOnline = 0;
            foreach (var r in placed)
            {
                occupied.Add(r.WorkerId);
                if (r.Condition == ReplicaCondition.Failed)
                {
                    continue;
                }

                if (state[r.WorkerId].Supply.Condition == WorkerCondition.Draining)
                {
                    draining.Add(r);
                }
                else
                {
                    serving.Add(r);
                    readyOnline += r.Condition == ReplicaCondition.Ready ? 1 : 0;
                }
            }

            int missing = v.DesiredReplicas - serving.Count;
            if (missing < 0)
            {
                // Remove the surplus: replicas not answering yet first, then from the most loaded workers.
                foreach (var r in serving.OrderBy(r => r.Condition == ReplicaCondition.Ready ? 1 : 0)
                             .ThenByDescending(r => state[r.WorkerId].Load).ThenByDescending(r => r.ReplicaId).Take(-missing))
                {
                    Unload(r);
                    readyOnline -= r.Condition == ReplicaCondition.Ready ? 1 : 0;
                }
            }

            for (int i = 0; i < missing; i++)
            {
                WorkerState? best = null;
                foreach (var ws in all)
                {
                    if (ws.Supply.Condition != WorkerCondition.Online || occupied.Contains(ws.Supply.WorkerId)
                        || ws.FreeMb < v.MemoryMb || !ws.Supply.Capabilities.IsSupersetOf(v.Requirements))
                    {
                        continue;
                    }

                    if (best is null || ws.CompareTo(best) < 0)
                    {
                        best = ws;
                    }
                }

                if (best is null)
                {
                    if (FailedEverywhere(v, all, placed) is { } failedWorkers)
                    {
                        failedOn[v.VersionId] = failedWorkers;
                    }

                    pending[v.VersionId] = Explain(v, all, occupied, serving.Count + i)
                        + (draining.Count > 0 ? $"; {draining.Count} replica(s) stay on draining workers until they can move" : "");
                    break;
                }

                loads.Add(new PlannedLoad(v.VersionId, best.Supply.WorkerId));
                occupied.Add(best.Supply.WorkerId);
                best.UsedMb += v.MemoryMb;
                best.Replicas++;
            }

            // A draining worker lets go of a replica only once enough replicas answer elsewhere,
            // so a version never has a moment without a Ready replica while another worker can take it.
            if (readyOnline >= v.DesiredReplicas || v.DesiredReplicas == 0)
            {
                foreach (var r in draining)
                {
                    Unload(r);
                }
            }
        }

        return new PlacementPlan(loads, unloads, pending) { FailedOn = failedOn };
    }

    /// <summary>
    /// The eligible (Online, capable) workers where <paramref name="v"/> failed to load, when every eligible worker
    /// either serves it already or failed it — and at least one failed; else null (memory or spread is the reason).
    /// </summary>
    private static List<long>? FailedEverywhere(VersionDemand v, WorkerState[] workers, List<ReplicaPlacement> placed)
    {
        List<long>? failed = null;
        foreach (var w in workers)
        {
            if (w.Supply.Condition != WorkerCondition.Online || !w.Supply.Capabilities.IsSupersetOf(v.Requirements))
            {
                continue;
            }

            bool serves = false, failedHere = false;
            foreach (var r in placed)
            {
                if (r.WorkerId == w.Supply.WorkerId)
                {
                    serves |= r.Condition != ReplicaCondition.Failed;
                    failedHere |= r.Condition == ReplicaCondition.Failed;
                }
            }

            if (serves)
            {
                continue;
            }

            if (!failedHere)
            {
                return null; // an eligible worker it never failed on: memory or spread keeps it short, not failures
            }

            (failed ??= []).Add(w.Supply.WorkerId);
        }

        failed?.Sort();
        return failed;
    }

    private static string Explain(VersionDemand v, WorkerState[] workers, HashSet<long> occupied, int placed)
    {
        // Plain loops: this runs for every version that stays short, which near full capacity is most of them.
        int online = 0, capable = 0, free = 0;
        long largest = long.MinValue;
        foreach (var w in workers)
        {
            if (w.Supply.Condition != WorkerCondition.Online)
            {
                continue;
            }

            online++;
            if (!w.Supply.Capabilities.IsSupersetOf(v.Requirements))
            {
                continue;
            }

            capable++;
            if (!occupied.Contains(w.Supply.WorkerId))
            {
                free++;
                largest = Math.Max(largest, w.FreeMb);
            }
        }

        if (online == 0)
        {
            return "no worker is online";
        }

        if (capable == 0)
        {
            // Name the requirements that no online worker has, or the combination when each exists somewhere.
            var absent = v.Requirements
                .Where(req => !workers.Any(w => w.Supply.Condition == WorkerCondition.Online && w.Supply.Capabilities.Contains(req)))
                .Order(StringComparer.Ordinal).ToList();
            return absent.Count > 0
                ? $"no worker with capability {string.Join(", ", absent)}"
                : $"no worker with all of the capabilities {string.Join(", ", v.Requirements.Order(StringComparer.Ordinal))}";
        }

        if (free == 0)
        {
            return $"{placed} of {v.DesiredReplicas} replicas placed: only {capable} eligible worker{(capable == 1 ? "" : "s")}, and replicas of one version need distinct workers";
        }

        return $"needs {v.MemoryMb} MiB, largest free is {Math.Max(0, largest)} MiB";
    }

    private sealed class WorkerState(WorkerSupply supply, long capacityMb) : IComparable<WorkerState>
    {
        public WorkerSupply Supply { get; } = supply;
        public long CapacityMb { get; } = capacityMb;
        public long UsedMb { get; set; }
        public int Replicas { get; set; }
        public long FreeMb => CapacityMb - UsedMb;
        public double Load => CapacityMb <= 0 ? double.MaxValue : (double)UsedMb / CapacityMb;

        public int CompareTo(WorkerState? other)
        {
            if (other is null)
            {
                return -1;
            }

            int c = Load.CompareTo(other.Load);
            if (c == 0)
            {
                c = Replicas.CompareTo(other.Replicas);
            }

            return c != 0 ? c : Supply.WorkerId.CompareTo(other.Supply.WorkerId);
        }
    }
}
