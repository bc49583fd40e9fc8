using Mds.Backend.Pipelines;
using Mds.Backend.Registry;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Batches;

/// <summary>
/// A CSV scored by one model version or by one pipeline (exactly one of <see cref="ModelVersionId"/> and
/// <see cref="PipelineId"/> is set); the files are <c>batches/{id}.csv</c> and <c>batches/{id}.result.csv</c>.
/// </summary>
public sealed class Batch
{
    public long Id { get; set; }
    public long? ModelVersionId { get; set; }
    public ModelVersion? ModelVersion { get; set; }
    public long? PipelineId { get; set; }
    public Pipeline? Pipeline { get; set; }
    /// <summary>The pipeline's name, for a pipeline batch.</summary>
    public string? PipelineName { get; set; }
    /// <summary>The model name the rows go to: the model's, or a pipeline's V2 model name <c>{name}.pipeline</c>.</summary>
    public required string ModelName { get; set; }
    /// <summary>The model version, or the pipeline version (the one live at upload), that scores the rows.</summary>
    public int Version { get; set; }
    /// <summary>Queued, Running, Succeeded, Failed (Mds.Contracts.Api.BatchStates).</summary>
    public required string State { get; set; }
    public required string FileName { get; set; }
    public long SizeBytes { get; set; }
    public int TotalRows { get; set; }
    public int DoneRows { get; set; }
    public string? LabelColumn { get; set; }
    public string? Error { get; set; }
    public string? Summary { get; set; }
    public List<string> Columns { get; set; } = [];
    /// <summary>The Hangfire job scoring it, for large files.</summary>
    public string? JobId { get; set; }
    public required string CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

internal sealed class BatchConfiguration : IEntityTypeConfiguration<Batch>
{
    public void Configure(EntityTypeBuilder<Batch> b)
    {
        b.ToTable("batches", t => t.HasCheckConstraint("CK_batches_one_target", "(\"ModelVersionId\" IS NULL) <> (\"PipelineId\" IS NULL)"));
        b.HasOne(x => x.ModelVersion).WithMany().HasForeignKey(x => x.ModelVersionId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne(x => x.Pipeline).WithMany().HasForeignKey(x => x.PipelineId).OnDelete(DeleteBehavior.Cascade);
        b.Property(x => x.PipelineName).HasMaxLength(100);
        b.Property(x => x.ModelName).HasMaxLength(128);
        b.Property(x => x.State).HasMaxLength(16);
        b.Property(x => x.FileName).HasMaxLength(256);
        b.Property(x => x.LabelColumn).HasMaxLength(256);
        b.Property(x => x.Error).HasMaxLength(4000);
        b.Property(x => x.Summary).HasMaxLength(1000);
        b.Property(x => x.JobId).HasMaxLength(64);
        b.Property(x => x.CreatedBy).HasMaxLength(256);
        b.HasIndex(x => new { x.ModelName, x.CreatedAt });
        b.HasIndex(x => new { x.PipelineName, x.CreatedAt });
        b.HasIndex(x => x.CreatedAt);
    }
}
