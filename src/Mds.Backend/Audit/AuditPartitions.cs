using System.Globalization;
using Hangfire;
using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Mds.Backend.Audit;

/// <summary><c>Mds:Audit</c> on the backend: how long inference records are kept.</summary>
public sealed class AuditRetentionOptions
{
    /// <summary>Day partitions older than this many days are dropped.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 3650)]
    public int RetentionDays { get; set; } = 30;

    /// <summary>Day partitions created ahead of today.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 60)]
    public int PartitionsAhead { get; set; } = 3;
}

/// <summary>
/// Keeps <c>inference_records</c>' day partitions: yesterday to <see cref="AuditRetentionOptions.PartitionsAhead"/>
/// days ahead exist (rows that landed in the DEFAULT partition for such a day are moved into it), and partitions past
/// retention are dropped whole — the cheap way to forget old records. Runs at start and hourly (Hangfire, queue
/// <c>backend</c>); a PostgreSQL advisory lock keeps two backends from doing it at once.
/// </summary>
public sealed partial class AuditPartitions(IServiceScopeFactory scopes, IOptions<AuditRetentionOptions> options, TimeProvider clock, ILogger<AuditPartitions> log)
{
    public const string JobId = "mds-audit-partitions";
    private const long LockKey = 0x4d44_5341_7564_6974; // "MDSAudit"

    [AutomaticRetry(Attempts = 0)]
    public async Task MaintainAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await connection.OpenAsync(ct);
        await using (var take = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LockKey})", connection))
        {
            if (!(bool)(await take.ExecuteScalarAsync(ct))!)
            {
                return; // another backend is at it
            }
        }

        try
        {
            var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
            int created = 0;
            for (int d = -1; d <= options.Value.PartitionsAhead; d++)
            {
                created += await EnsureDayAsync(connection, today.AddDays(d), ct) ? 1 : 0;
            }

            int dropped = await DropExpiredAsync(connection, today.AddDays(-options.Value.RetentionDays), ct);

            // Explanations kept for records past retention go with them.
            await using (var forget = new NpgsqlCommand("""DELETE FROM explanations WHERE "CreatedAt" < @before""", connection))
            {
                forget.Parameters.AddWithValue("before", new DateTimeOffset(today.AddDays(-options.Value.RetentionDays).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
                await forget.ExecuteNonQueryAsync(ct);
            }
            if (created > 0 || dropped > 0)
            {
                LogMaintained(created, dropped);
            }
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockKey})", connection);
            await release.ExecuteScalarAsync(CancellationToken.None);
        }
    }

    /// <summary>The partition's name for a day: <c>inference_records_p20261125</c>.</summary>
    public static string PartitionOf(DateOnly day) => "inference_records_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    // Creating and dropping partitions needs the table's owner; the backend's role is not, so the migrator's
    // SECURITY DEFINER functions do it (Mds.Migrations/DatabaseRoles.cs): they move the day's rows out of the default
    // partition and attach the new one, or drop the day partitions before a date.
    private static async Task<bool> EnsureDayAsync(NpgsqlConnection connection, DateOnly day, CancellationToken ct)
    {
        await using var create = new NpgsqlCommand("SELECT mds_audit_add_day(@day)", connection);
        create.Parameters.AddWithValue("day", day);
        return (bool)(await create.ExecuteScalarAsync(ct))!;
    }

    private static async Task<int> DropExpiredAsync(NpgsqlConnection connection, DateOnly keepFrom, CancellationToken ct)
    {
        await using var drop = new NpgsqlCommand("SELECT mds_audit_drop_before(@keep)", connection);
        drop.Parameters.AddWithValue("keep", keepFrom);
        return (int)(await drop.ExecuteScalarAsync(ct))!;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference records: {Created} day partitions created, {Dropped} past retention dropped")]
    private partial void LogMaintained(int created, int dropped);
}

/// <summary>Runs <see cref="AuditPartitions"/> at start and registers its hourly Hangfire job.</summary>
internal sealed partial class AuditPartitionsStartup(AuditPartitions partitions, IRecurringJobManager jobs, ILogger<AuditPartitionsStartup> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Scheduling.RecurringJobRegistration.StartAsync(AuditPartitions.JobId, () =>
            jobs.AddOrUpdate<AuditPartitions>(AuditPartitions.JobId, Scheduling.ReconcileSchedule.Queue, p => p.MaintainAsync(CancellationToken.None), Cron.Hourly()), log);
        try
        {
            await partitions.MaintainAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            LogFailed(e); // the hourly job tries again; until then rows go to the default partition
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Creating the inference records' day partitions failed; the hourly job will try again")]
    private partial void LogFailed(Exception e);
}
