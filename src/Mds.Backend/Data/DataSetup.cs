using Hangfire;
using Hangfire.PostgreSql;
using Mds.ServiceDefaults;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Data;

public static class DataSetup
{
    /// <summary>EF Core on PostgreSQL (<c>ConnectionStrings:Mds</c>) and Hangfire's PostgreSQL storage in the same database.</summary>
    public static IHostApplicationBuilder AddMdsData(this IHostApplicationBuilder builder)
    {
        string connectionString = builder.Configuration.GetConnectionString("Mds")
            ?? throw new InvalidOperationException("ConnectionStrings:Mds is not set (ConnectionStrings__Mds).");
        builder.Services.AddDbContext<MdsDbContext>(o => o.UseNpgsql(connectionString, n => n.MigrationsAssembly(MdsDbContext.MigrationsAssembly)));
        builder.Services.AddHangfire(c => c
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseFilter(new BackendJobAllowList())
            .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions
            {
                PrepareSchemaIfNecessary = true,
                // NOTIFY on enqueue wakes the fetching Hangfire server at once (workers listen with long polling too);
                // the poll is the fallback for a missed notification.
                QueuePollInterval = JobQueuePolling.IntervalFrom(builder.Configuration),
                EnableLongPolling = true,
            })
            .WithJobExpirationTimeout(TimeSpan.FromHours(1))); // the reconcile timer alone finishes 720 jobs an hour
        builder.Services.AddHostedService<MigrationCheck>();
        builder.Services.AddExceptionHandler<DatabaseOutageHandler>(); // 503, not 500, while the database is away
        return builder;
    }
}

/// <summary>
/// Refuses to start on a database the migrator has not brought up to date (the backend never migrates by itself:
/// <c>Mds.Migrations</c> does, before the backend starts).
/// </summary>
internal sealed class MigrationCheck(IServiceScopeFactory scopes) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var applied = await db.Database.GetAppliedMigrationsAsync(cancellationToken);
        if (!applied.Contains(MdsDbContext.ExpectedMigration))
        {
            throw new InvalidOperationException(
                $"The database is missing migration {MdsDbContext.ExpectedMigration}. Run the migrator first: dotnet Mds.Migrations.dll (./mds up does).");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
