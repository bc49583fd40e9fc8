using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Mds.Workers.Inference;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Audit;

/// <summary>
/// The bounded buffer between requests and the audit writer, bounded in bytes (each record's estimated size,
/// <see cref="AuditOptions.MaxBufferBytes"/>) and in records. Adding never blocks and never throws: when the buffer is
/// full (the database slow or away and the spill files full or unwritable) the record is dropped, counted in
/// <c>mds_audit_records_dropped_total</c> and logged (at most once a minute, with the count since the last message).
/// </summary>
internal sealed partial class AuditLog
{
    private readonly Channel<QueuedRecord> _channel;
    private readonly Counter<long> _dropped;
    private readonly ILogger<AuditLog> _log;
    private readonly bool _enabled;
    private readonly long _maxBytes;
    private long _bytes;
    private long _droppedSinceLog;
    private long _lastDropLog = long.MinValue;
    private int _depth;

    public AuditLog(IOptions<AuditOptions> options, IMeterFactory meters, ILogger<AuditLog> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _log = log;
        _enabled = options.Value.Enabled;
        _maxBytes = options.Value.MaxBufferBytes;
        _channel = Channel.CreateBounded<QueuedRecord>(new BoundedChannelOptions(options.Value.BufferCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of waiting: the drop is ours to count
            SingleReader = true,
            SingleWriter = false,
        });
        var meter = meters.Create(WorkerMetrics.MeterName);
        _dropped = meter.CreateCounter<long>("audit_records_dropped_total", description: "Inference records dropped because the audit buffer was full.");
        meter.CreateObservableGauge("audit_buffer_records", () => Volatile.Read(ref _depth), description: "Inference records waiting to be written.");
        meter.CreateObservableGauge("audit_buffer_bytes", () => Volatile.Read(ref _bytes), description: "Estimated bytes of the inference records waiting to be written.");
    }

    public bool Enabled => _enabled;

    public ChannelReader<QueuedRecord> Reader => _channel.Reader;

    /// <summary>Records waiting (queued, not yet taken by the writer).</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>Estimated bytes waiting (queued, not yet taken by the writer).</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Above this many bytes waiting, the writer spills instead of waiting for the database.</summary>
    public long HighWaterBytes => _maxBytes / 2;

    /// <summary>Queues <paramref name="record"/>; drops and counts it when the buffer is full.</summary>
    public void Add(InferenceRecord record)
    {
        if (!_enabled)
        {
            return;
        }

        long size = AuditCopyEncoder.EstimateBytes(record);
        if (Volatile.Read(ref _bytes) + size <= _maxBytes && _channel.Writer.TryWrite(new QueuedRecord(record, size)))
        {
            Interlocked.Increment(ref _depth);
            Interlocked.Add(ref _bytes, size);
            return;
        }

        Dropped(1);
    }

    /// <summary>Counts (and logs, at most once a minute) records lost: the buffer or the spill files full.</summary>
    public void Dropped(int count)
    {
        _dropped.Add(count);
        Interlocked.Add(ref _droppedSinceLog, count);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref _lastDropLog);
        if (now - last >= 60_000 && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            LogDropped(Interlocked.Exchange(ref _droppedSinceLog, 0));
        }
    }

    /// <summary>Called by the writer for each record it takes out of the buffer.</summary>
    public void Taken(QueuedRecord queued)
    {
        Interlocked.Decrement(ref _depth);
        Interlocked.Add(ref _bytes, -queued.Bytes);
    }

    /// <summary>Stops taking records (at shutdown, so the writer can drain what is left).</summary>
    public void Complete() => _channel.Writer.TryComplete();

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit buffer or spill files full: {Dropped} inference records dropped since the last message (mds_audit_records_dropped_total counts them all)")]
    private partial void LogDropped(long dropped);
}

/// <summary>A record in the buffer with its estimated size, counted once as it goes in and once as it comes out.</summary>
internal readonly record struct QueuedRecord(InferenceRecord Record, long Bytes);

/// <summary>Registers the audit log: options, the buffer, and the writer.</summary>
internal static class AuditExtensions
{
    public static IHostApplicationBuilder AddAudit(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddHostedService<AuditWriter>();
        return builder;
    }
}
