using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Mds.Migrations;

/// <summary>Applies pending migrations; creates the database when it does not exist.</summary>
public static class Migrator
{
    public static MdsDbContext CreateContext(string connectionString) =>
        new(new DbContextOptionsBuilder<MdsDbContext>()
            .UseNpgsql(connectionString, n => n.MigrationsAssembly(MdsDbContext.MigrationsAssembly))
            .Options);

    /// <summary>
    /// Migrates, then installs Hangfire's schema and applies the grants of <see cref="DatabaseRoles"/> (to the roles
    /// that exist; <see cref="EnsureRolesAsync"/> makes them).
    /// </summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(string connectionString, CancellationToken ct = default)
    {
        List<string> pending;
        await using (var db = CreateContext(connectionString))
        {
            pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            await db.Database.MigrateAsync(ct);
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await DatabaseRoles.ApplyAsync(connection, ct);
        return pending;
    }

    /// <summary>Creates the backend's and the workers' roles (or sets their passwords); needs CREATEROLE.</summary>
    public static async Task EnsureRolesAsync(string connectionString, string backendPassword, string workerPassword, CancellationToken ct = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await DatabaseRoles.EnsureRoleAsync(connection, DatabaseRoles.Backend, backendPassword, ct);
        await DatabaseRoles.EnsureRoleAsync(connection, DatabaseRoles.Worker, workerPassword, ct);
    }
}
