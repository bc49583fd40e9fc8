using System.Reflection;
using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Mds.UnitTests.Data;

public sealed class MigrationTests
{
    [Fact]
    public void Backend_expects_the_newest_migration_in_Mds_Migrations()
    {
        var newest = typeof(Mds.Migrations.Migrator).Assembly.GetTypes()
            .Select(t => t.GetCustomAttribute<MigrationAttribute>()?.Id)
            .Where(id => id is not null)
            .Max(StringComparer.Ordinal);
        Assert.Equal(MdsDbContext.ExpectedMigration, newest);
    }

    [Fact]
    public void The_model_has_no_changes_that_a_migration_does_not_carry()
    {
        // `dotnet ef migrations has-pending-model-changes` as a test: an entity changed without `dotnet ef migrations add`
        // (or two migrations merged from parallel branches, each with its own snapshot) fails here, not on a user's database.
        // Comparing the model with the migrations' snapshot needs no connection.
        using var db = new Mds.Migrations.DesignTimeFactory().CreateDbContext([]);
        Assert.False(db.Database.HasPendingModelChanges(), "the EF Core model differs from the last migration's snapshot: run `dotnet ef migrations add <Name> --project migrations/Mds.Migrations --startup-project migrations/Mds.Migrations`");
    }
}
