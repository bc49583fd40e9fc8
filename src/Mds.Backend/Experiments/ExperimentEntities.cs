using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Experiments;

/// <summary>
/// An experiment: a routing rule over candidates. The spec is kept as submitted (canonical JSON); what changes over its
/// life (weights, rollout step, state) lives in its own columns, and every change is an <see cref="ExperimentEvent"/>.
/// </summary>
public sealed class Experiment
{
    public long Id { get; set; }
    public required string Name { get; set; }
    /// <summary><c>model</c> or <c>pipeline</c>.</summary>
    public required string ResourceType { get; set; }
    /// <summary>The spec as canonical JSON (<see cref="Mds.Contracts.Api.ExperimentSpec"/>).</summary>
    public required string SpecJson { get; set; }
    /// <summary>Candidate key → current weight (JSON object).</summary>
    public required string WeightsJson { get; set; }
    /// <summary>The default candidate's key, if any.</summary>
    public string? Default { get; set; }
    /// <summary>The resource whose own endpoint the experiment takes over (the default's model or pipeline name), while it runs.</summary>
    public string? TakesOver { get; set; }
    /// <summary>Running, Stopped, Promoted or RolledBack (Active/Pending are worked out live from the replicas).</summary>
    public required string State { get; set; }
    /// <summary>Why it ended.</summary>
    public string? Reason { get; set; }
    /// <summary>The candidate promoted, once promoted.</summary>
    public string? PromotedTo { get; set; }
    public int RolloutStep { get; set; } = -1;
    public DateTimeOffset? RolloutStepStartedAt { get; set; }
    /// <summary>Running, Promoted or RolledBack; null without a rollout.</summary>
    public string? RolloutState { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public List<ExperimentEvent> Events { get; set; } = [];
}

/// <summary>One change in an experiment's history.</summary>
public sealed class ExperimentEvent
{
    public long Id { get; set; }
    public long ExperimentId { get; set; }
    public Experiment Experiment { get; set; } = null!;
    public DateTimeOffset At { get; set; }
    /// <summary>created, weights, rollout-step, promoted, stopped, rolled-back.</summary>
    public required string Kind { get; set; }
    public required string Message { get; set; }
    public string? By { get; set; }
}

/// <summary>
/// One routed call (or mirror copy) of an experiment, written in batches by <see cref="ExperimentCallLog"/>; the
/// results are computed from these rows and feedback (joined on <see cref="RequestId"/>).
/// </summary>
public sealed class ExperimentCall
{
    public long Id { get; set; }
    public required string Experiment { get; set; }
    /// <summary>The candidate's key, or the mirror's key.</summary>
    public required string Candidate { get; set; }
    public bool IsMirror { get; set; }
    /// <summary>The caller's request id (a mirror copy's row carries the original request's id too).</summary>
    public required string RequestId { get; set; }
    /// <summary>The HTTP status the candidate answered; 0 = no answer.</summary>
    public int Status { get; set; }
    public double LatencyMs { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>The predicted label, or the first output's first value, as text.</summary>
    public string? Predicted { get; set; }
    /// <summary>The first numeric output's first value.</summary>
    public double? Score { get; set; }
}

internal sealed class ExperimentConfiguration : IEntityTypeConfiguration<Experiment>
{
    public void Configure(EntityTypeBuilder<Experiment> b)
    {
        b.ToTable("experiments");
        b.Property(x => x.Name).HasMaxLength(100);
        b.HasIndex(x => x.Name).IsUnique();
        b.Property(x => x.ResourceType).HasMaxLength(16);
        b.Property(x => x.SpecJson).HasColumnType("jsonb");
        b.Property(x => x.WeightsJson).HasColumnType("jsonb");
        b.Property(x => x.Default).HasMaxLength(200);
        b.Property(x => x.TakesOver).HasMaxLength(200);
        b.Property(x => x.State).HasMaxLength(16);
        b.Property(x => x.Reason).HasMaxLength(4000);
        b.Property(x => x.PromotedTo).HasMaxLength(200);
        b.Property(x => x.RolloutState).HasMaxLength(16);
        b.Property(x => x.CreatedBy).HasMaxLength(256);
        b.HasMany(x => x.Events).WithOne(e => e.Experiment).HasForeignKey(e => e.ExperimentId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ExperimentEventConfiguration : IEntityTypeConfiguration<ExperimentEvent>
{
    public void Configure(EntityTypeBuilder<ExperimentEvent> b)
    {
        b.ToTable("experiment_events");
        b.Property(x => x.Kind).HasMaxLength(32);
        b.Property(x => x.Message).HasMaxLength(4000);
        b.Property(x => x.By).HasMaxLength(256);
        b.HasIndex(x => new { x.ExperimentId, x.At });
    }
}

internal sealed class ExperimentCallConfiguration : IEntityTypeConfiguration<ExperimentCall>
{
    public void Configure(EntityTypeBuilder<ExperimentCall> b)
    {
        b.ToTable("experiment_calls");
        b.Property(x => x.Id).UseIdentityAlwaysColumn();
        b.Property(x => x.Experiment).HasMaxLength(100);
        b.Property(x => x.Candidate).HasMaxLength(200);
        b.Property(x => x.RequestId).HasMaxLength(128);
        b.Property(x => x.Predicted).HasMaxLength(256);
        b.HasIndex(x => new { x.Experiment, x.At });
        b.HasIndex(x => new { x.Experiment, x.RequestId });
    }
}
