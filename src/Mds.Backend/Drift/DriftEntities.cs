using Mds.Backend.Registry;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Drift;

/// <summary>A stored drift report (see <see cref="Contracts.Api.DriftReportDto"/> for the fields' meaning).</summary>
public sealed class DriftReportRecord
{
    public long Id { get; set; }
    public long ModelVersionId { get; set; }
    public ModelVersion ModelVersion { get; set; } = null!;
    public DateTimeOffset Time { get; set; }
    public required string Trigger { get; set; }
    public DateTimeOffset WindowFrom { get; set; }
    public DateTimeOffset WindowTo { get; set; }
    public int Records { get; set; }
    public int Rows { get; set; }
    public int ReferenceRows { get; set; }
    public double Alpha { get; set; }
    public double Threshold { get; set; }
    public bool Drifted { get; set; }

    /// <summary>The per-feature results with histograms, as JSON (a list of <see cref="Contracts.Api.FeatureDriftDto"/>).</summary>
    public required string FeaturesJson { get; set; }

    /// <summary>The multivariate test as JSON (<see cref="Contracts.Api.MultivariateDriftDto"/>), when run.</summary>
    public string? MultivariateJson { get; set; }
}

internal sealed class DriftReportRecordConfiguration : IEntityTypeConfiguration<DriftReportRecord>
{
    public void Configure(EntityTypeBuilder<DriftReportRecord> b)
    {
        b.ToTable("drift_reports");
        b.HasOne(r => r.ModelVersion).WithMany().HasForeignKey(r => r.ModelVersionId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(r => new { r.ModelVersionId, r.Time });
        b.Property(r => r.Trigger).HasMaxLength(16);
        b.Property(r => r.FeaturesJson).HasColumnType("jsonb");
        b.Property(r => r.MultivariateJson).HasColumnType("jsonb");
    }
}
