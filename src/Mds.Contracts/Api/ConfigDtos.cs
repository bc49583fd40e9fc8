namespace Mds.Contracts.Api;

/// <summary>
/// <c>GET /api/config</c>: the limits the operator set on this backend (its configuration, read at start), so clients
/// such as the portal check a form against the backend's real limits instead of copies of its defaults. The fixed
/// rules (name, capability and tag patterns) are in <c>Mds.Contracts.Rules</c>.
/// </summary>
/// <param name="MaxModelUploadBytes">Largest model upload: the .onnx, its data files, or the zip holding them (<c>Mds:Registry:MaxUploadBytes</c>).</param>
/// <param name="MaxDatasetBytes">Largest reference dataset CSV (<c>Mds:Registry:MaxDatasetBytes</c>).</param>
/// <param name="MaxBatchUploadBytes">Largest batch-prediction CSV (<c>Mds:Batch:MaxUploadBytes</c>).</param>
/// <param name="BatchSyncMaxRows">Batch files with at most this many rows are scored while the upload waits; larger ones become a job (<c>Mds:Batch:SyncMaxRows</c>).</param>
/// <param name="MaxImageBytes">Largest image file (<c>Mds:Images:MaxImageBytes</c>).</param>
/// <param name="MaxReplicas">Most replicas a version may ask for (<c>Mds:Registry:MaxReplicas</c>).</param>
/// <param name="MaxBatchSize">Largest adaptive batch size a version may set.</param>
/// <param name="MaxBatchLatencyMicroseconds">Longest adaptive batching wait a version may set, in microseconds.</param>
/// <param name="StagedUploadSeconds">How long an inspected upload stays staged for registration by its sha256; 0 when staging is off (<c>Mds:Registry:StagedUploadLifetime</c>).</param>
public sealed record ConfigDto(
    long MaxModelUploadBytes, long MaxDatasetBytes, long MaxBatchUploadBytes, int BatchSyncMaxRows, int MaxImageBytes,
    int MaxReplicas, int MaxBatchSize, int MaxBatchLatencyMicroseconds, int StagedUploadSeconds);
