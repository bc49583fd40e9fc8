using System.Diagnostics.Metrics;
using System.Globalization;
using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Monitoring;

/// <summary>
/// The cluster's state as the backend sees it in PostgreSQL, read every <see cref="Interval"/>, as gauges for alerts:
/// <c>mds_worker_state</c> (worker, state: Online, Draining, Offline), <c>mds_model_version_state</c> (model, version,
/// state: Pending, Loading, Ready, Failed) and <c>mds_replicas</c> (model, version, state: Scheduled, Loading, Ready,
/// Failed, Unloading). Every state of a worker or version is reported, 1 for the one it is in and 0 for the others, so a
/// state it left reads 0 at once (prometheus-net keeps an unreported series for minutes). A version with no replicas
/// that is scaled to zero wants none: it is not reported (it would read Pending forever).
/// </summary>
public sealed class ClusterMetrics : BackgroundService
{
    /// <summary>How often the state is read.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private static readonly string[] WorkerStateNames = [WorkerStates.Online, WorkerStates.Draining, WorkerStates.Offline];
    private static readonly string[] VersionStateNames = [VersionStates.Pending, VersionStates.Loading, VersionStates.Ready, VersionStates.Failed];
    private static readonly string[] ReplicaStateNames =
        [ReplicaStates.Scheduled, ReplicaStates.Loading, ReplicaStates.Ready, ReplicaStates.Failed, ReplicaStates.Unloading];

    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger<ClusterMetrics> _log;
    private volatile Snapshot _snapshot = new([], []);

    public ClusterMetrics(IServiceScopeFactory scopes, IMeterFactory meters, ILogger<ClusterMetrics> log)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _scopes = scopes;
        _log = log;
        var meter = meters.Create("Mds");
        meter.CreateObservableGauge("worker_state", WorkerMeasurements, description: "1 for the state each registered worker is in (Online, Draining, Offline), 0 for the others.");
        meter.CreateObservableGauge("model_version_state", VersionMeasurements, description: "1 for the state each model version is in (Pending, Loading, Ready, Failed), 0 for the others.");
        meter.CreateObservableGauge("replicas", ReplicaMeasurements, description: "Replicas of each model version by state.");
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        PeriodicRefresh.RunAsync(RefreshAsync, Interval, _log, "Cluster metrics", stoppingToken);

    /// <summary>Reads workers, versions and replicas once.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        using var scope = _scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var workers = await db.Workers.AsNoTracking().Select(w => new WorkerRow(w.Name, w.State)).ToListAsync(ct).ConfigureAwait(false);
        var versions = await db.ModelVersions.AsNoTracking().Include(v => v.Model).Include(v => v.ReplicaList)
            .Where(v => v.Replicas > 0 || v.ReplicaList.Any())
            .ToListAsync(ct).ConfigureAwait(false);
        _snapshot = new Snapshot(workers, [.. versions.Select(v => new VersionRow(
            v.Model.Name, v.Version.ToString(CultureInfo.InvariantCulture), RegistryMapping.StateOf(v).State,
            v.ReplicaList.GroupBy(r => r.State).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal)))]);
    }

    private IEnumerable<Measurement<int>> WorkerMeasurements() =>
        _snapshot.Workers.SelectMany(w => WorkerStateNames.Select(s => new Measurement<int>(
            w.State == s ? 1 : 0, new("worker", w.Name), new("state", s))));

    private IEnumerable<Measurement<int>> VersionMeasurements() =>
        _snapshot.Versions.SelectMany(v => VersionStateNames.Select(s => new Measurement<int>(
            v.State == s ? 1 : 0, new("model", v.Model), new("version", v.Version), new("state", s))));

    private IEnumerable<Measurement<int>> ReplicaMeasurements() =>
        _snapshot.Versions.SelectMany(v => ReplicaStateNames.Select(s => new Measurement<int>(
            v.Replicas.GetValueOrDefault(s), new("model", v.Model), new("version", v.Version), new("state", s))));

    private sealed record WorkerRow(string Name, string State);

    private sealed record VersionRow(string Model, string Version, string State, Dictionary<string, int> Replicas);

    private sealed record Snapshot(IReadOnlyList<WorkerRow> Workers, IReadOnlyList<VersionRow> Versions);
}
