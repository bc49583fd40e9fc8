namespace Mds.Contracts.Cluster;

/// <summary>
/// The orders a backend gives a worker, as Hangfire jobs on the worker's own queue (<c>worker-{id}</c>).
/// Arguments are ids only; every order is idempotent (running it twice does no harm).
/// </summary>
public interface IWorkerOrders
{
    /// <summary>
    /// Load a replica: fetch its assignment (<c>GET /api/cluster/replicas/{id}</c>), download the artifact by SHA-256
    /// unless cached, create the ONNX Runtime session, and report <c>Ready</c> or <c>Failed</c>.
    /// </summary>
    Task LoadReplicaAsync(long replicaId);

    /// <summary>Unload a replica (dispose its session) and report it gone. Unknown ids are a no-op.</summary>
    Task UnloadReplicaAsync(long replicaId);
}

/// <summary>What a worker needs to load a replica: <c>GET /api/cluster/replicas/{id}</c>.</summary>
/// <param name="ReplicaId">The replica.</param>
/// <param name="VersionId">Its model version's id.</param>
/// <param name="ModelName">The model's name.</param>
/// <param name="Version">The version number.</param>
/// <param name="Sha256">The artifact to load, by content.</param>
/// <param name="SizeBytes">The artifact's size.</param>
/// <param name="Wanted">False once the replica is no longer wanted (an order that arrives late does nothing).</param>
/// <param name="Batching">The version's adaptive batching settings; null: every request runs on its own.</param>
public sealed record ReplicaAssignment(long ReplicaId, long VersionId, string ModelName, int Version, string Sha256, long SizeBytes, bool Wanted, BatchingSettings? Batching = null);

/// <summary>
/// Adaptive batching of one model version on a worker: concurrent requests are gathered into one ONNX Runtime call
/// along the first (batch) dimension until <paramref name="MaxBatchSize"/> rows are gathered or the oldest has waited
/// <paramref name="MaxLatencyMicroseconds"/>.
/// </summary>
/// <param name="MaxBatchSize">Most rows in one call (at least 2).</param>
/// <param name="MaxLatencyMicroseconds">Longest a request waits for others to join it (0: never wait, batch only what is already queued).</param>
public sealed record BatchingSettings(int MaxBatchSize, int MaxLatencyMicroseconds)
{
    /// <summary>The largest batch size accepted.</summary>
    public const int MaxBatchSizeLimit = 4096;

    /// <summary>The longest wait accepted: one second.</summary>
    public const int MaxLatencyLimitMicroseconds = 1_000_000;

    /// <summary>Why these settings cannot be used, or null when they can.</summary>
    public string? Validate() =>
        MaxBatchSize < 2 || MaxBatchSize > MaxBatchSizeLimit
            ? $"maxBatchSize must be between 2 and {MaxBatchSizeLimit} (got {MaxBatchSize})"
            : MaxLatencyMicroseconds < 0 || MaxLatencyMicroseconds > MaxLatencyLimitMicroseconds
                ? $"maxLatencyMicroseconds must be between 0 and {MaxLatencyLimitMicroseconds} (got {MaxLatencyMicroseconds})"
                : null;
}

/// <summary>A worker's report on a replica: <c>POST /api/cluster/replicas/{id}/state</c>.</summary>
public sealed record ReplicaStateReport(string State, string? Error, long? MemoryBytes);

/// <summary>Names shared by backend and workers.</summary>
public static class ClusterNames
{
    /// <summary>The Hangfire queue of worker <paramref name="workerId"/>.</summary>
    public static string QueueFor(long workerId) => $"worker-{workerId}";

    /// <summary>The authentication scheme and header value prefix a worker uses with the cluster key.</summary>
    public const string WorkerKeyScheme = "Bearer";
}
