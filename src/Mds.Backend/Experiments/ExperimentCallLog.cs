using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>
/// Writes <see cref="ExperimentCall"/> rows off the request path: queued (bounded; when full, rows are dropped and counted
/// in <c>mds_experiment_calls_dropped_total</c>, never slowing a request) and inserted in batches by binary COPY. A row
/// may come with its answer's bytes instead of its predicted label and score: the writer reads them from the bytes
/// (up to <see cref="MaxPendingAnswerBytes"/> waiting; past it they are read at once, by the caller of <see cref="Add(ExperimentCall, RawAnswer?)"/>).
/// </summary>
public sealed class ExperimentCallLog : BackgroundService
{
    /// <summary>The most answer bytes waiting in the queue for their predicted label.</summary>
    public const long MaxPendingAnswerBytes = 64L * 1024 * 1024;

    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private readonly Channel<Queued> _queue;
    private long _pendingAnswerBytes;
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _clock;
    private readonly ILogger<ExperimentCallLog> _log;
    private readonly Counter<long> _dropped;

    public ExperimentCallLog(IServiceScopeFactory scopes, IOptions<ExperimentOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<ExperimentCallLog> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _scopes = scopes;
        _clock = clock;
        _log = log;
        _queue = Channel.CreateBounded<Queued>(new BoundedChannelOptions(options.Value.CallLogQueue) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true }); // TryWrite answers false when full (a Drop* mode would report success and lose the row uncounted)
        _dropped = meters.Create("Mds").CreateCounter<long>("experiment_calls_dropped_total", description: "Experiment call-log rows dropped because the write queue was full.");
    }

    /// <summary>Queues one row (never blocks).</summary>
    public void Add(ExperimentCall call) => Add(call, null);

    /// <summary>
    /// Queues one row whose <see cref="ExperimentCall.Predicted"/> and <see cref="ExperimentCall.Score"/> come from
    /// <paramref name="answer"/> (taken over: released here or by the writer). Never blocks.
    /// </summary>
    internal void Add(ExperimentCall call, RawAnswer? answer)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (answer is not null && Interlocked.Add(ref _pendingAnswerBytes, answer.Length) > MaxPendingAnswerBytes)
        {
            Interlocked.Add(ref _pendingAnswerBytes, -answer.Length);
            (call.Predicted, call.Score) = answer.Prediction();
            answer.Release();
            answer = null;
        }

        if (!_queue.Writer.TryWrite(new Queued(call, answer)))
        {
            Settle(answer, call: null);
            _dropped.Add(1);
        }
    }

    /// <summary>Reads the row's prediction from its answer (when <paramref name="call"/> is given) and releases the answer.</summary>
    private void Settle(RawAnswer? answer, ExperimentCall? call)
    {
        if (answer is null)
        {
            return;
        }

        if (call is not null)
        {
            (call.Predicted, call.Score) = answer.Prediction();
        }

        answer.Release();
        Interlocked.Add(ref _pendingAnswerBytes, -answer.Length);
    }

    /// <summary>Waits until what is queued now has been written (tests, and results that should include the last calls).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        var deadline = _clock.GetUtcNow() + TimeSpan.FromSeconds(10);
        while ((_queue.Reader.Count > 0 || Volatile.Read(ref _writing) > 0) && _clock.GetUtcNow() < deadline)
        {
            await Task.Delay(20, ct);
        }
    }

    private int _writing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<ExperimentCall>(512);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                Interlocked.Exchange(ref _writing, 1);
                if (_queue.Reader.Count < 512)
                {
                    await Task.Delay(Linger, _clock, stoppingToken).ConfigureAwait(false);
                }

                while (batch.Count < 2048 && _queue.Reader.TryRead(out var queued))
                {
                    Settle(queued.Answer, queued.Call);
                    batch.Add(queued.Call);
                }

                await WriteAsync(batch, stoppingToken).ConfigureAwait(false);
                batch.Clear();
                Interlocked.Exchange(ref _writing, 0);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (_queue.Reader.TryRead(out var queued))
            {
                Settle(queued.Answer, queued.Call);
                batch.Add(queued.Call);
            }

            if (batch.Count > 0)
            {
                using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await CopyAsync(batch, last.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or IOException)
                {
                    _log.LogWarning(e, "{Count} experiment call rows could not be written before the backend stopped", batch.Count);
                }
            }
        }
    }

    private async Task WriteAsync(List<ExperimentCall> batch, CancellationToken ct)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                await CopyAsync(batch, ct).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or IOException && !ct.IsCancellationRequested)
            {
                // Rows have no id until inserted: a COPY whose commit answer was lost may be written twice; a count
                // off by a batch beats dropping it. The queue bounds what waits meanwhile.
                if (attempt == 0 || attempt % 5 == 0)
                {
                    _log.LogWarning(e, "Writing {Count} experiment call rows failed; retrying", batch.Count);
                }

                await Task.Delay(TimeSpan.FromSeconds(Math.Min(1 + attempt, 5)), ct).ConfigureAwait(false);
            }
        }

        _log.LogError("{Count} experiment call rows dropped after repeated write failures", batch.Count);
        _dropped.Add(batch.Count);
    }

    private async Task CopyAsync(List<ExperimentCall> batch, CancellationToken ct)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var connection = (Npgsql.NpgsqlConnection)db.Database.GetDbConnection();
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY experiment_calls (\"Experiment\", \"Candidate\", \"IsMirror\", \"RequestId\", \"Status\", \"LatencyMs\", \"At\", \"Predicted\", \"Score\") FROM STDIN (FORMAT BINARY)",
            ct).ConfigureAwait(false);
        foreach (var c in batch)
        {
            await copy.StartRowAsync(ct).ConfigureAwait(false);
            await copy.WriteAsync(c.Experiment, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.Candidate, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.IsMirror, NpgsqlTypes.NpgsqlDbType.Boolean, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.RequestId, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.Status, NpgsqlTypes.NpgsqlDbType.Integer, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.LatencyMs, NpgsqlTypes.NpgsqlDbType.Double, ct).ConfigureAwait(false);
            await copy.WriteAsync(c.At, NpgsqlTypes.NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
            if (c.Predicted is null)
            {
                await copy.WriteNullAsync(ct).ConfigureAwait(false);
            }
            else
            {
                await copy.WriteAsync(c.Predicted, NpgsqlTypes.NpgsqlDbType.Varchar, ct).ConfigureAwait(false);
            }

            if (c.Score is double score)
            {
                await copy.WriteAsync(score, NpgsqlTypes.NpgsqlDbType.Double, ct).ConfigureAwait(false);
            }
            else
            {
                await copy.WriteNullAsync(ct).ConfigureAwait(false);
            }
        }

        await copy.CompleteAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A queued row, with the answer its prediction is still to be read from.</summary>
    private readonly record struct Queued(ExperimentCall Call, RawAnswer? Answer);
}
