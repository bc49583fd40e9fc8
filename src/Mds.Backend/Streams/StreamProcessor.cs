using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Streams;

/// <summary>
/// Runs one <see cref="StreamConsumer"/> per stream-enabled model or pipeline on this backend, started and stopped as
/// <c>stream_settings</c> changes (read every <see cref="StreamingOptions.RefreshInterval"/>, and at once after a
/// change made here), and writes this backend's counters to <c>stream_counters</c> every
/// <see cref="StreamingOptions.CounterInterval"/>. Every backend does the same; they share each stream's durable
/// consumer, so the engine splits the messages between them. Idle when <c>Mds:Streaming:Engine</c> is <c>none</c>.
/// </summary>
public sealed class StreamProcessor(
    IServiceProvider services, IServiceScopeFactory scopes, IStreamInference inference, StreamMetrics metrics,
    IOptions<StreamingOptions> options, TimeProvider clock, ILoggerFactory logs) : BackgroundService
{
    private readonly ILogger _log = logs.CreateLogger<StreamProcessor>();
    private readonly Dictionary<StreamResource, Running> _running = [];
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly SemaphoreSlim _sync = new(1, 1);

    /// <summary>This backend process in <c>stream_counters</c>: host, process id and start time.</summary>
    public string BackendId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfff}";

    /// <summary>The engine in use, or null when streaming is switched off (<c>none</c>).</summary>
    public IStreamTransport? Transport => options.Value.Engine == StreamEngines.None ? null : services.GetService<IStreamTransport>();

    /// <summary>This backend's consumer of <paramref name="resource"/>, when it runs one.</summary>
    public StreamConsumer? Local(StreamResource resource)
    {
        lock (_running)
        {
            return _running.TryGetValue(resource, out var r) ? r.Consumer : null;
        }
    }

    /// <summary>Re-reads the settings now and starts or stops consumers to match; returns once done.</summary>
    public async Task SyncNowAsync(CancellationToken ct)
    {
        if (Transport is null)
        {
            return;
        }

        await SyncAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Transport is null)
        {
            if (options.Value.Engine == StreamEngines.None)
            {
                _log.LogInformation("Streaming is switched off (Mds:Streaming:Engine = none)");
            }
            else
            {
                _log.LogWarning("No stream transport is registered for Mds:Streaming:Engine = {Engine}; streams do not run", options.Value.Engine);
            }

            return;
        }

        var flushing = FlushLoopAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SyncAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _log.LogWarning("Reading the stream settings failed ({Error}); the streams running keep running", e.Message);
            }

            try
            {
                await _changed.WaitAsync(options.Value.RefreshInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        List<Running> all;
        lock (_running)
        {
            all = [.. _running.Values];
            _running.Clear();
        }

        await Task.WhenAll(all.Select(StopAsync));
        try
        {
            await flushing;
        }
        catch (OperationCanceledException)
        {
            // stopping
        }

        await FlushAsync(all.Select(r => r.Consumer), CancellationToken.None);
    }

    private async Task SyncAsync(CancellationToken ct)
    {
        await _sync.WaitAsync(ct);
        try
        {
            HashSet<StreamResource> wanted;
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
                var rows = await db.Set<StreamSetting>().AsNoTracking().Where(s => s.Enabled).Select(s => new { s.Kind, s.Name }).ToListAsync(ct);
                wanted = [.. rows.Select(r => new StreamResource(r.Kind, r.Name))];
            }

            List<Running> stopping = [];
            lock (_running)
            {
                foreach (var (resource, running) in _running.ToList())
                {
                    if (!wanted.Contains(resource))
                    {
                        _running.Remove(resource);
                        stopping.Add(running);
                    }
                }

                foreach (var resource in wanted.Where(r => !_running.ContainsKey(r)))
                {
                    _running[resource] = Start(resource);
                }
            }

            await Task.WhenAll(stopping.Select(StopAsync));
            if (stopping.Count > 0)
            {
                await FlushAsync(stopping.Select(r => r.Consumer), ct); // their last counts
            }
        }
        finally
        {
            _sync.Release();
        }
    }

    private Running Start(StreamResource resource)
    {
        var consumer = new StreamConsumer(resource, Transport!, inference, options.Value, metrics, clock, logs.CreateLogger<StreamConsumer>());
        metrics.Track(consumer);
        var stop = new CancellationTokenSource();
        _log.LogInformation("Stream {Kind}/{Name}: consuming {Subject}", resource.Kind, resource.Name, resource.InputSubject);
        return new Running(consumer, stop, Task.Run(() => consumer.RunAsync(stop.Token), CancellationToken.None));
    }

    private async Task StopAsync(Running running)
    {
        await running.Stop.CancelAsync();
        try
        {
            await running.Task;
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "Stream {Stream} ended with an error", running.Consumer.Label);
        }

        running.Stop.Dispose();
        metrics.Untrack(running.Consumer);
        _log.LogInformation("Stream {Stream}: stopped on this backend", running.Consumer.Label);
    }

    /// <summary>Asks for a re-read of the settings now (after a change made on this backend).</summary>
    public void Changed()
    {
        try
        {
            if (_changed.CurrentCount == 0)
            {
                _changed.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }

    private async Task FlushLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.CounterInterval, clock);
        while (await timer.WaitForNextTickAsync(ct))
        {
            List<StreamConsumer> consumers;
            lock (_running)
            {
                consumers = [.. _running.Values.Select(r => r.Consumer)];
            }

            foreach (var consumer in consumers)
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(2));
                    consumer.Lag = (await Transport!.BacklogAsync(consumer.Resource, timeout.Token)).Pending;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    _log.LogDebug("Stream {Stream}: backlog unknown ({Error})", consumer.Label, e.Message);
                }
            }

            await FlushAsync(consumers, ct);
        }
    }

    /// <summary>Writes (upserts) each consumer's counters as this backend's row.</summary>
    private async Task FlushAsync(IEnumerable<StreamConsumer> consumers, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            var now = clock.GetUtcNow();
            foreach (var c in consumers)
            {
                var (receivedRate, publishedRate) = c.Rates();
                string kind = c.Resource.Kind, name = c.Resource.Name, backend = BackendId, state = c.State;
                string? reason = c.Reason is { Length: > 1000 } r ? r[..1000] : c.Reason;
                long received = c.Received, published = c.Published, errors = c.Errors, redeliveries = c.Redeliveries, inFlight = c.InFlight, lag = c.Lag;
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    INSERT INTO stream_counters ("Kind", "Name", "Backend", "Received", "Published", "Errors", "Redeliveries", "InFlight", "Lag", "ReceivedPerSecond", "PublishedPerSecond", "State", "Reason", "UpdatedAt")
                    VALUES ({kind}, {name}, {backend}, {received}, {published}, {errors}, {redeliveries}, {inFlight}, {lag}, {receivedRate}, {publishedRate}, {state}, {reason}, {now})
                    ON CONFLICT ("Kind", "Name", "Backend") DO UPDATE SET
                      "Received" = EXCLUDED."Received", "Published" = EXCLUDED."Published", "Errors" = EXCLUDED."Errors",
                      "Redeliveries" = EXCLUDED."Redeliveries", "InFlight" = EXCLUDED."InFlight", "Lag" = EXCLUDED."Lag",
                      "ReceivedPerSecond" = EXCLUDED."ReceivedPerSecond", "PublishedPerSecond" = EXCLUDED."PublishedPerSecond",
                      "State" = EXCLUDED."State", "Reason" = EXCLUDED."Reason", "UpdatedAt" = EXCLUDED."UpdatedAt"
                    """, ct);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogWarning("Writing stream counters failed ({Error})", e.Message);
        }
    }

    public override void Dispose()
    {
        _changed.Dispose();
        _sync.Dispose();
        base.Dispose();
    }

    private sealed record Running(StreamConsumer Consumer, CancellationTokenSource Stop, Task Task);
}
