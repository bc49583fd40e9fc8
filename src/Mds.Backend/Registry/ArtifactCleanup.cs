using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Registry;

/// <summary>
/// At start and then hourly: removes uploads that never finished (<c>.part</c> files) and artifact files no row refers
/// to (left by a crash or a failed commit), each once it is an hour old so no upload in progress is touched.
/// </summary>
internal sealed class ArtifactCleanup(IServiceScopeFactory scopes, ArtifactStore store, TimeProvider clock, ILogger<ArtifactCleanup> log) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromHours(1);
    private static readonly TimeSpan MinAge = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
                var known = (await db.Artifacts.Select(a => a.Sha256).ToListAsync(stoppingToken)).ToHashSet(StringComparer.Ordinal);
                int removed = store.CleanUp(known.Contains, MinAge, clock.GetUtcNow());
                if (removed > 0)
                {
                    log.LogInformation("Removed {Count} unfinished uploads and orphaned artifact files", removed);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Artifact cleanup failed; it runs again in {Period}", Period);
            }
        }
        while (await Delay(stoppingToken));
    }

    private async Task<bool> Delay(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Period, clock, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
