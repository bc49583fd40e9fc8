using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Data;

/// <summary>
/// The loop behind the in-memory tables the request path reads (routing, pipelines): refresh now, then on every tick;
/// a refresh that fails on the database is logged and the last table stays until the next tick.
/// </summary>
internal static class PeriodicRefresh
{
    public static async Task RunAsync(Func<CancellationToken, Task> refresh, TimeSpan interval, ILogger log, string what, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await refresh(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                log.LogWarning(e, "{What} refresh failed", what);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
