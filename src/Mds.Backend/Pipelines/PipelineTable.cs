using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Pipelines;

/// <summary>A pipeline as the request path sees it: its live version compiled, or why none serves.</summary>
/// <param name="Graph">The live version's graph; null while none is live.</param>
/// <param name="Reason">Why it does not serve (no live version yet: what the newest version waits for).</param>
public sealed record PipelineRoute(
    long Id, string Name, int? LiveVersion, int LatestVersion, PipelineGraph? Graph,
    IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs, string? Reason);

/// <summary>
/// The backend's in-memory view of pipelines: each one's live version compiled into a <see cref="PipelineGraph"/>, read
/// without locks or database calls on the request path. Rebuilt on a short timer (and after each change made here), when
/// it also makes pending versions live once every step's model has a Ready replica: the previous version serves until then.
/// </summary>
public sealed class PipelineTable(IServiceScopeFactory scopes, RoutingTable routing, TimeProvider clock, ILogger<PipelineTable> log)
{
    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromMilliseconds(250);
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Dictionary<(long, int), CompiledVersion> _compiled = [];
    private volatile Snapshot _snapshot = new(new Dictionary<string, PipelineRoute>(StringComparer.Ordinal), DateTimeOffset.MinValue);

    /// <summary>Every pipeline as the table stands.</summary>
    public IReadOnlyCollection<PipelineRoute> Pipelines => _snapshot.Routes.Values;

    /// <summary>The pipeline named <paramref name="name"/>; a miss re-reads the database once (it may be news).</summary>
    public async ValueTask<PipelineRoute?> FindAsync(string name, CancellationToken ct)
    {
        if (_snapshot.Routes.TryGetValue(name, out var route))
        {
            return route;
        }

        if (clock.GetUtcNow() - _snapshot.BuiltAt > MissRefreshInterval)
        {
            try
            {
                await RefreshAsync(ct);
            }
            catch (Exception e) when (Data.DatabaseOutage.IsOutage(e) && !ct.IsCancellationRequested)
            {
                log.LogWarning("Pipeline table refresh failed ({Reason}); answering from the last table", e.GetBaseException().Message);
            }
        }

        return _snapshot.Routes.GetValueOrDefault(name);
    }

    /// <summary>Schemas as the routing table knows them: a pinned version, else the live one, else the newest.</summary>
    public ModelSchemaLookup Schemas()
    {
        var models = routing.Models.ToDictionary(m => m.Name, StringComparer.Ordinal);
        return (name, version) =>
        {
            if (!models.TryGetValue(name, out var m))
            {
                return null;
            }

            VersionRoute? v = version is int pinned ? m.Versions.GetValueOrDefault(pinned)
                : m.LiveVersion is int live && m.Versions.TryGetValue(live, out var l) ? l
                : m.Versions.Values.LastOrDefault(x => x.Ready.Length > 0) ?? m.Versions.Values.LastOrDefault();
            return v is null ? null : new ModelSchema(m.Name, v.Version, v.Inputs, v.Outputs);
        };
    }

    /// <summary>What each step waits for (null: its model can answer).</summary>
    public async Task<IReadOnlyList<PipelineStepStatusDto>> StepStatusAsync(PipelineGraph graph, CancellationToken ct)
    {
        var statuses = new List<PipelineStepStatusDto>(graph.Steps.Count);
        foreach (var step in graph.Steps.OrderBy(s => s.Index))
        {
            var found = await routing.ResolveAsync(step.Model, step.ModelVersion, ct);
            string? waiting = found.Status switch
            {
                RouteStatus.Found => null,
                RouteStatus.UnknownModel when found.Model is null => $"model '{step.Model}' does not exist",
                RouteStatus.UnknownModel => $"model '{step.Model}' has no version {step.ModelVersion}",
                _ => $"model '{step.ModelText}' has no Ready replica" + (found.Version is { } v ? $" ({v.State}{(v.Reason is null ? "" : ": " + v.Reason)})" : ""),
            };
            statuses.Add(new PipelineStepStatusDto(step.Name, step.Model, step.ModelVersion, waiting is null, waiting));
        }

        return statuses;
    }

