using System.Text.Json;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>
/// The gateway's in-memory view of experiments: each running one as an immutable <see cref="ExperimentRoute"/>, found by
/// name (<c>{name}.experiment</c>) or by the resource whose endpoint it takes over. Rebuilt on a short timer (readiness
/// changes, other backends' edits) and after each change made here, then swapped in whole: the request path reads it
/// without locks or database calls, and a weight change is one reference swap.
/// </summary>
public sealed class ExperimentTable(IServiceScopeFactory scopes, RoutingTable routing, PipelineTable pipelines, TimeProvider clock, ILogger<ExperimentTable> log)
{
    /// <summary>States stored for experiments that route traffic.</summary>
    public const string Running = "Running";

    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromMilliseconds(250);
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Lock _swapLock = new();
    private volatile Snapshot _snapshot = new(new Dictionary<string, ExperimentRoute>(StringComparer.Ordinal), new Dictionary<string, ExperimentRoute>(StringComparer.Ordinal), DateTimeOffset.MinValue);

    /// <summary>Every route in the table.</summary>
    public IReadOnlyCollection<ExperimentRoute> Routes => _snapshot.ByName.Values;

    /// <summary>The running experiment <paramref name="name"/> (a miss re-reads the database, at most every 250 ms).</summary>
    public async ValueTask<ExperimentRoute?> FindAsync(string name, CancellationToken ct)
    {
        if (_snapshot.ByName.TryGetValue(name, out var route) && route.Running)
        {
            return route;
        }

        if (clock.GetUtcNow() - _snapshot.BuiltAt > MissRefreshInterval)
        {
            try
            {
                await RefreshAsync(ct);
            }
            catch (Exception e) when (DatabaseOutage.IsOutage(e) && !ct.IsCancellationRequested)
            {
                log.LogWarning("Experiment table refresh failed ({Reason}); answering from the last table", e.GetBaseException().Message);
            }
        }

        return _snapshot.ByName.TryGetValue(name, out route) && route.Running ? route : null;
    }

    /// <summary>
    /// The active experiment that takes over calls to model (or pipeline) <paramref name="name"/>'s own endpoint; null when
    /// none (or while it is pending: the endpoint then answers as it did before). No database call: this is on every request's path.
    /// </summary>
    public ExperimentRoute? TakeoverFor(bool pipeline, string name) =>
        _snapshot.ByTakeover is { Count: > 0 } takeovers // hot path: no key built while no experiment takes over anything
        && takeovers.TryGetValue((pipeline ? "p:" : "m:") + name, out var route) && route.Active ? route : null;

    /// <summary>Replaces one experiment's route now (after a weight change here), ahead of the next refresh.</summary>
    public void Swap(ExperimentRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        lock (_swapLock)
        {
            var current = _snapshot;
            var byName = new Dictionary<string, ExperimentRoute>(current.ByName, StringComparer.Ordinal) { [route.Name] = route };
            _snapshot = new Snapshot(byName, Takeovers(byName.Values), current.BuiltAt);
        }
    }

