using System.Collections.Concurrent;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.Workers.Inference;

namespace Mds.Workers.Cluster;

/// <summary>
/// Carries out the backend's orders (Hangfire jobs on this worker's queue). Both orders are idempotent. Orders for
/// the same replica run one at a time, so an unload that follows a load waits for the load to finish.
/// </summary>
internal sealed partial class WorkerOrders(
    BackendClient backend,
    ArtifactCache artifacts,
    ModelLoader loader,
    SessionRegistry registry,
    WorkerMetrics metrics,
    ClusterMembership membership,
    IHostApplicationLifetime lifetime,
    ILogger<WorkerOrders> logger) : IWorkerOrders, IDisposable
{
    // How long an unload waits for the requests still running on the session; it is disposed after them anyway.
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    // ReplicaStateReport.Error is stored in a 4000-character column.
    private const int MaxErrorLength = 2000;

    private readonly ConcurrentDictionary<long, SemaphoreSlim> _replicaGates = new();

    public async Task LoadReplicaAsync(long replicaId)
    {
        var cancellationToken = lifetime.ApplicationStopping;
        var gate = _replicaGates.GetOrAdd(replicaId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadCoreAsync(replicaId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }

        membership.HeartbeatSoon();
    }

    public async Task UnloadReplicaAsync(long replicaId)
    {
        var cancellationToken = lifetime.ApplicationStopping;
        var gate = _replicaGates.GetOrAdd(replicaId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var disposed = registry.Remove(replicaId);
            if (disposed is null)
            {
                LogUnloadUnknown(replicaId);
                return;
            }

            LogUnloading(replicaId);
            try
            {
                await disposed.WaitAsync(DrainTimeout, cancellationToken).ConfigureAwait(false);
                LogUnloaded(replicaId);
            }
            catch (TimeoutException)
            {
                LogDrainTimeout(replicaId, DrainTimeout.TotalSeconds);
            }
        }
        finally
        {
            gate.Release();
        }

        // The next heartbeat no longer lists the replica: that is how the backend learns it is gone.
        membership.HeartbeatSoon();
    }

    public void Dispose()
    {
        foreach (var gate in _replicaGates.Values)
        {
            gate.Dispose();
        }
    }

    private async Task LoadCoreAsync(long replicaId, CancellationToken cancellationToken)
    {
        var assignment = await backend.GetAssignmentAsync(replicaId, cancellationToken).ConfigureAwait(false);
        if (registry.TryGetReplica(replicaId, out var loaded))
        {
            // A load order for a loaded replica is how the backend passes on changed settings (batching).
            LogAlreadyLoaded(replicaId, loaded.Name, loaded.Version);
            if (assignment is { Wanted: true })
            {
                ApplyBatching(loaded, assignment.Batching);
            }

            await ReportAsync(replicaId, new ReplicaStateReport(ReplicaStates.Ready, null, loaded.MemoryBytes), cancellationToken).ConfigureAwait(false);
            return;
        }

        if (assignment is null || !assignment.Wanted)
        {
            LogNotWanted(replicaId);
            return;
        }

        LogLoading(replicaId, assignment.ModelName, assignment.Version, assignment.Sha256);
        await ReportAsync(replicaId, new ReplicaStateReport(ReplicaStates.Loading, null, null), cancellationToken).ConfigureAwait(false);

        LoadedModel model;
        try
        {
            string path = await artifacts.GetAsync(assignment.Sha256, assignment.SizeBytes, cancellationToken).ConfigureAwait(false);
            model = await loader.LoadAsync(replicaId, assignment.ModelName, assignment.Version, path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            string error = Describe(e);
            LogLoadFailed(replicaId, assignment.ModelName, assignment.Version, error, e);
            await ReportAsync(replicaId, new ReplicaStateReport(ReplicaStates.Failed, error, null), cancellationToken).ConfigureAwait(false);
            return;
        }

        ApplyBatching(model, assignment.Batching);
        if (!registry.TryAdd(model))
        {
            // Cannot happen while orders for one replica are serialized; keep the session already serving.
            model.Release();
        }

        LogLoaded(replicaId, model.Name, model.Version, model.MemoryBytes);
        await ReportAsync(replicaId, new ReplicaStateReport(ReplicaStates.Ready, null, model.MemoryBytes), cancellationToken).ConfigureAwait(false);
    }

    private void ApplyBatching(LoadedModel model, BatchingSettings? settings)
    {
        if (model.ConfigureBatching(settings, metrics) is { } why)
        {
            LogBatchingUnsupported(model.Name, model.Version, why);
        }
        else if (settings is not null)
        {
            LogBatching(model.Name, model.Version, settings.MaxBatchSize, settings.MaxLatencyMicroseconds);
        }
    }

    private async Task ReportAsync(long replicaId, ReplicaStateReport report, CancellationToken cancellationToken)
    {
        // A short retry rides out a backend restart; if it stays away the job fails, the heartbeat still lists what
        // is loaded, and the reconciler orders again.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await backend.ReportStateAsync(replicaId, report, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (attempt < 3 && e is HttpRequestException or BackendException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static string Describe(Exception e)
    {
        string message = e switch
        {
            ModelLoadException or ArtifactException => e.Message,
            BackendException => "fetching the artifact failed: " + e.Message,
            HttpRequestException => "fetching the artifact failed: " + e.Message,
            // The worker's log has the exception; the message shown to users names no local path.
            IOException => "writing the artifact to the worker's cache failed (see the worker's log)",
            UnauthorizedAccessException => "writing the artifact to the worker's cache was refused (see the worker's log)",
            OperationCanceledException => "fetching the artifact timed out",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        return message.Length <= MaxErrorLength ? message : message[..MaxErrorLength] + "…";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading replica {ReplicaId}: model '{Model}' version {Version} (artifact {Sha256})")]
    private partial void LogLoading(long replicaId, string model, int version, string sha256);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} ready: model '{Model}' version {Version}, {MemoryBytes} bytes")]
    private partial void LogLoaded(long replicaId, string model, int version, long memoryBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} (model '{Model}' version {Version}) is already loaded; reporting Ready again")]
    private partial void LogAlreadyLoaded(long replicaId, string model, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Model}' version {Version} batches requests: up to {MaxBatchSize} rows, waiting at most {MaxLatencyMicroseconds} µs")]
    private partial void LogBatching(string model, int version, int maxBatchSize, int maxLatencyMicroseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model '{Model}' version {Version} cannot batch requests ({Why}); each runs on its own")]
    private partial void LogBatchingUnsupported(string model, int version, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Loading replica {ReplicaId} (model '{Model}' version {Version}) failed: {Error}")]
    private partial void LogLoadFailed(long replicaId, string model, int version, string error, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} is unknown or no longer wanted; not loading it")]
    private partial void LogNotWanted(long replicaId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unloading replica {ReplicaId}")]
    private partial void LogUnloading(long replicaId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} unloaded")]
    private partial void LogUnloaded(long replicaId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Unload of replica {ReplicaId}: not loaded here, nothing to do")]
    private partial void LogUnloadUnknown(long replicaId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} unloaded, but requests still ran after {Seconds} s; its session is disposed when they finish")]
    private partial void LogDrainTimeout(long replicaId, double seconds);
}
