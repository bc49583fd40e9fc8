using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Gateway;

/// <summary>
/// The gateway's in-memory view of what can answer: model → versions → Ready replicas with their workers' URLs.
/// Rebuilt from the database when something changes (and on a short timer, for changes made by another backend), then
/// swapped in whole, so the request path reads it without locks or database calls.
/// </summary>
public sealed class RoutingTable(IServiceScopeFactory scopes, TimeProvider clock, ILogger<RoutingTable> log)
{
    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromMilliseconds(250);
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Dictionary<long, OutstandingCounter> _counters = [];
    private volatile Snapshot _snapshot = new([], DateTimeOffset.MinValue);

    /// <summary>Every model in the table as it stands (no refresh).</summary>
    public IReadOnlyCollection<ModelRoute> Models => _snapshot.Models.Values;

    /// <summary>Rebuilds the table from the database.</summary>
    public Task RefreshAsync(CancellationToken ct) => RefreshAsync(ct, unlessReadSince: null);

    /// <summary>Rebuilds the table from the database, unless a read that began at or after <paramref name="unlessReadSince"/> has already done it.</summary>
    private async Task RefreshAsync(CancellationToken ct, DateTimeOffset? unlessReadSince)
    {
        await _refreshLock.WaitAsync(ct);
        try
        {
            if (unlessReadSince is { } since && _snapshot.BuiltAt >= since)
            {
                return;
            }

            var started = clock.GetUtcNow();
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            var models = await db.Models.AsNoTracking().AsSplitQuery()
                .Include(m => m.Versions).ThenInclude(v => v.ReplicaList).ThenInclude(r => r.Worker)
                .ToListAsync(ct);

            var routes = new Dictionary<string, ModelRoute>(models.Count, StringComparer.Ordinal);
            foreach (var m in models)
            {
                var versions = new SortedDictionary<int, VersionRoute>();
                foreach (var v in m.Versions)
                {
                    var ready = v.ReplicaList
                        .Where(r => r.State == ReplicaStates.Ready && r.Worker.State != WorkerStates.Offline)
                        .OrderBy(r => r.Id)
                        .Select(r => new ReplicaEndpoint(r.Id, r.WorkerId, r.Worker.Name, r.Worker.RestUrl, CounterFor(r.WorkerId))
                        {
                            GrpcUrl = r.Worker.GrpcUrl,
                            InferUri = Uri.TryCreate(r.Worker.RestUrl.TrimEnd('/') + InferPath(m.Name, v.Version), UriKind.Absolute, out var uri) ? uri : null,
                        })
                        .ToArray();
                    var (state, reason) = RegistryMapping.StateOf(v);
                    versions[v.Version] = new VersionRoute(v.Version, ready, state, reason,
                        RegistryMapping.Schema(v.InputsJson), RegistryMapping.Schema(v.OutputsJson))
                    {
                        Batching = v.MaxBatchSize is int size ? new Contracts.Cluster.BatchingSettings(size, v.MaxBatchLatencyMicroseconds ?? 0) : null,
                    };
                }

                int? live = m.LiveVersionId is long id ? m.Versions.FirstOrDefault(v => v.Id == id)?.Version : null;
                routes[m.Name] = new ModelRoute(m.Name, live, versions);
            }

            _snapshot = new Snapshot(routes, started);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>
    /// Resolves again after a worker said it no longer has a replica the table still lists: the table is rebuilt unless
    /// a newer one than the one that gave <paramref name="stale"/> is already in place (many requests that hit the same unload rebuild it
    /// once). Errors reading the database leave the last table.
    /// </summary>
    public async ValueTask<RouteLookup> CatchUpAsync(string name, int version, RouteLookup stale, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stale);
        if (_snapshot.BuiltAt <= stale.TableBuiltAt)
        {
            await _refreshLock.WaitAsync(ct);
            _refreshLock.Release();
            if (_snapshot.BuiltAt <= stale.TableBuiltAt)
            {
                try
                {
                    await RefreshAsync(ct);
                }
                catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    log.LogWarning(e, "Routing table refresh failed; answering from the last table");
                }
            }
        }

        return Resolve(_snapshot, name, version);
    }

    /// <summary>The path of a version's infer call on a worker: <c>/v2/models/{name}/versions/{version}/infer</c>.</summary>
    public static string InferPath(string model, int version) =>
        $"/v2/models/{Uri.EscapeDataString(model)}/versions/{version.ToString(System.Globalization.CultureInfo.InvariantCulture)}/infer";

