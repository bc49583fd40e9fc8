using Mds.Backend.Registry;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Cluster;

/// <summary>An inference host.</summary>
public sealed class Worker
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string RestUrl { get; set; }
    public string? GrpcUrl { get; set; }
    public List<string> Capabilities { get; set; } = [];
    public int MemoryCapacityMb { get; set; }
    public long MemoryInUseBytes { get; set; }
    public int InFlight { get; set; }
    /// <summary>Online, Draining or Offline (Mds.Contracts.Api.WorkerStates).</summary>
    public required string State { get; set; }
    public DateTimeOffset RegisteredAt { get; set; }
    public DateTimeOffset LastHeartbeatAt { get; set; }
    /// <summary>SHA-256 (hex) of the worker's own credential; null until issued, or after an admin reset it.</summary>
    public string? CredentialHash { get; set; }
    public List<Replica> Replicas { get; set; } = [];
}

/// <summary>One model version placed on one worker.</summary>
public sealed class Replica
{
    public long Id { get; set; }
    public long ModelVersionId { get; set; }
    public ModelVersion ModelVersion { get; set; } = null!;
    public long WorkerId { get; set; }
    public Worker Worker { get; set; } = null!;
    /// <summary>Scheduled, Loading, Ready, Failed, Unloading (Mds.Contracts.Api.ReplicaStates).</summary>
    public required string State { get; set; }
    public string? Error { get; set; }
    public long? MemoryBytes { get; set; }
    /// <summary>Requests running on the replica's session, from the last heartbeat.</summary>
    public int InFlight { get; set; }
    /// <summary>Requests waiting at the worker for their turn on the session, from the last heartbeat.</summary>
    public int Waiting { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class WorkerConfiguration : IEntityTypeConfiguration<Worker>
{
    public void Configure(EntityTypeBuilder<Worker> b)
    {
        b.ToTable("workers");
        b.Property(w => w.Name).HasMaxLength(128);
        b.HasIndex(w => w.Name).IsUnique();
        b.Property(w => w.RestUrl).HasMaxLength(512);
        b.Property(w => w.GrpcUrl).HasMaxLength(512);
        b.Property(w => w.State).HasMaxLength(16);
        b.Property(w => w.CredentialHash).HasMaxLength(64);
        b.HasMany(w => w.Replicas).WithOne(r => r.Worker).HasForeignKey(r => r.WorkerId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ReplicaConfiguration : IEntityTypeConfiguration<Replica>
{
    public void Configure(EntityTypeBuilder<Replica> b)
    {
        b.ToTable("replicas");
        b.Property(r => r.State).HasMaxLength(16);
        b.Property(r => r.Error).HasMaxLength(4000);
        b.HasOne(r => r.ModelVersion).WithMany(v => v.ReplicaList).HasForeignKey(r => r.ModelVersionId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(r => new { r.ModelVersionId, r.WorkerId });
    }
}
