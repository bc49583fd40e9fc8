using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Streams;

/// <summary>
/// Whether a model or pipeline is fed from its input subject (<c>PUT …/streaming</c>, a pipeline spec's
/// <c>streaming: true</c>): every backend's <see cref="StreamProcessor"/> consumes the enabled ones.
/// </summary>
public sealed class StreamSetting
{
    public long Id { get; set; }

    /// <summary><see cref="StreamResource.Models"/> or <see cref="StreamResource.Pipelines"/>.</summary>
    public required string Kind { get; set; }

    public required string Name { get; set; }

    public bool Enabled { get; set; }

    public DateTimeOffset ChangedAt { get; set; }

    /// <summary>Who last enabled or disabled it.</summary>
    public string? ChangedBy { get; set; }
}

/// <summary>
/// One backend's counters for one stream, written every few seconds by its <see cref="StreamProcessor"/>. Totals are
/// summed over every row; in-flight, lag, rates and state come from rows written within the last 30 s (live backends).
/// </summary>
public sealed class StreamCounter
{
    public long Id { get; set; }
    public required string Kind { get; set; }
    public required string Name { get; set; }

    /// <summary>The backend process (host, pid and start), unique per process start.</summary>
    public required string Backend { get; set; }

    public long Received { get; set; }
    public long Published { get; set; }
    public long Errors { get; set; }
    public long Redeliveries { get; set; }
    public long InFlight { get; set; }
    public long Lag { get; set; }
    public double ReceivedPerSecond { get; set; }
    public double PublishedPerSecond { get; set; }

    /// <summary><see cref="Mds.Contracts.Api.StreamStates"/> as this backend sees it.</summary>
    public required string State { get; set; }

    public string? Reason { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class StreamSettingConfiguration : IEntityTypeConfiguration<StreamSetting>
{
    public void Configure(EntityTypeBuilder<StreamSetting> b)
    {
        b.ToTable("stream_settings");
        b.Property(x => x.Kind).HasMaxLength(16);
        b.Property(x => x.Name).HasMaxLength(200);
        b.Property(x => x.ChangedBy).HasMaxLength(256);
        b.HasIndex(x => new { x.Kind, x.Name }).IsUnique();
    }
}

internal sealed class StreamCounterConfiguration : IEntityTypeConfiguration<StreamCounter>
{
    public void Configure(EntityTypeBuilder<StreamCounter> b)
    {
        b.ToTable("stream_counters");
        b.Property(x => x.Kind).HasMaxLength(16);
        b.Property(x => x.Name).HasMaxLength(200);
        b.Property(x => x.Backend).HasMaxLength(200);
        b.Property(x => x.State).HasMaxLength(16);
        b.Property(x => x.Reason).HasMaxLength(1000);
        b.HasIndex(x => new { x.Kind, x.Name, x.Backend }).IsUnique();
    }
}
