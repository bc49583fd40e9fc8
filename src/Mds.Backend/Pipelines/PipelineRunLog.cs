using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Writes pipeline run records off the request path: runs are queued (bounded; when full, records are dropped and
/// counted in <c>mds_pipeline_records_dropped_total</c>, never slowing a run) and inserted in batches. Tensors are
/// turned into JSON here, not on the request thread. Old records are deleted after <c>RunRetentionDays</c>.
/// </summary>
public sealed class PipelineRunLog : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private readonly Channel<(PipelineRun Run, InferenceRequest? Request, string? Caller, DateTimeOffset Time)> _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly PipelineOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<PipelineRunLog> _log;
    private readonly Counter<long> _dropped;
    private DateTimeOffset _lastCleanup = DateTimeOffset.MinValue;

    public PipelineRunLog(IServiceScopeFactory scopes, IOptions<PipelineOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<PipelineRunLog> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _scopes = scopes;
        _options = options.Value;
        _clock = clock;
        _log = log;
        _queue = Channel.CreateBounded<(PipelineRun, InferenceRequest?, string?, DateTimeOffset)>(
            new BoundedChannelOptions(_options.RunRecordQueue) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true }); // TryWrite answers false when full (a Drop* mode would report success and lose the record uncounted)
        _dropped = meters.Create("Mds").CreateCounter<long>("pipeline_records_dropped_total", description: "Pipeline run records dropped because the write queue was full.");
    }

    /// <summary>Queues <paramref name="run"/> for writing.</summary>
    public void Add(PipelineRun run, InferenceRequest? request, string? caller)
    {
        if (!_queue.Writer.TryWrite((run, request, caller, _clock.GetUtcNow())))
        {
            _dropped.Add(1);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PipelineRunRecord>(256);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                // Let a few more runs arrive: at a trickle of traffic one COPY per run costs PostgreSQL several times
                // more per record than one per batch (measured in the pipelines bench), and nobody waits for the record.
                if (_queue.Reader.Count < 256)
                {
                    await Task.Delay(Linger, _clock, stoppingToken).ConfigureAwait(false);
                }

                Drain(batch, 256);
                await WriteAsync(batch, stoppingToken).ConfigureAwait(false);
                batch.Clear();
                await CleanupAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is queued is written once more, for at most a few seconds, rather than dropped.
            Drain(batch, int.MaxValue);
            if (batch.Count > 0)
            {
                using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await CopyAsync(batch, last.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or IOException)
                {
                    _log.LogWarning(e, "{Count} pipeline run records could not be written before the backend stopped", batch.Count);
                }
            }
        }
    }

    private void Drain(List<PipelineRunRecord> batch, int max)
    {
        while (batch.Count < max && _queue.Reader.TryRead(out var item))
        {
            batch.Add(ToRecord(item.Run, item.Request, item.Caller, item.Time));
        }
    }

    private async Task WriteAsync(List<PipelineRunRecord> batch, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await CopyAsync(batch, ct).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or IOException && !ct.IsCancellationRequested)
            {
                // PostgreSQL restarting: wait and try again (records wait in memory meanwhile; the queue bounds them).
                if (attempt == 0 || attempt % 30 == 0)
                {
                    _log.LogWarning(e, "Writing {Count} pipeline run records failed; retrying", batch.Count);
                }

                await Task.Delay(TimeSpan.FromSeconds(Math.Min(1 + attempt, 5)), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One binary COPY for the batch (an EF Core insert costs several times more per row, and runs are as frequent as
    /// requests). Ids are UUIDv7 made here, so a retry after a COPY whose commit answer was lost could only add a
    /// duplicate key error, never a second row: such a batch is then written again row by row, skipping the ones present.
    /// </summary>
    private async Task CopyAsync(List<PipelineRunRecord> batch, CancellationToken ct)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var connection = (Npgsql.NpgsqlConnection)db.Database.GetDbConnection();
        await connection.OpenAsync(ct).ConfigureAwait(false);
        try
        {
            await using var copy = await connection.BeginBinaryImportAsync(
                "COPY pipeline_runs (\"Id\", \"Time\", \"Pipeline\", \"Version\", \"RequestId\", \"Caller\", \"Status\", \"LatencyMs\", \"Error\", \"Steps\", \"Request\", \"Response\") FROM STDIN (FORMAT BINARY)",
                ct).ConfigureAwait(false);
            foreach (var r in batch)
            {
                await copy.StartRowAsync(ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Id, NpgsqlTypes.NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Time, NpgsqlTypes.NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Pipeline, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Version, NpgsqlTypes.NpgsqlDbType.Integer, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.RequestId, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
                await WriteNullableAsync(copy, r.Caller, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Status, NpgsqlTypes.NpgsqlDbType.Integer, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.LatencyMs, NpgsqlTypes.NpgsqlDbType.Double, ct).ConfigureAwait(false);
                await WriteNullableAsync(copy, r.Error, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
                await copy.WriteAsync(r.Steps, NpgsqlTypes.NpgsqlDbType.Jsonb, ct).ConfigureAwait(false);
                await WriteNullableAsync(copy, r.Request, NpgsqlTypes.NpgsqlDbType.Jsonb, ct).ConfigureAwait(false);
                await WriteNullableAsync(copy, r.Response, NpgsqlTypes.NpgsqlDbType.Jsonb, ct).ConfigureAwait(false);
            }

            await copy.CompleteAsync(ct).ConfigureAwait(false);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
        {
            // An earlier attempt did commit: keep what is there, add what is not.
            var ids = batch.ConvertAll(r => r.Id);
            var present = await db.Set<PipelineRunRecord>().Where(r => ids.Contains(r.Id)).Select(r => r.Id).ToListAsync(ct).ConfigureAwait(false);
            db.AddRange(batch.Where(r => !present.Contains(r.Id)));
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
        }
    }

    private static Task WriteNullableAsync(Npgsql.NpgsqlBinaryImporter copy, string? value, NpgsqlTypes.NpgsqlDbType type, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);

    private async Task CleanupAsync(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        if (now - _lastCleanup < TimeSpan.FromHours(1))
        {
            return;
        }

        _lastCleanup = now;
        try
        {
            await using var scope = _scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            var cutoff = now.AddDays(-_options.RunRetentionDays);
            await db.Set<PipelineRunRecord>().Where(r => r.Time < cutoff).ExecuteDeleteAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or TimeoutException)
        {
            _log.LogWarning(e, "Deleting old pipeline run records failed");
        }
    }

    private PipelineRunRecord ToRecord(PipelineRun run, InferenceRequest? request, string? caller, DateTimeOffset time)
    {
        var steps = run.Steps.OrderBy(s => s.Step.Index).Select(s => new PipelineRunStepDto(
            s.Step.Name, s.Step.Model, s.ModelVersion, s.State, s.Why, Round(s.StartedMs), Round(s.LatencyMs),
            s.State == PipelineStepStates.Skipped ? null : s.RequestId, s.Rows,
            s.Input is null ? null : RequestJson(s.Input), s.Output is null ? null : ResponseJson(s.Output))).ToList();
        return new PipelineRunRecord
        {
            Id = Guid.CreateVersion7(time),
            Time = time,
            Pipeline = run.Pipeline,
            Version = run.Version,
            RequestId = run.RequestId,
            Caller = caller is { Length: > 256 } ? caller[..256] : caller,
            Status = run.Status,
            LatencyMs = Math.Round(run.LatencyMs, 3),
            Error = run.Error is { Length: > 4000 } e ? e[..3999] + "…" : run.Error,
            Steps = JsonSerializer.Serialize(steps, Json),
            Request = request is null ? null : RequestJson(request),
            Response = run.Response is null ? null : ResponseJson(run.Response),
        };
    }

    private static double? Round(double? ms) => ms is double v ? Math.Round(v, 3) : null;

    private string RequestJson(InferenceRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteRequest(buffer, request);
        return buffer.WrittenCount <= _options.MaxRecordedTensorBytes ? Encoding.UTF8.GetString(buffer.WrittenSpan) : Summary(request.Inputs);
    }

    private string ResponseJson(InferenceResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>();
        V2JsonCodec.WriteResponse(buffer, response);
        return buffer.WrittenCount <= _options.MaxRecordedTensorBytes ? Encoding.UTF8.GetString(buffer.WrittenSpan) : Summary(response.Outputs);
    }

    /// <summary>Over the size limit: the tensors' names, datatypes and shapes, and a note saying so.</summary>
    private static string Summary(IReadOnlyList<InferenceTensor> tensors) => JsonSerializer.Serialize(new
    {
        truncated = true,
        tensors = tensors.Select(t => new { name = t.Name, datatype = t.Datatype.ToWireName(), shape = t.Shape }),
    }, Json);

    /// <summary>A record as the API shows it; step tensors and the run's request/response only in the single-run view.</summary>
    public static PipelineRunDto ToDto(PipelineRunRecord r, bool withTensors)
    {
        ArgumentNullException.ThrowIfNull(r);
        var steps = JsonSerializer.Deserialize<List<PipelineRunStepDto>>(r.Steps, Json) ?? [];
        if (!withTensors)
        {
            steps = steps.ConvertAll(s => s with { Inputs = null, Outputs = null });
        }

        return new PipelineRunDto(r.Id, r.Time, r.Pipeline, r.Version, r.RequestId, r.Caller, r.Status, r.LatencyMs, r.Error, steps,
            withTensors ? r.Request : null, withTensors ? r.Response : null);
    }
}
