using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Scheduling;

/// <summary>
/// One backend's view of one version's load through its gateway over its last report interval: how many requests were
/// outstanding on average and the p95 latency of those answered. Every backend writes its own rows; the reconciler
/// (whichever backend runs it) sums the fresh ones, so several backends agree on the load.
/// </summary>
public sealed class GatewayLoadReport
{
    public long Id { get; set; }
    /// <summary>The reporting backend process (host/pid/start).</summary>
    public required string Backend { get; set; }
    public long ModelVersionId { get; set; }
    /// <summary>Requests outstanding through this backend's gateway, averaged over the interval.</summary>
    public double Outstanding { get; set; }
    /// <summary>Answers in the interval.</summary>
    public int Requests { get; set; }
    /// <summary>p95 of their latency in milliseconds; null when none was answered.</summary>
    public double? P95Ms { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A change of a version's desired replicas: by the autoscaler (with the reason) or by a user.</summary>
public sealed class ScalingEvent
{
    public long Id { get; set; }
    public long ModelVersionId { get; set; }
    public DateTimeOffset At { get; set; }
    public int FromReplicas { get; set; }
    public int ToReplicas { get; set; }
    /// <summary>Why, in words: "outstanding 14.2 per replica > 4 for 10 s → 2 replicas".</summary>
    public required string Reason { get; set; }
    /// <summary>"autoscaler", or the user who set the replicas.</summary>
    public required string By { get; set; }
}

internal sealed class GatewayLoadReportConfiguration : IEntityTypeConfiguration<GatewayLoadReport>
{
    public void Configure(EntityTypeBuilder<GatewayLoadReport> b)
    {
        b.ToTable("gateway_load");
        b.Property(r => r.Backend).HasMaxLength(200);
        b.HasIndex(r => new { r.Backend, r.ModelVersionId }).IsUnique();
        b.HasIndex(r => r.UpdatedAt);
    }
}

internal sealed class ScalingEventConfiguration : IEntityTypeConfiguration<ScalingEvent>
{
    public void Configure(EntityTypeBuilder<ScalingEvent> b)
    {
        b.ToTable("scaling_events");
        b.Property(e => e.Reason).HasMaxLength(1000);
        b.Property(e => e.By).HasMaxLength(256);
        b.HasOne<Registry.ModelVersion>().WithMany().HasForeignKey(e => e.ModelVersionId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(e => new { e.ModelVersionId, e.At });
    }
}
