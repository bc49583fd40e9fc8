using Mds.Backend.Scheduling;

namespace Mds.UnitTests.Scheduling;

public sealed class PlacementPlannerTests
{
    private static WorkerSupply W(long id, string caps = "onnx,cpu", int capacityMb = 1000, WorkerCondition condition = WorkerCondition.Online) =>
        new(id, caps.Split(',').ToHashSet(), capacityMb, condition);

    private static VersionDemand V(long id, string requirements = "onnx", int memoryMb = 100, int replicas = 1) =>
        new(id, requirements.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), memoryMb, replicas);

    private static ReplicaPlacement R(long id, long version, long worker, int memoryMb = 100, ReplicaCondition condition = ReplicaCondition.Loading) =>
        new(id, version, worker, condition, memoryMb);

    [Fact]
    public void Places_a_version_on_a_worker_whose_capabilities_cover_its_requirements()
    {
        var plan = PlacementPlanner.Plan([V(1, "onnx,gpu")], [W(1, "onnx,cpu"), W(2, "onnx,gpu")], []);
        Assert.Equal([new PlannedLoad(1, 2)], plan.Loads);
        Assert.Empty(plan.PendingReasons);
    }

    [Theory]
    [InlineData("onnx,gpu", "onnx,cpu", "no worker with capability gpu")]
    [InlineData("onnx,gpu,tpu", "onnx,cpu", "no worker with capability gpu, tpu")]
    [InlineData("", "", "")]
    public void Pending_reason_names_the_missing_capability(string requirements, string capabilities, string reason)
    {
        var plan = PlacementPlanner.Plan([V(1, requirements)], [W(1, capabilities)], []);
        if (reason.Length == 0)
        {
            Assert.Single(plan.Loads); // no requirements: any worker will do
            return;
        }

        Assert.Empty(plan.Loads);
        Assert.Equal(reason, plan.PendingReasons[1]);
    }

    [Fact]
    public void Capabilities_spread_over_workers_but_none_has_all_is_explained_as_a_combination()
    {
        var plan = PlacementPlanner.Plan([V(1, "gpu,avx512")], [W(1, "gpu"), W(2, "avx512")], []);
        Assert.Equal("no worker with all of the capabilities avx512, gpu", plan.PendingReasons[1]);
    }

    [Fact]
    public void Memory_must_fit_and_the_reason_gives_the_largest_free()
    {
        var plan = PlacementPlanner.Plan([V(2, memoryMb: 2048)], [W(1, capacityMb: 1000), W(2, capacityMb: 1200)], [R(10, 1, 2, memoryMb: 300)]);
        Assert.Empty(plan.Loads);
        Assert.Equal("needs 2048 MiB, largest free is 1000 MiB", plan.PendingReasons[2]);
    }

    [Theory]
    [InlineData(1.0, 0)]
    [InlineData(1.5, 1)]
    public void Overcommit_factor_stretches_capacity(double overcommit, int expectedLoads)
    {
        var plan = PlacementPlanner.Plan([V(2, memoryMb: 400)], [W(1, capacityMb: 1000)], [R(10, 1, 1, memoryMb: 800)], overcommit);
        Assert.Equal(expectedLoads, plan.Loads.Count);
    }

    [Fact]
    public void Replicas_of_one_version_go_to_distinct_workers()
    {
        var plan = PlacementPlanner.Plan([V(1, replicas: 3)], [W(1), W(2), W(3), W(4)], []);
        Assert.Equal(3, plan.Loads.Select(l => l.WorkerId).Distinct().Count());
    }

    [Fact]
    public void More_replicas_than_workers_places_what_it_can_and_says_why_not_the_rest()
    {
        var plan = PlacementPlanner.Plan([V(1, replicas: 3)], [W(1), W(2)], []);
        Assert.Equal(2, plan.Loads.Count);
        Assert.Equal("2 of 3 replicas placed: only 2 eligible workers, and replicas of one version need distinct workers", plan.PendingReasons[1]);
    }

    [Fact]
    public void Least_loaded_worker_wins()
    {
        var plan = PlacementPlanner.Plan([V(3)], [W(1), W(2), W(3)], [R(10, 1, 1, 500), R(11, 2, 2, 100), R(12, 4, 3, 300)]);
        Assert.Equal([new PlannedLoad(3, 2)], plan.Loads);
    }

    [Fact]
    public void Ties_break_by_replica_count_then_worker_id()
    {
        var plan = PlacementPlanner.Plan([V(5, memoryMb: 0)], [W(3), W(2), W(1)], [R(10, 1, 1, 0), R(11, 2, 1, 0), R(12, 3, 2, 0)]);
        Assert.Equal(3, plan.Loads.Single().WorkerId);
    }

    [Fact]
    public void Planning_updates_load_as_it_goes_so_new_versions_spread()
    {
        var plan = PlacementPlanner.Plan([V(1), V(2), V(3), V(4)], [W(1), W(2)], []);
        Assert.Equal(2, plan.Loads.Count(l => l.WorkerId == 1));
        Assert.Equal(2, plan.Loads.Count(l => l.WorkerId == 2));
    }

    [Fact]
    public void Satisfied_version_plans_nothing_and_running_again_is_idempotent()
    {
        var versions = new[] { V(1, replicas: 2) };
        var workers = new[] { W(1), W(2), W(3) };
        var first = PlacementPlanner.Plan(versions, workers, []);
        var placed = first.Loads.Select((l, i) => R(100 + i, l.VersionId, l.WorkerId)).ToList();
        var second = PlacementPlanner.Plan(versions, workers, placed);
        Assert.True(second.IsEmpty);
        Assert.Empty(second.PendingReasons);
    }

    [Fact]
    public void Surplus_replicas_are_unloaded_from_the_most_loaded_worker()
    {
        var plan = PlacementPlanner.Plan([V(1, replicas: 1)], [W(1), W(2)], [R(10, 1, 1), R(11, 1, 2), R(12, 9, 2, 500)]);
        Assert.Equal([11L], plan.Unloads);
        Assert.Empty(plan.Loads);
    }

    [Fact]
    public void Failed_replica_keeps_its_version_off_that_worker_and_does_not_count()
    {
        var plan = PlacementPlanner.Plan([V(1)], [W(1), W(2)], [R(10, 1, 1, condition: ReplicaCondition.Failed)]);
        Assert.Equal([new PlannedLoad(1, 2)], plan.Loads);
    }

    [Fact]
    public void A_version_failed_on_every_eligible_worker_is_reported_as_failed_there_and_placed_nowhere()
    {
        var plan = PlacementPlanner.Plan([V(1)], [W(1), W(2)],
            [R(10, 1, 1, condition: ReplicaCondition.Failed), R(11, 1, 2, condition: ReplicaCondition.Failed)]);
        Assert.Empty(plan.Loads);
        Assert.Equal([1L, 2L], plan.FailedOn[1]);
    }

    [Fact]
    public void A_version_short_for_memory_beside_a_failure_is_not_reported_as_failed_everywhere()
    {
        var plan = PlacementPlanner.Plan([V(1)], [W(1), W(2, capacityMb: 10)], [R(10, 1, 1, condition: ReplicaCondition.Failed)]);
        Assert.Empty(plan.Loads);
        Assert.Empty(plan.FailedOn);
        Assert.Contains("MiB", plan.PendingReasons[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "w0" }, new[] { "boom" }, "failed to load on w0: boom")]
    [InlineData(new[] { "w0", "w1" }, new[] { "same", "same" }, "failed to load on w0 and w1: same")]
    [InlineData(new[] { "a", "b", "c" }, new[] { "x", "y", "x" }, "failed to load on a, b and c: x; y")]
    public void Load_failure_reason_names_the_workers_and_each_error_once(string[] workers, string[] errors, string expected)
    {
        Assert.Equal(expected, LoadFailure.Describe(workers, errors));
        Assert.True(LoadFailure.Is(expected));
    }

    [Fact]
    public void Offline_and_draining_workers_take_nothing_new_and_offline_replicas_do_not_count()
    {
        var plan = PlacementPlanner.Plan([V(1)], [W(1, condition: WorkerCondition.Offline), W(2, condition: WorkerCondition.Draining), W(3)], [R(10, 1, 1)]);
        Assert.Equal([new PlannedLoad(1, 3)], plan.Loads);

        var none = PlacementPlanner.Plan([V(1)], [W(1, condition: WorkerCondition.Offline)], []);
        Assert.Equal("no worker is online", none.PendingReasons[1]);
    }

    [Fact]
    public void Same_input_gives_the_same_plan()
    {
        var versions = Enumerable.Range(1, 50).Select(i => V(i, memoryMb: 10 * (i % 7 + 1), replicas: i % 3 + 1)).ToList();
        var workers = Enumerable.Range(1, 10).Select(i => W(i, capacityMb: 300)).ToList();
        Assert.Equal(PlacementPlanner.Plan(versions, workers, []).Loads, PlacementPlanner.Plan(versions, workers, []).Loads);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Random_clusters_never_get_a_plan_that_breaks_capacity_spread_or_capabilities(int seed)
    {
        var rng = new Random(seed);
        string[] capabilityPool = ["onnx", "cpu", "gpu", "avx512", "large"];
        HashSet<string> Pick() => capabilityPool.Where(_ => rng.NextDouble() < 0.6).Append("onnx").ToHashSet();

        for (int round = 0; round < 25; round++)
        {
            var workers = Enumerable.Range(1, rng.Next(1, 15))
                .Select(i => new WorkerSupply(i, Pick(), rng.Next(100, 4000), (WorkerCondition)rng.Next(0, 3))).ToList();
            var versions = Enumerable.Range(1, rng.Next(1, 60))
                .Select(i => new VersionDemand(i, Pick().Where(_ => rng.NextDouble() < 0.5).ToHashSet(), rng.Next(1, 1500), rng.Next(0, 5))).ToList();
            double overcommit = 1 + rng.NextDouble();

            var plan = PlacementPlanner.Plan(versions, workers, [], overcommit);

            var byWorker = workers.ToDictionary(w => w.WorkerId);
            var byVersion = versions.ToDictionary(v => v.VersionId);
            foreach (var group in plan.Loads.GroupBy(l => l.WorkerId))
            {
                var w = byWorker[group.Key];
                Assert.Equal(WorkerCondition.Online, w.Condition);
                Assert.True(group.Sum(l => byVersion[l.VersionId].MemoryMb) <= w.CapacityMb * overcommit, "capacity exceeded");
                Assert.All(group, l => Assert.True(w.Capabilities.IsSupersetOf(byVersion[l.VersionId].Requirements), "capabilities not covered"));
            }

            foreach (var group in plan.Loads.GroupBy(l => l.VersionId))
            {
                Assert.Equal(group.Count(), group.Select(l => l.WorkerId).Distinct().Count());
                Assert.True(group.Count() <= byVersion[group.Key].DesiredReplicas);
            }

            // a version short of replicas always says why
            foreach (var v in versions)
            {
                int placed = plan.Loads.Count(l => l.VersionId == v.VersionId);
                Assert.Equal(placed < v.DesiredReplicas, plan.PendingReasons.ContainsKey(v.VersionId));
            }
        }
    }

    [Fact]
    public void Draining_worker_keeps_its_replica_until_the_replacement_is_ready()
    {
        var workers = new[] { W(1, condition: WorkerCondition.Draining), W(2) };

        // Step 1: the replacement is placed on worker 2; nothing is unloaded yet.
        var first = PlacementPlanner.Plan([V(1)], workers, [R(10, 1, 1, condition: ReplicaCondition.Ready)]);
        Assert.Equal([new PlannedLoad(1, 2)], first.Loads);
        Assert.Empty(first.Unloads);

        // Step 2: the replacement is still loading: keep the old one, place nothing more.
        var loading = PlacementPlanner.Plan([V(1)], workers, [R(10, 1, 1, condition: ReplicaCondition.Ready), R(11, 1, 2)]);
        Assert.True(loading.IsEmpty);

        // Step 3: the replacement answers: now the draining worker lets go.
        var ready = PlacementPlanner.Plan([V(1)], workers, [R(10, 1, 1, condition: ReplicaCondition.Ready), R(11, 1, 2, condition: ReplicaCondition.Ready)]);
        Assert.Equal([10L], ready.Unloads);
        Assert.Empty(ready.Loads);
    }

    [Fact]
    public void Draining_worker_whose_replica_nobody_can_take_keeps_it_and_says_so()
    {
        var plan = PlacementPlanner.Plan([V(1, "onnx,gpu")], [W(1, "onnx,gpu", condition: WorkerCondition.Draining), W(2, "onnx,cpu")],
            [R(10, 1, 1, condition: ReplicaCondition.Ready)]);
        Assert.Empty(plan.Unloads);
        Assert.Contains("no worker with capability gpu", plan.PendingReasons[1]);
        Assert.Contains("stay on draining workers", plan.PendingReasons[1]);
    }

    [Fact]
    public void Scaling_down_removes_loading_replicas_before_ready_ones()
    {
        var plan = PlacementPlanner.Plan([V(1, replicas: 1)], [W(1), W(2), W(3)],
            [R(10, 1, 1, condition: ReplicaCondition.Ready), R(11, 1, 2), R(12, 1, 3, condition: ReplicaCondition.Ready)]);
        Assert.Equal(2, plan.Unloads.Count);
        Assert.Contains(11L, plan.Unloads);
    }
}
