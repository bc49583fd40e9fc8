using Hangfire;
using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Batches;

/// <summary>
/// The Hangfire jobs of batch predictions, on the backend's <see cref="Queue"/> queue (its own Hangfire server, so a
/// long batch never delays the reconciler's timer): scoring a large file, and the daily removal of old batches.
/// </summary>
public sealed partial class BatchJob(IServiceScopeFactory scopes, BatchFiles files, IOptions<BatchOptions> options, TimeProvider clock, ILogger<BatchJob> log)
{
    public const string Queue = "batch";
    public const string CleanupJobId = "mds-batch-cleanup";

    /// <summary>Scores one batch. Never retried by Hangfire: a failure is the batch's state, with the reason.</summary>
    [AutomaticRetry(Attempts = 0)]
    [Queue(Queue)]
    public async Task RunAsync(long batchId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<BatchScorer>().ScoreAsync(batchId, waitForReplicas: true, cancellationToken);
    }

    /// <summary>Deletes batches older than <see cref="BatchOptions.KeepDays"/>, and files no batch owns.</summary>
    [AutomaticRetry(Attempts = 1)]
    [Queue(Queue)]
    public async Task CleanupAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var cutoff = clock.GetUtcNow().AddDays(-options.Value.KeepDays);
        var old = await db.Set<Batch>().Where(b => b.CreatedAt < cutoff).Select(b => b.Id).ToListAsync(cancellationToken);
        await db.Set<Batch>().Where(b => b.CreatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
        foreach (long id in old)
        {
            files.Delete(id);
        }

        // Files of batches deleted with their model version or pipeline (the rows cascade; the files stay until now). Files written
        // in the last hour are left alone: a batch being created right now has its row before its file.
        int orphans = 0;
        var settled = clock.GetUtcNow().UtcDateTime.AddHours(-1);
        if (Directory.Exists(files.Directory))
        {
            var known = (await db.Set<Batch>().Select(b => b.Id).ToListAsync(cancellationToken)).ToHashSet();
            foreach (string path in Directory.EnumerateFiles(files.Directory))
            {
                string stem = Path.GetFileName(path).Split('.')[0];
                if (long.TryParse(stem, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id) && !known.Contains(id)
                    && File.GetLastWriteTimeUtc(path) < settled)
                {
                    File.Delete(path);
                    orphans++;
                }
            }
        }

        LogCleanup(old.Count, orphans);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch cleanup: {Batches} old batches and {Orphans} orphaned files removed")]
    private partial void LogCleanup(int batches, int orphans);
}
