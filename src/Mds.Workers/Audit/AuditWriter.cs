using System.Buffers;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Mds.Workers.Cluster;
using Mds.Workers.Inference;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Mds.Workers.Audit;

/// <summary>
/// Writes queued inference records to <c>inference_records</c> in batches, one transaction each. A batch's first attempt
/// is one binary COPY straight into the table: it commits once or not at all. A retry may follow a commit whose answer
/// was lost on the wire, so retries (and replays, and the last writes at shutdown) COPY into a session temp table and
/// then <c>INSERT … ON CONFLICT DO NOTHING</c>: written again without duplicates.
/// <para>
/// Records are encoded as they are taken from the buffer (one that cannot be encoded is rejected). A batch PostgreSQL
/// refuses for its data (SQLSTATE class 22, 23 or 54) is bisected: the good records are written, each bad one is
/// counted in <c>mds_audit_records_rejected_total</c> and logged once, by id, without its payload. Any other failure
/// (the connection, the server shutting down or away) keeps the batch and retries it (1 s, doubling to 15 s); when
/// writes have failed for <see cref="AuditOptions.SpillAfter"/> or the buffer is above its high-water mark, batches go
/// to the spill files (<see cref="AuditSpill"/>) instead, and are replayed from there — when the database answers again
/// and at start-up — before new records are written straight again.
/// </para>
/// </summary>
internal sealed partial class AuditWriter : BackgroundService
{
    // A batch is written once it holds this many encoded bytes, whatever BatchSize says.
    private const int MaxBatchBytes = 8 * 1024 * 1024;

    // Spilled batches replayed per turn of the loop, so the buffer keeps being drained meanwhile.
    private const int ReplayBatchesPerTurn = 10;

    private const string Columns = "\"Id\", \"Time\", \"RequestId\", \"ModelName\", \"Version\", \"Worker\", \"Status\", \"LatencyMs\", \"Caller\", \"TraceId\", \"Error\", \"Request\", \"Response\", \"Experiment\", \"Candidate\", \"Mirror\"";

    // The retries' staging table, spelled out: LIKE inference_records would need SELECT on the audit log, which the
    // workers' database role does not have (it may only insert). The types match the columns COPY writes: the payloads
    // json (audit_stage_json) since migration AuditCost, jsonb (audit_stage, the name it had) before it. A session's
    // temp table outlives the transaction, so each type has its own name.
    private static string StageTableSql(bool jsonb) => $"""
        CREATE TEMP TABLE IF NOT EXISTS {StageTable(jsonb)} ("Id" uuid, "Time" timestamptz, "RequestId" text, "ModelName" text,
          "Version" integer, "Worker" text, "Status" integer, "LatencyMs" double precision, "Caller" text, "TraceId" text,
          "Error" text, "Request" {(jsonb ? "jsonb" : "json")}, "Response" {(jsonb ? "jsonb" : "json")}, "Experiment" text, "Candidate" text, "Mirror" boolean) ON COMMIT DELETE ROWS
        """;

    private static string StageTable(bool jsonb) => jsonb ? "audit_stage" : "audit_stage_json";

    // The payload columns' type, read in the transaction that writes, once it holds its lock on the table: a migration
    // that changes the type (AuditCost: jsonb to json) waits for the write, or the write for it, never the worst of both.
    private const string PayloadTypeSql = """
        LOCK TABLE ONLY inference_records IN ROW EXCLUSIVE MODE;
        SELECT atttypid = 'jsonb'::regtype FROM pg_attribute WHERE attrelid = 'inference_records'::regclass AND attname = 'Request'
        """;

    private static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastDelay = TimeSpan.FromSeconds(15);

    private readonly AuditLog _log;
    private readonly AuditOptions _options;
    private readonly WorkerIdentity _identity;
    private readonly NpgsqlDataSource? _dataSource;
    private readonly Counter<long> _written;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _spilled;
    private readonly Histogram<double> _batchSeconds;
    private readonly ILogger<AuditWriter> _logger;

