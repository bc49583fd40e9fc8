using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Mds.Backend.Audit;

/// <summary>
/// One inference as a worker recorded it (workers write these with binary COPY; the backend only reads them and adds
/// outlier scores). The table is partitioned by day on <see cref="Time"/>: see <see cref="AuditPartitions"/>.
/// </summary>
public sealed class InferenceRecord
{
    public Guid Id { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string RequestId { get; set; }
    public required string ModelName { get; set; }
    public int? Version { get; set; }
    public required string Worker { get; set; }
    public int Status { get; set; }
    public double LatencyMs { get; set; }
    public string? Caller { get; set; }
    public string? TraceId { get; set; }
    public string? Error { get; set; }
    /// <summary>
    /// The V2 request as JSON (or, over the size limit, its tensors' names, types and shapes). Stored as <c>json</c>, not
    /// <c>jsonb</c> (migration AuditCost): nothing queries inside it, and jsonb's parse on insert was a quarter of
    /// PostgreSQL's cost per record.
    /// </summary>
    public string? Request { get; set; }
    /// <summary>The V2 response as JSON (likewise).</summary>
    public string? Response { get; set; }
    /// <summary>Outlier score against the version's reference dataset, when it has one.</summary>
    public double? OutlierScore { get; set; }
    public bool? IsOutlier { get; set; }
    /// <summary>The experiment the gateway routed the call for (null outside experiments).</summary>
    public string? Experiment { get; set; }
    /// <summary>The experiment's candidate (its key: name or name@version) the call went to, or the mirror's.</summary>
    public string? Candidate { get; set; }
    /// <summary>Whether the call was the experiment mirror's shadow copy (its request id ends in <c>.mirror</c>).</summary>
    public bool Mirror { get; set; }
}

internal sealed class InferenceRecordConfiguration : IEntityTypeConfiguration<InferenceRecord>
{
    public void Configure(EntityTypeBuilder<InferenceRecord> b)
    {
        // Created by hand in the migration (EF Core cannot declare a partitioned table); mapped here for queries.
        b.ToTable("inference_records", t => t.ExcludeFromMigrations());
        // (Time, Id): the primary key also serves "newest first" and time ranges, so no separate index on Time.
        b.HasKey(r => new { r.Time, r.Id });
        b.Property(r => r.Request).HasColumnType("json");
        b.Property(r => r.Response).HasColumnType("json");
    }
}

/// <summary>Finding records by id.</summary>
public static class InferenceRecordQueries
{
    /// <summary>
    /// The record with <paramref name="id"/>. Workers make ids as UUIDv7 of the record's time, so the lookup is one
    /// millisecond of the primary key (Time, Id); an id of another kind is looked for in every partition.
    /// </summary>
    public static IQueryable<InferenceRecord> WithId(this IQueryable<InferenceRecord> records, Guid id)
    {
        if (TimeOf(id) is { } from)
        {
            var to = from.AddMilliseconds(1);
            return records.Where(r => r.Id == id && r.Time >= from && r.Time < to);
        }

        return records.Where(r => r.Id == id);
    }

    /// <summary>The millisecond a UUIDv7 was made for; null for other versions.</summary>
    public static DateTimeOffset? TimeOf(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        if (bytes[6] >> 4 != 7)
        {
            return null;
        }

        long ms = 0;
        for (int i = 0; i < 6; i++)
        {
            ms = (ms << 8) | bytes[i];
        }

        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }
}
