using Mds.Contracts.Api;
using Mds.Workers.Inference;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Cluster;

/// <summary>
/// The worker's membership in the cluster: registers with the backend (retrying with backoff until it answers, since
/// the backend may start later), starts processing the order queue it was given, then heartbeats. When a heartbeat
/// gets 404 (the backend forgot the worker) it registers again, and moves to the new queue if the id changed. While
/// the backend is away the worker keeps serving inference and keeps trying.
/// </summary>
internal sealed partial class ClusterMembership(
    BackendClient backend,
    OrderQueue orders,
    SessionRegistry registry,
    InferenceRunner runner,
    WorkerIdentity identity,
    WorkerCredential credential,
    IOptions<WorkerOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<ClusterMembership> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _heartbeatNow = new(0, 1);
    private volatile WorkerRegistered? _registration;

    /// <summary>True once the backend has accepted a registration (and from then on): what <c>/v2/health/ready</c> reports.</summary>
    public bool HasRegistered => _registration is not null;

    /// <summary>The current registration, or null before the first one.</summary>
    public WorkerRegistered? Registration => _registration;

    /// <summary>Sends the next heartbeat now instead of at the end of the interval (after a load or unload).</summary>
    public void HeartbeatSoon()
    {
        try
        {
            _heartbeatNow.Release();
        }
        catch (SemaphoreFullException)
        {
            // One is already pending.
        }
    }

    /// <summary>What this worker has loaded and how busy it is.</summary>
    public WorkerHeartbeat BuildHeartbeat()
    {
        var models = registry.Loaded;
        var loaded = new LoadedReplica[models.Count];
        long memory = 0;
        for (int i = 0; i < loaded.Length; i++)
        {
            var model = models[i];
            loaded[i] = new LoadedReplica(model.ReplicaId, model.MemoryBytes, model.Running, model.Waiting);
            memory += model.MemoryBytes;
        }

        return new WorkerHeartbeat(loaded, memory, runner.InFlight);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await orders.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _heartbeatNow.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // The REST URL (and the default name) come from the address Kestrel listens on.
            await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
            LogIdentity(identity.Name, identity.RestUrl, options.Value.BackendUrl);
            while (!stoppingToken.IsCancellationRequested)
            {
                var registration = await RegisterAsync(stoppingToken).ConfigureAwait(false);
                _registration = registration;
                await HeartbeatUntilForgottenAsync(registration, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task<WorkerRegistered> RegisterAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var request = new WorkerRegistration(identity.Name, identity.RestUrl, settings.GrpcUrl, settings.CapabilityList(), settings.MemoryCapacityMb);
        var delay = TimeSpan.FromMilliseconds(250);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var registered = await backend.RegisterAsync(request, cancellationToken).ConfigureAwait(false);
                if (registered.Credential is { } issued)
                {
                    credential.Save(issued);
                    LogCredentialIssued(registered.WorkerId);
                }

                LogRegistered(registered.WorkerId, registered.Queue);
                return registered;
            }
            catch (BackendException e) when (e.StatusCode == System.Net.HttpStatusCode.Unauthorized && credential.Own is not null)
            {
                // The backend does not know the stored credential (its database was replaced): try as a new worker.
                LogCredentialRejected(e.Message);
                credential.Forget();
                continue;
            }
            catch (Exception e) when (IsBackendAway(e, cancellationToken))
            {
                if (attempt == 1 || e is BackendException)
                {
                    LogRegisterFailed(settings.BackendUrl, e.Message);
                }
                else
                {
                    LogRegisterRetry(attempt, e.Message);
                }
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private async Task HeartbeatUntilForgottenAsync(WorkerRegistered registration, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(registration.HeartbeatIntervalMs > 0 ? registration.HeartbeatIntervalMs : options.Value.HeartbeatIntervalMs);
        bool failing = false;
        while (true)
        {
            await EnsureOrdersAsync(registration.Queue, cancellationToken).ConfigureAwait(false);
            try
            {
                if (!await backend.HeartbeatAsync(registration.WorkerId, BuildHeartbeat(), cancellationToken).ConfigureAwait(false))
                {
                    LogForgotten(registration.WorkerId);
                    return;
                }

                if (failing)
                {
                    LogHeartbeatRecovered();
                    failing = false;
                }
            }
            catch (BackendException e) when (e.StatusCode == System.Net.HttpStatusCode.Unauthorized && !cancellationToken.IsCancellationRequested)
            {
                // The credential was reset by an admin (or the database replaced): register again, which issues a new one.
                LogCredentialRejected(e.Message);
                return;
            }
            catch (Exception e) when (IsBackendAway(e, cancellationToken))
            {
                if (!failing)
                {
                    LogHeartbeatFailed(e.Message);
                    failing = true;
                }
            }

            await _heartbeatNow.WaitAsync(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task EnsureOrdersAsync(string queue, CancellationToken cancellationToken)
    {
        if (orders.Queue == queue)
        {
            return;
        }

        try
        {
            await orders.EnsureListeningAsync(queue, identity.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Most likely the database is not reachable yet; try again at the next heartbeat.
            LogOrdersFailed(queue, e);
        }
    }

    private Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken);
    }

    private static bool IsBackendAway(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested
        && e is HttpRequestException or BackendException or OperationCanceledException or System.Text.Json.JsonException;

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker '{Name}' serves V2 at {RestUrl}; backend {BackendUrl}")]
    private partial void LogIdentity(string name, string restUrl, string backendUrl);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered with the backend as worker {WorkerId}; orders come on queue '{Queue}'")]
    private partial void LogRegistered(long workerId, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot register with the backend at {BackendUrl} yet ({Reason}); retrying")]
    private partial void LogRegisterFailed(string backendUrl, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Registration attempt {Attempt} failed: {Reason}")]
    private partial void LogRegisterRetry(int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The backend issued worker {WorkerId} its own credential; kept in the credential file")]
    private partial void LogCredentialIssued(long workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The backend refused this worker's stored credential ({Reason}); registering with the cluster key")]
    private partial void LogCredentialRejected(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The backend no longer knows worker {WorkerId}; registering again")]
    private partial void LogForgotten(long workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed ({Reason}); still serving, retrying")]
    private partial void LogHeartbeatFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeats reach the backend again")]
    private partial void LogHeartbeatRecovered();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot start processing orders from queue '{Queue}' yet; retrying at the next heartbeat")]
    private partial void LogOrdersFailed(string queue, Exception exception);
}
