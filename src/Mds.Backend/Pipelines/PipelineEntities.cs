using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Pipelines;

/// <summary>A pipeline: a name callers use, and its versions (specs). Deployed apart from the models it calls.</summary>
public sealed class Pipeline
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
    /// <summary>The version that answers calls; null until one has gone live.</summary>
    public int? LiveVersion { get; set; }
    public List<PipelineVersion> Versions { get; set; } = [];
}

/// <summary>One applied spec. Immutable apart from its state.</summary>
public sealed class PipelineVersion
{
    public long Id { get; set; }
    public long PipelineId { get; set; }
    public Pipeline Pipeline { get; set; } = null!;
    public int Version { get; set; }
    /// <summary>The text as applied (YAML or JSON).</summary>
    public required string SpecText { get; set; }
    /// <summary>The canonical JSON of the spec: equal for equal specs, whatever their form.</summary>
    public required string SpecJson { get; set; }
    /// <summary>Live, Pending or Superseded (Mds.Contracts.Api.PipelineStates).</summary>
    public required string State { get; set; }
    public string? StateReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset? LiveSince { get; set; }
}

/// <summary>
/// One run of a pipeline: who called, what happened at each step (JSON: state, latency, rows, and each step's V2 inputs
/// and outputs within a size limit). Each step's model call is also an ordinary inference record, with request id
/// <c>{RequestId}.{step}</c>.
/// </summary>
public sealed class PipelineRunRecord
{
    public Guid Id { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string Pipeline { get; set; }
    public int Version { get; set; }
    public required string RequestId { get; set; }
    public string? Caller { get; set; }
    public int Status { get; set; }
    public double LatencyMs { get; set; }
    public string? Error { get; set; }
    /// <summary>JSON array of the steps (PipelineRunStepDto with Inputs/Outputs as JSON text).</summary>
    public required string Steps { get; set; }
    public string? Request { get; set; }
    public string? Response { get; set; }
}

internal sealed class PipelineConfiguration : IEntityTypeConfiguration<Pipeline>
{
    public void Configure(EntityTypeBuilder<Pipeline> b)
    {
        b.ToTable("pipelines");
        b.Property(x => x.Name).HasMaxLength(100);
        b.HasIndex(x => x.Name).IsUnique();
        b.Property(x => x.CreatedBy).HasMaxLength(256);
        b.HasMany(x => x.Versions).WithOne(v => v.Pipeline).HasForeignKey(v => v.PipelineId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class PipelineVersionConfiguration : IEntityTypeConfiguration<PipelineVersion>
{
    public void Configure(EntityTypeBuilder<PipelineVersion> b)
    {
        b.ToTable("pipeline_versions");
        b.HasIndex(x => new { x.PipelineId, x.Version }).IsUnique();
        b.Property(x => x.State).HasMaxLength(16);
        b.Property(x => x.StateReason).HasMaxLength(4000);
        b.Property(x => x.CreatedBy).HasMaxLength(256);
        b.Property(x => x.SpecJson).HasColumnType("jsonb");
    }
}

internal sealed class PipelineRunRecordConfiguration : IEntityTypeConfiguration<PipelineRunRecord>
{
    public void Configure(EntityTypeBuilder<PipelineRunRecord> b)
    {
        b.ToTable("pipeline_runs");
        b.HasKey(x => x.Id);
        b.Property(x => x.Pipeline).HasMaxLength(100);
        b.Property(x => x.RequestId).HasMaxLength(128);
        b.Property(x => x.Caller).HasMaxLength(256);
        b.Property(x => x.Error).HasMaxLength(4000);
        b.Property(x => x.Steps).HasColumnType("jsonb");
        b.Property(x => x.Request).HasColumnType("jsonb");
        b.Property(x => x.Response).HasColumnType("jsonb");
        b.HasIndex(x => new { x.Pipeline, x.Time });
        b.HasIndex(x => new { x.Pipeline, x.RequestId });
        b.HasIndex(x => x.Time);
    }
}
