using Mds.Backend.Auth;
using Mds.Backend.Cluster;
using Mds.Backend.Registry;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Data;

/// <summary>The backend's one database context: registry, cluster and identity.</summary>
public sealed class MdsDbContext(DbContextOptions<MdsDbContext> options) : IdentityDbContext<MdsUser>(options)
{
    /// <summary>
    /// The newest migration this build expects in <c>__EFMigrationsHistory</c>. The backend refuses to start when it is
    /// missing; a unit test keeps it equal to the newest migration in Mds.Migrations.
    /// </summary>
    public const string ExpectedMigration = "20261205102716_AuditCost";

    /// <summary>The assembly that holds the migrations.</summary>
    public const string MigrationsAssembly = "Mds.Migrations";

    public DbSet<Model> Models => Set<Model>();
    public DbSet<ModelVersion> ModelVersions => Set<ModelVersion>();
    public DbSet<Artifact> Artifacts => Set<Artifact>();
    public DbSet<Worker> Workers => Set<Worker>();
    public DbSet<Replica> Replicas => Set<Replica>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.ApplyConfigurationsFromAssembly(typeof(MdsDbContext).Assembly);
    }
}