    /// <summary>
    /// A version as a route or message gives it: none (empty or null: <paramref name="version"/> is null) or a number;
    /// false for anything else, which names no version.
    /// </summary>
    public static bool TryParseVersion(string? text, out int? version)
    {
        version = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed))
        {
            return false;
        }

        version = parsed;
        return true;
    }

    /// <summary>Finds what answers <paramref name="name"/> (and <paramref name="version"/>, or the live one).</summary>
    /// <remarks>
    /// A miss may be news the table has not heard yet: a replica that became Ready a moment ago, a new model. A table
    /// whose read began before the request arrived may predate it (a caller can see a version Ready through the API and
    /// call it within the same instant), so a miss is answered from a table read after the request arrived. Misses share
    /// reads: they wait until the last read is <see cref="MissRefreshInterval"/> old, then one of them reads and the others
    /// take its table, so a stream of calls to a missing model costs at most a few reads a second.
    /// </remarks>
    public async ValueTask<RouteLookup> ResolveAsync(string name, int? version, CancellationToken ct)
    {
        var snapshot = _snapshot;
        var found = Resolve(snapshot, name, version);
        if (found.Status == RouteStatus.Found)
        {
            return found;
        }

        var arrived = clock.GetUtcNow();
        var wait = snapshot.BuiltAt + MissRefreshInterval - arrived;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, clock, ct);
        }

        try
        {
            await RefreshAsync(ct, unlessReadSince: arrived);
        }
        catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            log.LogWarning(e, "Routing table refresh failed; answering from the last table");
        }

        return Resolve(_snapshot, name, version);
    }

    /// <summary>What <paramref name="snapshot"/> answers for <paramref name="name"/> (and <paramref name="version"/>), stamped with its build time.</summary>
    private static RouteLookup Resolve(Snapshot snapshot, string name, int? version)
    {
        if (!snapshot.Models.TryGetValue(name, out var model))
        {
            return new RouteLookup(RouteStatus.UnknownModel, null, null, $"model '{name}' not found") { TableBuiltAt = snapshot.BuiltAt };
        }

        VersionRoute? route;
        if (version is int v)
        {
            if (!model.Versions.TryGetValue(v, out route))
            {
                return new RouteLookup(RouteStatus.UnknownModel, model, null, $"model '{name}' has no version {v}") { TableBuiltAt = snapshot.BuiltAt };
            }
        }
        else if (model.LiveVersion is int live && model.Versions.TryGetValue(live, out var pinned))
        {
            route = pinned;
        }
        else
        {
            // No pinned live version: the newest one with a Ready replica, else the newest for its reason.
            route = model.Versions.Values.LastOrDefault(r => r.Ready.Length > 0) ?? model.Versions.Values.LastOrDefault();
            if (route is null)
            {
                return new RouteLookup(RouteStatus.Unavailable, model, null, $"model '{name}' has no versions") { TableBuiltAt = snapshot.BuiltAt };
            }
        }

        if (route.Ready.Length == 0)
        {
            string why = route.Reason is null ? route.State : $"{route.State}: {route.Reason}";
            return new RouteLookup(RouteStatus.Unavailable, model, route, $"model '{name}' version {route.Version} has no ready replica ({why})") { TableBuiltAt = snapshot.BuiltAt };
        }

        // Hot path: a found route is the same answer for every request until the table is rebuilt, so it is made once.
        return snapshot.Found.GetOrAdd(route, static (r, state) => new RouteLookup(RouteStatus.Found, state.Model, r, null) { TableBuiltAt = state.BuiltAt },
            (Model: model, snapshot.BuiltAt));
    }

    private OutstandingCounter CounterFor(long workerId)
    {
        lock (_counters)
        {
            if (!_counters.TryGetValue(workerId, out var c))
            {
                _counters[workerId] = c = new OutstandingCounter();
            }

            return c;
        }
    }

    private sealed record Snapshot(Dictionary<string, ModelRoute> Models, DateTimeOffset BuiltAt)
    {
        /// <summary>Each version's "found" answer, made on its first request (a version belongs to one model of this table).</summary>
        public System.Collections.Concurrent.ConcurrentDictionary<VersionRoute, RouteLookup> Found { get; } = new(ReferenceEqualityComparer.Instance);
    }
}

/// <summary>Requests in flight to one worker through this gateway, and whether it just failed to answer.</summary>
public sealed class OutstandingCounter
{
    private int _value;
    private long _suspendedUntilTicks;

    public int Value => Volatile.Read(ref _value);
    public void Increment() => Interlocked.Increment(ref _value);
    public void Decrement() => Interlocked.Decrement(ref _value);

    /// <summary>After a connection failure the worker is passed over for a moment (until heartbeats tell the truth).</summary>
    public void Suspend(TimeSpan duration) => Volatile.Write(ref _suspendedUntilTicks, Environment.TickCount64 + (long)duration.TotalMilliseconds);

