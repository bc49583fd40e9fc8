using Mds.Backend.Registry;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Explanations;

/// <summary>A kept explanation of one row of an inference record (computed once, on request).</summary>
public sealed class RecordExplanation
{
    public long Id { get; set; }
    public Guid RecordId { get; set; }
    public int Row { get; set; }
    public long ModelVersionId { get; set; }
    public ModelVersion ModelVersion { get; set; } = null!;
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The <see cref="Contracts.Api.ExplanationDto"/> as JSON.</summary>
    public required string Json { get; set; }
}

internal sealed class RecordExplanationConfiguration : IEntityTypeConfiguration<RecordExplanation>
{
    public void Configure(EntityTypeBuilder<RecordExplanation> b)
    {
        b.ToTable("explanations");
        b.HasOne(e => e.ModelVersion).WithMany().HasForeignKey(e => e.ModelVersionId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(e => new { e.RecordId, e.Row }).IsUnique();
        b.HasIndex(e => e.CreatedAt);
        b.Property(e => e.Json).HasColumnType("jsonb");
    }
}
