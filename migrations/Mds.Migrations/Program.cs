using Mds.Migrations;

// The migrator: ./mds and docker-compose run it before the backend starts, as the owner of the database.
// With MDS_BACKEND_DB_PASSWORD and MDS_WORKER_DB_PASSWORD set it also creates the roles mds_backend and mds_worker
// (or sets their passwords); either way it grants them what they need (docs/operations.md, "Database roles").
string? connectionString = args.FirstOrDefault() ?? Environment.GetEnvironmentVariable("ConnectionStrings__Mds");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("usage: Mds.Migrations [connection string]   (or set ConnectionStrings__Mds)");
    return 2;
}

string? backendPassword = Environment.GetEnvironmentVariable("MDS_BACKEND_DB_PASSWORD");
string? workerPassword = Environment.GetEnvironmentVariable("MDS_WORKER_DB_PASSWORD");
try
{
    if (!string.IsNullOrEmpty(backendPassword) && !string.IsNullOrEmpty(workerPassword))
    {
        await Migrator.EnsureRolesAsync(connectionString, backendPassword, workerPassword);
        Console.WriteLine($"roles {DatabaseRoles.Backend} and {DatabaseRoles.Worker} are in place");
    }

    var applied = await Migrator.MigrateAsync(connectionString);
    Console.WriteLine(applied.Count == 0 ? "database is up to date" : $"applied {applied.Count} migration(s): {string.Join(", ", applied)}");
    return 0;
}
catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException)
{
    Console.Error.WriteLine($"migration failed: {e.Message}");
    return 1;
}