    // The batch being filled or written, encoded (row i ends at _ends[i] in _encoder.Written); a stop that interrupts
    // it leaves it here for StopAsync.
    private readonly AuditCopyEncoder _encoder;
    private readonly List<int> _ends = [];

    // A batch whose payloads were encoded for the other column type, rewritten for this one (rare: see WriteAsync).
    private readonly ArrayBufferWriter<byte> _converted = new(64 * 1024);

    // A chunk read back from the spill files.
    private readonly ArrayBufferWriter<byte> _replayData = new(64 * 1024);
    private readonly List<int> _replayEnds = [];

    private readonly IHostApplicationLifetime _lifetime;

    private AuditSpill? _spill;
    private TimeSpan _probeDelay = FirstDelay;
    private long _nextProbe;
    private int _probeFailures;
    private long _replayed;

    public AuditWriter(AuditLog log, IOptions<AuditOptions> options, IOptions<ClusterOptions> cluster, WorkerIdentity identity, IMeterFactory meters, ILogger<AuditWriter> logger, IHostApplicationLifetime lifetime)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        _lifetime = lifetime;
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
        _rejected = meter.CreateCounter<long>("audit_records_rejected_total", description: "Inference records PostgreSQL refused for their data (or that could not be encoded), each logged once.");
        _spilled = meter.CreateCounter<long>("audit_records_spilled_total", description: "Inference records written to the local spill files while the database was down or slow.");
        meter.CreateObservableGauge("audit_spill_bytes", () => _spill?.Bytes ?? 0, description: "Bytes in the audit spill files, waiting to be replayed.");
        _batchSeconds = meter.CreateHistogram<double>("audit_write_duration_seconds", description: "Time to write one batch of inference records.");
        _encoder = new AuditCopyEncoder(_options.MaxPayloadBytes);
    }

    /// <summary>The spill directory: the option, or <c>audit-spill</c> under the worker's cache directory.</summary>
    public string SpillDirectory => _options.SpillDirectory ?? Path.Combine(_identity.CacheDirectory, "audit-spill");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_dataSource is null)
        {
            return;
        }

        // The default spill directory is under the worker's cache directory, which is known once the server has its
        // address (the worker's name may come from it): start once the host has started.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (_lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }

        _spill ??= OpenSpill();
        var reader = _log.Reader;
        try
        {
            while (true)
            {
                if (_spill?.HasPending != true)
                {
                    if (!await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                else
                {
                    await WaitForRecordsOrProbeAsync(reader, stoppingToken).ConfigureAwait(false);
                }

                if (reader.TryPeek(out _))
                {
                    await FillAsync(reader, stoppingToken).ConfigureAwait(false);
                }

                if (_spill?.HasPending == true && System.Diagnostics.Stopwatch.GetTimestamp() >= _nextProbe)
                {
                    await ReplayAsync(stoppingToken).ConfigureAwait(false);
                }

                if (_ends.Count > 0)
                {
                    await WriteOrSpillAsync(stoppingToken).ConfigureAwait(false);
                    ClearBatch();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping: StopAsync drains what is left
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // Not expected (every known failure is handled above); the audit log must not stop: keep what can be kept
            // and go on with a fresh loop.
            LogUnexpected(e);
            if (_ends.Count > 0 && Spill())
            {
                ClearBatch();
            }

            await Task.Delay(FirstDelay, stoppingToken).ConfigureAwait(false);
            await ExecuteAsync(stoppingToken).ConfigureAwait(false);
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
        // get one last chance while the host allows; what the database does not take is spilled, to be replayed at the
        // next start.
        _log.Complete();
        bool databaseAway = _spill?.HasPending == true;
        while (true)
        {
            while (_ends.Count < _options.BatchSize && _encoder.WrittenCount < MaxBatchBytes && _log.Reader.TryRead(out var queued))
            {
                _log.Taken(queued);
                Encode(queued.Record);
            }

            if (_ends.Count == 0)
            {
                break;
            }

            if (!databaseAway && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await WriteOrBisectAsync(_encoder.Written, _ends, 0, _ends.Count, idempotent: true, cancellationToken).ConfigureAwait(false);
                    ClearBatch();
                    continue;
                }
                catch (Exception e) when (IsRetryable(e) || e is OperationCanceledException)
                {
                    databaseAway = true;
                    LogSpillingAtShutdown(e.Message);
                }
            }

            if (!Spill())
            {
                LogLostAtShutdown(_ends.Count + _log.Depth, "the spill file could not be written");
                break;
            }

            ClearBatch();
        }

        _spill?.Dispose();
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private AuditSpill? OpenSpill()
    {
        try
        {
            var spill = new AuditSpill(SpillDirectory, _options.MaxSpillBytes, _logger);
            if (spill.HasPending)
            {
                LogSpillFound(spill.Bytes, SpillDirectory);
            }

            return spill;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogSpillUnavailable(SpillDirectory, e.Message);
            return null;
        }
    }

    private async Task WaitForRecordsOrProbeAsync(ChannelReader<QueuedRecord> reader, CancellationToken ct)
    {
        var due = System.Diagnostics.Stopwatch.GetElapsedTime(System.Diagnostics.Stopwatch.GetTimestamp(), _nextProbe);
        if (due <= TimeSpan.Zero || reader.TryPeek(out _))
        {
            return;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(due);
        try
        {
            if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false))
            {
                await Task.Delay(due, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // time to probe
        }
    }

    /// <summary>
    /// Called when a record is waiting: takes (and encodes) records until the batch is full or the flush interval is
    /// up. It looks at the buffer a few times per interval instead of waiting for the next record: at thousands of
    /// requests a second, waking this loop for each record (and the request thread handing it over) cost more CPU than
    /// writing the records.
    /// </summary>
    private async Task FillAsync(ChannelReader<QueuedRecord> reader, CancellationToken ct)
    {
        var pollInterval = TimeSpan.FromTicks(Math.Max(_options.FlushInterval.Ticks / 8, TimeSpan.TicksPerMillisecond));
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            while (_ends.Count < _options.BatchSize && _encoder.WrittenCount < MaxBatchBytes && reader.TryRead(out var queued))
            {
                _log.Taken(queued);
                Encode(queued.Record);
            }

            var left = _options.FlushInterval - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (_ends.Count >= _options.BatchSize || _encoder.WrittenCount >= MaxBatchBytes || left <= TimeSpan.Zero || reader.Completion.IsCompleted)
            {
                break;
            }

            await Task.Delay(left < pollInterval ? left : pollInterval, ct).ConfigureAwait(false);
        }
    }

    private void Encode(InferenceRecord record)
    {
        if (_encoder.TryWriteRow(record, _identity.Name) is { } error)
        {
            _rejected.Add(1);
            LogUnencodable(record.Id, error.GetType().Name, error.Message);
            return;
        }

        _ends.Add(_encoder.WrittenCount);
    }

    private void ClearBatch()
    {
        _encoder.Clear();
        _ends.Clear();
    }

    /// <summary>Writes the batch, retrying while the database is away; spills it when that lasts or the buffer fills.</summary>
    private async Task WriteOrSpillAsync(CancellationToken ct)
    {
        if ((_spill?.HasPending == true || _log.Bytes > _log.HighWaterBytes) && Spill())
        {
            return;
        }

        var delay = FirstDelay;
        long failingSince = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int failures = 0; ; failures++)
        {
            try
            {
                await WriteOrBisectAsync(_encoder.Written, _ends, 0, _ends.Count, idempotent: failures > 0, ct).ConfigureAwait(false);
                if (failures > 0)
                {
                    LogRecovered(_ends.Count, failures);
                }

                return;
            }
            catch (Exception e) when (IsRetryable(e) && !ct.IsCancellationRequested)
            {
                if (failures == 0 || failures % 10 == 0)
                {
                    LogWriteFailed(_ends.Count, _log.Depth, e.Message);
                }

                if ((System.Diagnostics.Stopwatch.GetElapsedTime(failingSince) >= _options.SpillAfter || _log.Bytes > _log.HighWaterBytes) && Spill())
                {
                    _probeDelay = delay;
                    _nextProbe = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
                    return;
                }

                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = delay * 2 < LastDelay ? delay * 2 : LastDelay;
            }
        }
    }

    /// <summary>Appends the batch to the spill files (what does not fit is dropped and counted); false when it cannot be written.</summary>
    private bool Spill()
    {
        if (_spill is null)
        {
            return false;
        }

        bool first = !_spill.HasPending;
        try
        {
            int spilled = _spill.Append(_encoder.Written.Span, _ends, 0, _ends.Count);
            _spilled.Add(spilled);
            if (spilled < _ends.Count)
            {
                _log.Dropped(_ends.Count - spilled);
            }

            if (first)
            {
                LogSpilling(SpillDirectory);
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogSpillFailed(_ends.Count, e.Message);
            return false;
        }
    }

    /// <summary>Replays a few chunks of the spill files; on a connection failure, schedules the next attempt.</summary>
    private async Task ReplayAsync(CancellationToken ct)
    {
        try
        {
            for (int i = 0; i < ReplayBatchesPerTurn; i++)
            {
                if (!_spill!.ReadChunk(_replayData, _replayEnds, _options.BatchSize, MaxBatchBytes))
                {
                    break;
                }

                if (_replayEnds.Count > 0)
                {
                    await WriteOrBisectAsync(_replayData.WrittenMemory, _replayEnds, 0, _replayEnds.Count, idempotent: true, ct).ConfigureAwait(false);
                }

                _spill.Commit();
                _replayed += _replayEnds.Count;
            }

            _probeDelay = FirstDelay;
            _probeFailures = 0;
            if (!_spill!.HasPending)
            {
                LogReplayed(_replayed);
                _replayed = 0;
            }
        }
        catch (Exception e) when (IsRetryable(e) && !ct.IsCancellationRequested)
        {
            if (_probeFailures++ % 10 == 0)
            {
                LogReplayFailed(_spill!.Bytes, e.Message);
            }

            _nextProbe = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(_probeDelay.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
            _probeDelay = _probeDelay * 2 < LastDelay ? _probeDelay * 2 : LastDelay;
        }
    }

    /// <summary>
    /// Writes rows <paramref name="from"/>..<paramref name="to"/>; when PostgreSQL refuses them for their data, writes
    /// each half on its own (idempotently: nothing was committed) down to the single bad rows, which are counted and
    /// logged. Connection and server failures propagate.
    /// </summary>
    private async Task WriteOrBisectAsync(ReadOnlyMemory<byte> data, List<int> ends, int from, int to, bool idempotent, CancellationToken ct)
    {
        try
        {
            await WriteAsync(data, ends, from, to, idempotent, ct).ConfigureAwait(false);
        }
        catch (PostgresException e) when (IsDataError(e))
        {
            if (to - from == 1)
            {
                _rejected.Add(1);
                LogRejected(AuditCopyEncoder.IdOf(AuditSpill.Row(data.Span, ends, from)), e.SqlState, e.MessageText);
                return;
            }

            int middle = from + ((to - from) / 2);
            await WriteOrBisectAsync(data, ends, from, middle, idempotent: true, ct).ConfigureAwait(false);
            await WriteOrBisectAsync(data, ends, middle, to, idempotent: true, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes rows <paramref name="from"/>..<paramref name="to"/> in one transaction: straight into the table, or, when
    /// <paramref name="idempotent"/>, through a staging table so that rows already written (by an attempt whose commit
    /// answer was lost, or before a spill file was replayed) are skipped.
    /// </summary>
    private async Task WriteAsync(ReadOnlyMemory<byte> data, List<int> ends, int from, int to, bool idempotent, CancellationToken ct)
    {
        if (to <= from)
        {
            return;
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        await using var connection = await _dataSource!.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        bool jsonb;
        await using (var type = new NpgsqlCommand(PayloadTypeSql, connection, tx))
        {
            jsonb = await type.ExecuteScalarAsync(ct).ConfigureAwait(false) is true;
        }

        // Records are encoded for the type last seen; a batch encoded for the other one (the type changed, or a spill
        // file from before the change) is rewritten first.
        _encoder.Jsonb = jsonb;
        int start = from == 0 ? 0 : ends[from - 1];
        var tuples = data[start..ends[to - 1]];
        if (!AuditCopyEncoder.PayloadsAre(tuples.Span, jsonb))
        {
            _converted.ResetWrittenCount();
            AuditCopyEncoder.ConvertPayloads(tuples.Span, jsonb, _converted);
            tuples = _converted.WrittenMemory;
        }

        if (idempotent)
        {
            await using var create = new NpgsqlCommand(StageTableSql(jsonb), connection, tx);
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        string table = idempotent ? StageTable(jsonb) : "inference_records";
        await using (var copy = await connection.BeginRawBinaryCopyAsync($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
        {
            await copy.WriteAsync(AuditCopyEncoder.Header, ct).ConfigureAwait(false);
            await copy.WriteAsync(tuples, ct).ConfigureAwait(false);
            await copy.WriteAsync(AuditCopyEncoder.Trailer, ct).ConfigureAwait(false);
        }

        if (idempotent)
        {
            await using var insert = new NpgsqlCommand($"INSERT INTO inference_records ({Columns}) SELECT {Columns} FROM {StageTable(jsonb)} ON CONFLICT DO NOTHING", connection, tx);
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await tx.CommitAsync(ct).ConfigureAwait(false);
        _written.Add(to - from);
        _batchSeconds.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>PostgreSQL refused the rows for what they hold (data exception, integrity violation, a size limit).</summary>
    internal static bool IsDataError(PostgresException e) =>
        e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal) || e.SqlState.StartsWith("54", StringComparison.Ordinal);

    /// <summary>
    /// Worth retrying with the same rows: the connection (refused, cut, timed out; 08xxx, 57P01–57P03) or any other
    /// server-side failure that is not about the rows' data (a missing table or grant is retried, and spilled, until
    /// an operator fixes it).
    /// </summary>
    internal static bool IsRetryable(Exception e) => e switch
    {
        PostgresException p => !IsDataError(p),
        NpgsqlException or System.Net.Sockets.SocketException or IOException or TimeoutException or InvalidOperationException => true,
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Critical, Message = "Audit: the writer failed unexpectedly; it goes on")]
    private partial void LogUnexpected(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit: writing {Count} inference records failed ({Reason}); kept and retried ({Waiting} more waiting in the buffer)")]
    private partial void LogWriteFailed(int count, int waiting, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit: the database is back; {Count} inference records written after {Failures} failed attempts")]
    private partial void LogRecovered(int count, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: {Count} inference records not written at shutdown ({Reason})")]
    private partial void LogLostAtShutdown(int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit: the database does not answer at shutdown ({Reason}); the records left are spilled, to be replayed at the next start")]
    private partial void LogSpillingAtShutdown(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: inference record {Id} refused by PostgreSQL ({SqlState}: {Reason}); dropped, the rest of its batch written (mds_audit_records_rejected_total)")]
    private partial void LogRejected(Guid id, string sqlState, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: inference record {Id} cannot be encoded ({Error}: {Reason}); dropped (mds_audit_records_rejected_total)")]
    private partial void LogUnencodable(Guid id, string error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit: the database is down or slow; records are spilled to {Directory} and replayed when it answers")]
    private partial void LogSpilling(string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: {Count} inference records could not be spilled ({Reason}); kept in memory and retried")]
    private partial void LogSpillFailed(int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit: replaying the spill files ({Bytes} bytes) failed ({Reason}); tried again later")]
    private partial void LogReplayFailed(long bytes, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit: {Count} spilled inference records replayed into the database; spill files deleted")]
    private partial void LogReplayed(long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit: {Bytes} bytes of spill files found in {Directory}; replayed when the database answers")]
    private partial void LogSpillFound(long bytes, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit: the spill directory {Directory} cannot be used ({Reason}); records wait in memory while the database is away")]
    private partial void LogSpillUnavailable(string directory, string reason);
}