    public bool IsSuspended => Environment.TickCount64 < Volatile.Read(ref _suspendedUntilTicks);
}

public sealed record ModelRoute(string Name, int? LiveVersion, SortedDictionary<int, VersionRoute> Versions);

public sealed record VersionRoute(int Version, ReplicaEndpoint[] Ready, string State, string? Reason, IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs)
{
    /// <summary>The version's adaptive batching settings; null: every request runs on its own.</summary>
    public Contracts.Cluster.BatchingSettings? Batching { get; init; }
}

public sealed record ReplicaEndpoint(long ReplicaId, long WorkerId, string WorkerName, string Url, OutstandingCounter Outstanding)
{
    /// <summary>The worker's gRPC URL, when it serves gRPC.</summary>
    public string? GrpcUrl { get; init; }

    /// <summary>
    /// This replica's REST infer URL (<see cref="RoutingTable.InferPath"/> on <see cref="Url"/>), made with the routing
    /// table so the gateway parses no URL per request; null when the worker's URL does not make one (the gateway then
    /// builds it per request, and its error is that request's).
    /// </summary>
    public Uri? InferUri { get; init; }
}

public enum RouteStatus { Found, UnknownModel, Unavailable }

public sealed record RouteLookup(RouteStatus Status, ModelRoute? Model, VersionRoute? Version, string? Error)
{
    /// <summary>When the routing table that gave this answer began reading the database.</summary>
    public DateTimeOffset TableBuiltAt { get; init; }

    /// <summary>
    /// Power of two choices: of two random Ready replicas, the one with fewer outstanding requests. Replicas on
    /// suspended workers, and <paramref name="except"/>, are passed over while others exist. Null when none is left.
    /// With <paramref name="grpc"/>, only replicas on workers that serve gRPC count.
    /// </summary>
    public ReplicaEndpoint? PickReplica(ReplicaEndpoint? except = null, bool grpc = false) => PickReplica(null, null, except, grpc);

    /// <summary>As <see cref="PickReplica(ReplicaEndpoint?, bool)"/>, passing over every replica in <paramref name="except"/>.</summary>
    public ReplicaEndpoint? PickReplica(IReadOnlyList<ReplicaEndpoint> except, bool grpc = false)
    {
        ArgumentNullException.ThrowIfNull(except);
        return PickReplica(except, null, null, grpc);
    }

    /// <summary>
    /// Hot path (every forwarded request): as <see cref="PickReplica(IReadOnlyList{ReplicaEndpoint}, bool)"/>, passing over
    /// the replicas in either list and <paramref name="alsoExcept"/>, without allocating (the candidates' indexes are
    /// kept on the stack; each replica's suspension is read once).
    /// </summary>
    internal ReplicaEndpoint? PickReplica(IReadOnlyList<ReplicaEndpoint>? except, IReadOnlyList<ReplicaEndpoint>? except2, ReplicaEndpoint? alsoExcept, bool grpc)
    {
        var ready = Version!.Ready;
        Span<int> healthy = ready.Length <= 64 ? stackalloc int[ready.Length] : new int[ready.Length];
        Span<int> suspended = ready.Length <= 64 ? stackalloc int[ready.Length] : new int[ready.Length];
        int healthyCount = 0, suspendedCount = 0;
        for (int i = 0; i < ready.Length; i++)
        {
            var r = ready[i];
            if ((!grpc || r.GrpcUrl is not null) && !Contains(except, r) && !Contains(except2, r) && (alsoExcept is null || !alsoExcept.Equals(r)))
            {
                if (r.Outstanding.IsSuspended)
                {
                    suspended[suspendedCount++] = i;
                }
                else
                {
                    healthy[healthyCount++] = i;
                }
            }
        }

        // Healthy replicas first; only when every candidate is suspended, any of them.
        var pool = healthyCount > 0 ? healthy[..healthyCount] : suspended[..suspendedCount];
        if (pool.Length <= 1)
        {
            return pool.Length == 0 ? null : ready[pool[0]];
        }

        var a = ready[pool[Random.Shared.Next(pool.Length)]];
        var b = ready[pool[Random.Shared.Next(pool.Length)]];
        return b.Outstanding.Value < a.Outstanding.Value ? b : a;
    }

    private static bool Contains(IReadOnlyList<ReplicaEndpoint>? list, ReplicaEndpoint r)
    {
        if (list is null)
        {
            return false;
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (list[i].Equals(r))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Refreshes the routing table on a short timer, for changes made by another backend instance.</summary>
internal sealed class RoutingRefreshLoop(RoutingTable table, ILogger<RoutingRefreshLoop> log) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Data.PeriodicRefresh.RunAsync(table.RefreshAsync, TimeSpan.FromSeconds(2), log, "Routing table", stoppingToken);
}
