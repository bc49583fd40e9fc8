using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Scheduling;

/// <summary>
/// Samples this backend's <see cref="GatewayLoad"/> every <see cref="SampleInterval"/> and, every heartbeat interval,
/// writes the window (mean outstanding, answers, p95 latency) per version to <c>gateway_load</c>, replacing this
/// backend's previous rows. Versions without a call in the window get no row (no row: no load).
/// </summary>
internal sealed class GatewayLoadReporter(
    GatewayLoad load, IServiceScopeFactory scopes, IOptions<SchedulerOptions> options, TimeProvider clock, ILogger<GatewayLoadReporter> log) : BackgroundService
{
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(100);
    private bool _hasRows = true; // rows of an earlier run of this backend cannot be there (its id is new), but old ones of others are cleaned too

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SampleInterval, clock);
        long lastReport = clock.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var (_, v) in load.Versions)
                {
                    v.Sample();
                }

                if (clock.GetElapsedTime(lastReport) < options.Value.HeartbeatInterval)
                {
                    continue;
                }

                lastReport = clock.GetTimestamp();
                try
                {
                    await ReportAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    log.LogWarning(e, "Gateway load report failed; the autoscaler sees this backend's load again at the next one");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task ReportAsync(CancellationToken ct)
    {
        var windows = new List<((string Model, int Version) Key, double Outstanding, int Requests, double? P95Ms)>();
        foreach (var (key, v) in load.Versions)
        {
            var (outstanding, requests, p95) = v.TakeWindow();
            if (outstanding > 0 || requests > 0)
            {
                windows.Add((key, outstanding, requests, p95));
            }
        }

        if (windows.Count == 0 && !_hasRows)
        {
            return; // idle, and nothing of ours to take back
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        string backend = load.BackendId;
        var now = clock.GetUtcNow();
        var names = windows.Select(w => w.Key.Model).Distinct().ToList();
        var ids = names.Count == 0
            ? []
            : (await db.ModelVersions.AsNoTracking().Where(v => names.Contains(v.Model.Name))
                .Select(v => new { v.Id, v.Model.Name, v.Version }).ToListAsync(ct))
                .ToDictionary(v => (v.Name, v.Version), v => v.Id);

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.Set<GatewayLoadReport>().Where(r => r.Backend == backend || r.UpdatedAt < now.AddMinutes(-5)).ExecuteDeleteAsync(ct);
        foreach (var w in windows)
        {
            if (ids.TryGetValue(w.Key, out long id))
            {
                db.Add(new GatewayLoadReport { Backend = backend, ModelVersionId = id, Outstanding = w.Outstanding, Requests = w.Requests, P95Ms = w.P95Ms, UpdatedAt = now });
            }
        }

        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        _hasRows = windows.Count > 0;
    }
}
