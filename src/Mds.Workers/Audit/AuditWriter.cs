using System.Diagnostics.Metrics;
using Mds.Workers.Cluster;
using Mds.Workers.Inference;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Mds.Workers.Audit;

/// <summary>
/// Writes queued inference records to <c>inference_records</c> in batches, one transaction each. A batch's first attempt
/// is one binary COPY straight into the table: it commits once or not at all. A retry may follow a commit whose answer
/// was lost on the wire, so retries (and the last writes at shutdown) COPY into a session temp table and then
/// <c>INSERT … ON CONFLICT DO NOTHING</c>: written again without duplicates. When the database is away the batch is kept
/// and retried (1 s, doubling to 15 s) while new records wait in the buffer; nothing is dropped unless the buffer
/// overflows (<see cref="AuditLog"/>).
/// </summary>
internal sealed partial class AuditWriter : BackgroundService
{
    // Encoded rows are handed to the COPY in chunks of about this size.
    private const int CopyChunkBytes = 1024 * 1024;

    private const string Columns = "\"Id\", \"Time\", \"RequestId\", \"ModelName\", \"Version\", \"Worker\", \"Status\", \"LatencyMs\", \"Caller\", \"TraceId\", \"Error\", \"Request\", \"Response\"";

    // The retries' staging table, spelled out: LIKE inference_records would need SELECT on the audit log, which the
    // workers' database role does not have (it may only insert). The types match the columns COPY writes.
    private const string StageTableSql = """
        CREATE TEMP TABLE IF NOT EXISTS audit_stage ("Id" uuid, "Time" timestamptz, "RequestId" text, "ModelName" text,
          "Version" integer, "Worker" text, "Status" integer, "LatencyMs" double precision, "Caller" text, "TraceId" text,
          "Error" text, "Request" jsonb, "Response" jsonb) ON COMMIT DELETE ROWS
        """;

    private readonly AuditLog _log;
    private readonly AuditOptions _options;
    private readonly WorkerIdentity _identity;
    private readonly NpgsqlDataSource? _dataSource;
    private readonly Counter<long> _written;
    private readonly Histogram<double> _batchSeconds;
    private readonly ILogger<AuditWriter> _logger;

    // The batch being filled or written; a stop that interrupts it leaves it here for StopAsync.
    private readonly List<InferenceRecord> _batch;

    // Encodes each batch (reused: there is one writer loop).
    private readonly AuditCopyEncoder _encoder;

    public AuditWriter(AuditLog log, IOptions<AuditOptions> options, IOptions<ClusterOptions> cluster, WorkerIdentity identity, IMeterFactory meters, ILogger<AuditWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(meters);
        _log = log;
        _options = options.Value;
        _identity = identity;
        _logger = logger;
        string? connectionString = _options.ConnectionString ?? cluster.Value.ConnectionString;
        _dataSource = _options.Enabled && connectionString is not null ? NpgsqlDataSource.Create(connectionString) : null;
        var meter = meters.Create(WorkerMetrics.MeterName);
        _written = meter.CreateCounter<long>("audit_records_written_total", description: "Inference records written to the audit table.");
        _batchSeconds = meter.CreateHistogram<double>("audit_write_duration_seconds", description: "Time to write one batch of inference records.");
        _batch = new List<InferenceRecord>(_options.BatchSize);
        _encoder = new AuditCopyEncoder(_options.MaxPayloadBytes);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_dataSource is null)
        {
            return;
        }

