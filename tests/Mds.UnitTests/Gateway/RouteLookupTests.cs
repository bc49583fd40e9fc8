using Mds.Backend.Gateway;

namespace Mds.UnitTests.Gateway;

/// <summary>How a found route picks a replica: power of two choices among the candidates, healthy ones first.</summary>
public sealed class RouteLookupTests
{
    private const int Picks = 400;

    [Fact]
    public void A_suspended_replica_is_passed_over_while_a_healthy_one_is_left()
    {
        var (a, b) = (Replica(1), Replica(2));
        a.Outstanding.Suspend(TimeSpan.FromMinutes(1));
        var route = Route(a, b);

        Assert.All(Enumerable.Range(0, Picks), _ => Assert.Same(b, route.PickReplica()));
        Assert.Same(a, route.PickReplica(except: b)); // every healthy one excluded: a suspended one rather than none
    }

    [Fact]
    public void Excluded_replicas_are_never_picked_and_none_left_is_null()
    {
        var (a, b, c) = (Replica(1), Replica(2), Replica(3));
        var route = Route(a, b, c);

        Assert.All(Enumerable.Range(0, Picks), _ => Assert.Same(c, route.PickReplica([a, b])));
        Assert.All(Enumerable.Range(0, Picks), _ => Assert.Same(b, route.PickReplica([a], [c], null, grpc: false)));
        Assert.Null(route.PickReplica([a], [b], c, grpc: false));
        Assert.Null(route.PickReplica([a, b, c]));
    }

    [Fact]
    public void Excluded_means_equal_not_the_same_object()
    {
        var a = Replica(1);
        var route = Route(a, Replica(2));

        Assert.All(Enumerable.Range(0, Picks), _ => Assert.Equal(2, route.PickReplica(except: a with { })!.ReplicaId));
    }

    [Fact]
    public void Only_workers_that_serve_grpc_are_picked_for_grpc()
    {
        var (a, b) = (Replica(1), Replica(2, grpc: true));
        var route = Route(a, b);

        Assert.All(Enumerable.Range(0, Picks), _ => Assert.Same(b, route.PickReplica(grpc: true)));
        Assert.Null(route.PickReplica(except: b, grpc: true));
    }

    [Fact]
    public void Of_two_random_candidates_the_one_with_fewer_requests_outstanding_wins()
    {
        var (busy, idle) = (Replica(1), Replica(2));
        for (int i = 0; i < 5; i++)
        {
            busy.Outstanding.Increment();
        }

        var route = Route(busy, idle);
        int busyPicks = Enumerable.Range(0, Picks).Count(_ => ReferenceEquals(route.PickReplica(), busy));

        // The busy replica wins only when both random choices fall on it (1 in 4): far fewer picks than the idle one,
        // but some, so a busy replica is not starved of the load it can take.
        Assert.InRange(busyPicks, 1, Picks / 2 - 1);
    }

    [Fact]
    public void With_many_replicas_every_candidate_can_be_picked()
    {
        var replicas = Enumerable.Range(1, 80).Select(i => Replica(i)).ToArray(); // more than the picker keeps on the stack
        var route = Route(replicas);

        var picked = Enumerable.Range(0, 20_000).Select(_ => route.PickReplica(except: replicas[0])!.ReplicaId).ToHashSet();

        Assert.Equal(Enumerable.Range(2, 79).Select(i => (long)i).ToHashSet(), picked);
    }

    [Fact]
    public void A_versions_infer_path_escapes_the_model_name()
    {
        Assert.Equal("/v2/models/iris/versions/3/infer", RoutingTable.InferPath("iris", 3));
        Assert.Equal("/v2/models/my%20model%2Fx/versions/12/infer", RoutingTable.InferPath("my model/x", 12));
    }

    /// <summary>A replica on worker <c>w{id}</c> (also the replica-call policy's tests' maker).</summary>
    internal static ReplicaEndpoint Replica(int id, bool grpc = false) =>
        new(id, id, $"w{id}", $"http://w{id}:6080", new OutstandingCounter()) { GrpcUrl = grpc ? $"http://w{id}:6081" : null };

    /// <summary>A found route to version 7 of model <c>m</c> with <paramref name="ready"/> as its Ready replicas.</summary>
    internal static RouteLookup Route(params ReplicaEndpoint[] ready)
    {
        var version = new VersionRoute(7, ready, "Ready", null, [], []);
        var model = new ModelRoute("m", 7, new SortedDictionary<int, VersionRoute> { [7] = version });
        return new RouteLookup(RouteStatus.Found, model, version, null);
    }
}
