using Npgsql;

namespace Mds.Bench;

/// <summary>
/// CPU time of the PostgreSQL backends serving one database (<c>pg_stat_activity</c>, then <see cref="ProcessCpu"/>): what
/// the rows a benchmark causes cost the database server, on the same cores as everything else.
/// </summary>
internal static class DatabaseCpu
{
    /// <summary>CPU time so far of each PostgreSQL backend serving the connection's database (its own query's backend included).</summary>
    public static async Task<Dictionary<int, TimeSpan>> SampleAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = current_database()", connection);
        var cpu = new Dictionary<int, TimeSpan>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            int pid = reader.GetInt32(0);
            cpu[pid] = ProcessCpu.Of(pid);
        }

        return cpu;
    }

    /// <summary>CPU used between two samples by the backends in the second (a backend new since the first counts whole).</summary>
    public static TimeSpan Since(Dictionary<int, TimeSpan> before, Dictionary<int, TimeSpan> after) =>
        after.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Value - before.GetValueOrDefault(p.Key));
}