        var batch = _batch;
        var reader = _log.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await FillAsync(reader, batch, stoppingToken).ConfigureAwait(false);
                await WriteWithRetryAsync(batch, stoppingToken).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping: StopAsync drains what is left
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_dataSource is null)
        {
            return;
        }

        // A batch the stop interrupted (perhaps half written: hence the idempotent path) and whatever is still queued
        // get one last chance while the host allows.
        _log.Complete();
        var rest = _batch;
        while (!cancellationToken.IsCancellationRequested)
        {
            int taken = 0;
            while (rest.Count < _options.BatchSize && _log.Reader.TryRead(out var record))
            {
                rest.Add(record);
                taken++;
            }

            _log.Taken(taken);
            if (rest.Count == 0)
            {
                break;
            }

            try
            {
                await WriteAsync(rest, idempotent: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e) || e is OperationCanceledException)
            {
                LogLostAtShutdown(rest.Count + _log.Depth, e.Message);
                return;
            }

            rest.Clear();
        }

        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Called when a record is waiting: takes records until the batch is full or the flush interval is up. It looks at
    /// the buffer a few times per interval instead of waiting for the next record: at thousands of requests a second,
    /// waking this loop for each record (and the request thread handing it over) cost more CPU than writing the records.
    /// </summary>
    private async Task FillAsync(System.Threading.Channels.ChannelReader<InferenceRecord> reader, List<InferenceRecord> batch, CancellationToken ct)
    {
        var pollInterval = TimeSpan.FromTicks(Math.Max(_options.FlushInterval.Ticks / 8, TimeSpan.TicksPerMillisecond));
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        int taken = 0;
        try
        {
            while (true)
            {
                while (batch.Count < _options.BatchSize && reader.TryRead(out var record))
                {
                    batch.Add(record);
                    taken++;
                }

                var left = _options.FlushInterval - System.Diagnostics.Stopwatch.GetElapsedTime(started);
                if (batch.Count >= _options.BatchSize || left <= TimeSpan.Zero || reader.Completion.IsCompleted)
                {
                    break;
                }

                await Task.Delay(left < pollInterval ? left : pollInterval, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _log.Taken(taken);
        }
    }

    private async Task WriteWithRetryAsync(List<InferenceRecord> batch, CancellationToken ct)
    {
        var delay = TimeSpan.FromSeconds(1);
        for (int failures = 0; ; failures++)
        {
            try
            {
                await WriteAsync(batch, idempotent: failures > 0, ct).ConfigureAwait(false);
                if (failures > 0)
                {
                    LogRecovered(batch.Count, failures);
                }

                return;
            }
            catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
            {
                if (failures == 0 || failures % 10 == 0)
                {
                    LogWriteFailed(batch.Count, _log.Depth, e.Message);
                }

                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(15, delay.TotalSeconds * 2));
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="batch"/> in one transaction: straight into the table, or, when <paramref name="idempotent"/>,
    /// through a staging table so that rows already written (by an attempt whose commit answer was lost) are skipped.
    /// </summary>
    private async Task WriteAsync(List<InferenceRecord> batch, bool idempotent, CancellationToken ct)
    {
        if (batch.Count == 0)
        {
            return;
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        await using var connection = await _dataSource!.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        if (idempotent)
        {
            await using var create = new NpgsqlCommand(StageTableSql, connection, tx);
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        string table = idempotent ? "audit_stage" : "inference_records";
        await using (var copy = await connection.BeginRawBinaryCopyAsync($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
        {
            var encoder = _encoder;
            encoder.Clear();
            encoder.WriteHeader();
            foreach (var record in batch)
            {
                encoder.WriteRow(record, _identity.Name);
                if (encoder.WrittenCount >= CopyChunkBytes)
                {
                    await copy.WriteAsync(encoder.Written, ct).ConfigureAwait(false);
                    encoder.Clear();
                }
            }

            encoder.WriteTrailer();
            await copy.WriteAsync(encoder.Written, ct).ConfigureAwait(false);
            encoder.Clear();
        }

        if (idempotent)
        {
            await using var insert = new NpgsqlCommand($"INSERT INTO inference_records ({Columns}) SELECT {Columns} FROM audit_stage ON CONFLICT DO NOTHING", connection, tx);
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        _written.Add(batch.Count);
        _batchSeconds.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static bool IsTransient(Exception e) =>
        e is NpgsqlException or System.Net.Sockets.SocketException or IOException or TimeoutException or InvalidOperationException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit: writing {Count} inference records failed ({Reason}); kept and retried ({Waiting} more waiting in the buffer)")]
    private partial void LogWriteFailed(int count, int waiting, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit: the database is back; {Count} inference records written after {Failures} failed attempts")]
    private partial void LogRecovered(int count, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: {Count} inference records not written at shutdown ({Reason})")]
    private partial void LogLostAtShutdown(int count, string reason);
}