    /// <summary>Re-reads pipelines, makes ready pending versions live, and swaps the table in whole.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshLock.WaitAsync(ct);
        try
        {
            var started = clock.GetUtcNow();
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            var pipelines = await db.Set<Pipeline>().AsNoTracking()
                .Select(p => new
                {
                    p.Id,
                    p.Name,
                    p.LiveVersion,
                    Latest = p.Versions.Max(v => (int?)v.Version) ?? 0,
                    Active = p.Versions.Where(v => v.State == PipelineStates.Live || v.State == PipelineStates.Pending)
                        .Select(v => new { v.Id, v.Version, v.State, v.StateReason, v.SpecJson }).ToList(),
                })
                .ToListAsync(ct);

            var schemas = Schemas();
            var routes = new Dictionary<string, PipelineRoute>(pipelines.Count, StringComparer.Ordinal);
            var keep = new HashSet<(long, int)>();
            foreach (var p in pipelines)
            {
                var live = p.Active.FirstOrDefault(v => v.Version == p.LiveVersion && v.State == PipelineStates.Live);
                var pending = p.Active.Where(v => v.State == PipelineStates.Pending && v.Version > (p.LiveVersion ?? 0)).MaxBy(v => v.Version);
                int? liveVersion = live?.Version;
                CompiledVersion? serving = live is null ? null : Compile(p.Id, live.Version, live.SpecJson, schemas);
                string? reason = null;

                if (pending is not null)
                {
                    var candidate = Compile(p.Id, pending.Version, pending.SpecJson, schemas, fresh: true);
                    string? waits = candidate.Error ?? await WaitingAsync(candidate.Graph!, ct);
                    if (waits is null && await GoLiveAsync(db, p.Id, pending.Version, ct))
                    {
                        log.LogInformation("Pipeline {Pipeline} version {Version} is live", p.Name, pending.Version);
                        serving = candidate;
                        liveVersion = pending.Version;
                    }
                    else if (waits is not null)
                    {
                        reason = $"version {pending.Version} waits: {waits}";
                        if (waits != pending.StateReason)
                        {
                            await db.Set<PipelineVersion>().Where(v => v.Id == pending.Id && v.State == PipelineStates.Pending)
                                .ExecuteUpdateAsync(u => u.SetProperty(v => v.StateReason, Truncate(waits)), ct);
                        }

                        keep.Add((p.Id, pending.Version));
                    }
                }

                if (serving is not null)
                {
                    keep.Add((p.Id, liveVersion!.Value));
                }

                if (serving?.Graph is null)
                {
                    reason ??= serving?.Error is { } error ? $"version {liveVersion}: {error}" : $"pipeline '{p.Name}' has no live version";
                }

                var (inputs, outputs) = serving?.Graph is { } g ? PipelineSignature.Of(g, schemas) : ([], []);
                routes[p.Name] = new PipelineRoute(p.Id, p.Name, serving?.Graph is null ? null : liveVersion, p.Latest, serving?.Graph, inputs, outputs,
                    serving?.Graph is null ? reason : null);
            }

            lock (_compiled)
            {
                foreach (var key in _compiled.Keys.Where(k => !keep.Contains(k)).ToList())
                {
                    _compiled.Remove(key);
                }
            }

            _snapshot = new Snapshot(routes, started);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task<string?> WaitingAsync(PipelineGraph graph, CancellationToken ct)
    {
        var waiting = (await StepStatusAsync(graph, ct)).Where(s => !s.Ready).Select(s => $"step '{s.Name}': {s.Waiting}").ToList();
        return waiting.Count == 0 ? null : string.Join("; ", waiting);
    }

    /// <summary>Makes <paramref name="version"/> live in one transaction (false when another backend did it first).</summary>
    private async Task<bool> GoLiveAsync(MdsDbContext db, long pipelineId, int version, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        int promoted = await db.Set<PipelineVersion>()
            .Where(v => v.PipelineId == pipelineId && v.Version == version && v.State == PipelineStates.Pending)
            .ExecuteUpdateAsync(u => u.SetProperty(v => v.State, PipelineStates.Live).SetProperty(v => v.StateReason, (string?)null)
                .SetProperty(v => v.LiveSince, clock.GetUtcNow()), ct);
        if (promoted == 0)
        {
            return false;
        }

        await db.Set<PipelineVersion>()
            .Where(v => v.PipelineId == pipelineId && v.Version != version && (v.State == PipelineStates.Live || (v.State == PipelineStates.Pending && v.Version < version)))
            .ExecuteUpdateAsync(u => u.SetProperty(v => v.State, PipelineStates.Superseded), ct);
        await db.Set<Pipeline>().Where(p => p.Id == pipelineId).ExecuteUpdateAsync(u => u.SetProperty(p => p.LiveVersion, version), ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// The version's graph, compiled once and kept while it is live or pending. A pending version is compiled afresh each
    /// time (<paramref name="fresh"/>): the models it waits for may have appeared, and with them the static type checks.
    /// </summary>
    private CompiledVersion Compile(long pipelineId, int version, string specJson, ModelSchemaLookup schemas, bool fresh = false)
    {
        lock (_compiled)
        {
            if (!fresh && _compiled.TryGetValue((pipelineId, version), out var known))
            {
                return known;
            }
        }

        CompiledVersion compiled;
        try
        {
            var spec = PipelineSpecParser.Parse(specJson, "application/json");
            compiled = new CompiledVersion(PipelineValidator.Validate(spec, schemas), null);
        }
        catch (PipelineSpecException e)
        {
            compiled = new CompiledVersion(null, e.Message);
        }

        lock (_compiled)
        {
            _compiled[(pipelineId, version)] = compiled;
        }

        return compiled;
    }

    private static string Truncate(string text) => text.Length > 4000 ? text[..3999] + "…" : text;

    private sealed record CompiledVersion(PipelineGraph? Graph, string? Error);

    private sealed record Snapshot(Dictionary<string, PipelineRoute> Routes, DateTimeOffset BuiltAt);
}

/// <summary>Refreshes the pipeline table on a short timer (pending versions go live; other backends' changes arrive).</summary>
internal sealed class PipelineRefreshLoop(PipelineTable table, IOptions<PipelineOptions> options, ILogger<PipelineRefreshLoop> log) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Data.PeriodicRefresh.RunAsync(table.RefreshAsync, options.Value.RefreshInterval, log, "Pipeline table", stoppingToken);
}
