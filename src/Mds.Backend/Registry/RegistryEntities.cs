using Mds.Backend.Auth;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Registry;

/// <summary>A named model users call; its versions hold the artifacts.</summary>
public sealed class Model
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    /// <summary>The version that answers the bare name; null means "the newest Ready one".</summary>
    public long? LiveVersionId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The highest version number ever given (deleted versions included): the next upload gets one more.</summary>
    public int LastVersion { get; set; }
    /// <summary>Words people find and group models by (lower case; see <see cref="ModelTags"/>).</summary>
    public List<string> Tags { get; set; } = [];
    public List<ModelVersion> Versions { get; set; } = [];
}

/// <summary>An immutable ONNX artifact with its schema, requirements and desired replicas.</summary>
public sealed class ModelVersion
{
    public long Id { get; set; }
    public long ModelId { get; set; }
    public Model Model { get; set; } = null!;
    public int Version { get; set; }
    public required string ArtifactSha256 { get; set; }
    public Artifact Artifact { get; set; } = null!;
    public string? Description { get; set; }
    /// <summary>Capabilities a worker must have, e.g. <c>onnx</c>, <c>cpu</c>, <c>gpu</c>.</summary>
    public List<string> Requirements { get; set; } = [];
    /// <summary>Memory the uploader declared; null until measured by a worker.</summary>
    public int? MemoryMb { get; set; }
    /// <summary>Memory a worker measured after loading it.</summary>
    public int? MeasuredMemoryMb { get; set; }
    public int Replicas { get; set; } = 1;
    /// <summary>Autoscaling bounds; both null means autoscaling is off.</summary>
    public int? MinReplicas { get; set; }
    public int? MaxReplicas { get; set; }
    /// <summary>Since when the load has stayed above the scale-up threshold (autoscaling).</summary>
    public DateTimeOffset? LoadHighSince { get; set; }
    /// <summary>Since when the load has stayed below the scale-down threshold (autoscaling).</summary>
    public DateTimeOffset? LoadLowSince { get; set; }
    public DateTimeOffset? LastScaledAt { get; set; }
    /// <summary>Autoscaling: a p95 latency through the gateway above this (milliseconds) is pressure too; null: none.</summary>
    public int? TargetLatencyMs { get; set; }
    /// <summary>Why the version has fewer replicas placed than desired, as the planner said.</summary>
    public string? PendingReason { get; set; }
    /// <summary>Adaptive batching: most rows per ONNX Runtime call; null means batching is off.</summary>
    public int? MaxBatchSize { get; set; }
    /// <summary>Adaptive batching: the longest a request waits for others, in microseconds (with <see cref="MaxBatchSize"/>).</summary>
    public int? MaxBatchLatencyMicroseconds { get; set; }
    /// <summary>Input/output schema read from the ONNX graph, as V2 tensor metadata JSON.</summary>
    public required string InputsJson { get; set; }
    public required string OutputsJson { get; set; }
    /// <summary>Names of the input's columns, from the model's <c>features</c> metadata.</summary>
    public List<string>? FeatureNames { get; set; }
    /// <summary>Class names in score order, from the model's <c>classes</c> metadata.</summary>
    public List<string>? Classes { get; set; }

    /// <summary>What the file says about itself (<see cref="Mds.Contracts.Api.ModelFileInfo"/> as JSON), if anything.</summary>
    public string? FileInfoJson { get; set; }
    /// <summary>An image model's preprocessing (<see cref="Mds.Contracts.Api.ImagePreprocessingDto"/> as JSON); null for other models.</summary>
    public string? ImagePreprocessingJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
    public List<Cluster.Replica> ReplicaList { get; set; } = [];
}

/// <summary>An artifact file, named by its SHA-256, shared by every version with the same bytes.</summary>
public sealed class Artifact
{
    public required string Sha256 { get; set; }
    public long SizeBytes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class ModelConfiguration : IEntityTypeConfiguration<Model>
{
    public void Configure(EntityTypeBuilder<Model> b)
    {
        b.ToTable("models");
        b.Property(m => m.Name).HasMaxLength(128);
        b.HasIndex(m => m.Name).IsUnique();
        b.Property(m => m.Description).HasMaxLength(4000);
        b.HasMany(m => m.Versions).WithOne(v => v.Model).HasForeignKey(v => v.ModelId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<ModelVersion>().WithMany().HasForeignKey(m => m.LiveVersionId).OnDelete(DeleteBehavior.SetNull);
    }
}

internal sealed class ModelVersionConfiguration : IEntityTypeConfiguration<ModelVersion>
{
    public void Configure(EntityTypeBuilder<ModelVersion> b)
    {
        b.ToTable("model_versions");
        b.HasIndex(v => new { v.ModelId, v.Version }).IsUnique();
        b.Property(v => v.ArtifactSha256).HasMaxLength(64);
        b.HasOne(v => v.Artifact).WithMany().HasForeignKey(v => v.ArtifactSha256).OnDelete(DeleteBehavior.Restrict);
        b.Property(v => v.Description).HasMaxLength(4000);
        b.Property(v => v.InputsJson).HasColumnType("jsonb");
        b.Property(v => v.OutputsJson).HasColumnType("jsonb");
        b.Property(v => v.FileInfoJson).HasColumnType("jsonb");
        b.Property(v => v.ImagePreprocessingJson).HasColumnType("jsonb");
        b.Property(v => v.CreatedBy).HasMaxLength(256);
        b.Property(v => v.PendingReason).HasMaxLength(1000);
    }
}

internal sealed class ArtifactConfiguration : IEntityTypeConfiguration<Artifact>
{
    public void Configure(EntityTypeBuilder<Artifact> b)
    {
        b.ToTable("artifacts");
        b.HasKey(a => a.Sha256);
        b.Property(a => a.Sha256).HasMaxLength(64);
    }
}