    /// <summary>Rebuilds the table from the database, with each candidate's readiness as the routing and pipeline tables have it.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshLock.WaitAsync(ct);
        try
        {
            var started = clock.GetUtcNow();
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            var rows = await db.Set<Experiment>().AsNoTracking()
                .Where(e => e.State == Running || (e.State == ExperimentStates.Promoted && e.PromotedTo != null && e.TakesOver != null))
                .ToListAsync(ct);
            var byName = new Dictionary<string, ExperimentRoute>(rows.Count, StringComparer.Ordinal);
            foreach (var row in rows)
            {
                try
                {
                    byName[row.Name] = await BuildAsync(row, ct);
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
                {
                    log.LogError(e, "Experiment {Experiment} cannot be routed", row.Name);
                }
            }

            lock (_swapLock)
            {
                _snapshot = new Snapshot(byName, Takeovers(byName.Values), started);
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>The route for a stored experiment, with its readiness worked out now.</summary>
    public async Task<ExperimentRoute> BuildAsync(Experiment row, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(row);
        var spec = ExperimentSpecParser.FromStored(row.SpecJson);
        bool pipeline = spec.ResourceType == ExperimentValidator.Pipeline;
        var weights = JsonSerializer.Deserialize<Dictionary<string, double>>(row.WeightsJson, ExperimentJson.Options) ?? [];
        var candidates = spec.Candidates.Select(c => new ExperimentCandidate(ExperimentValidator.KeyOf(c.Name, c.Version), c.Name, c.Version, pipeline)).ToList();
        if (row.State != Running && row.PromotedTo is { } promoted)
        {
            // Promoted to another resource than the default: the default's endpoint keeps answering with the winner.
            var winner = candidates.First(c => c.Key == promoted);
            bool ready = await ReadinessAsync(winner, ct) is null;
            return new ExperimentRoute(row.Name, spec.ResourceType, [winner], [1], null, 0, row.TakesOver, running: false, active: ready, ready ? null : $"'{winner.Key}' is not ready");
        }

        var mirror = spec.Mirror is { } m ? new ExperimentCandidate(ExperimentValidator.KeyOf(m.Name, m.Version), m.Name, m.Version, pipeline) : null;
        var waiting = new List<string>();
        foreach (var c in mirror is null ? candidates : [.. candidates, mirror])
        {
            if (await ReadinessAsync(c, ct) is { } why)
            {
                waiting.Add(why);
            }
        }

        return new ExperimentRoute(row.Name, spec.ResourceType, candidates, [.. candidates.Select(c => weights.GetValueOrDefault(c.Key))],
            mirror, spec.Mirror?.Percent ?? 0, row.TakesOver, running: true, active: waiting.Count == 0, waiting.Count == 0 ? null : string.Join("; ", waiting));
    }

    /// <summary>Why <paramref name="candidate"/> cannot answer now; null when it can (a Ready replica; a pipeline: live).</summary>
    public async Task<string?> ReadinessAsync(ExperimentCandidate candidate, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.IsPipeline)
        {
            var p = await pipelines.FindAsync(candidate.Name, ct);
            return p is null ? $"pipeline '{candidate.Name}' does not exist"
                : p.Graph is null ? $"pipeline '{candidate.Name}' is not live: {p.Reason}"
                : null;
        }

        var found = await routing.ResolveAsync(candidate.Name, candidate.Version, ct);
        return found.Status switch
        {
            RouteStatus.Found => null,
            RouteStatus.UnknownModel when found.Model is null => $"model '{candidate.Name}' does not exist",
            RouteStatus.UnknownModel => $"model '{candidate.Name}' has no version {candidate.Version}",
            _ => $"'{candidate.Key}' has no Ready replica" + (found.Version is { } v ? $" ({v.State}{(v.Reason is null ? "" : ": " + v.Reason)})" : ""),
        };
    }

    private static Dictionary<string, ExperimentRoute> Takeovers(IEnumerable<ExperimentRoute> routes)
    {
        var byTakeover = new Dictionary<string, ExperimentRoute>(StringComparer.Ordinal);
        foreach (var route in routes.Where(r => r.TakesOver is not null).OrderBy(r => r.Running ? 0 : 1))
        {
            byTakeover.TryAdd((route.IsPipeline ? "p:" : "m:") + route.TakesOver, route); // a running experiment before a promoted redirect
        }

        return byTakeover;
    }

    private sealed record Snapshot(Dictionary<string, ExperimentRoute> ByName, Dictionary<string, ExperimentRoute> ByTakeover, DateTimeOffset BuiltAt);
}

/// <summary>Refreshes the experiment table on a short timer.</summary>
internal sealed class ExperimentRefreshLoop(ExperimentTable table, IOptions<ExperimentOptions> options, ILogger<ExperimentRefreshLoop> log) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        PeriodicRefresh.RunAsync(table.RefreshAsync, options.Value.RefreshInterval, log, "Experiment table", stoppingToken);
}
