namespace Mds.Contracts.Api;

/// <summary><c>POST /api/workers/register</c> body.</summary>
public sealed record WorkerRegistration(
    string Name,
    string RestUrl,
    string? GrpcUrl,
    IReadOnlyList<string> Capabilities,
    int MemoryCapacityMb);

/// <summary>
/// The answer to a registration: the worker's id and the Hangfire queue that holds its orders, and, on a first
/// registration or a rotation, the worker's own credential (shown once; the worker keeps it and sends it from then on).
/// </summary>
public sealed record WorkerRegistered(long WorkerId, string Queue, int HeartbeatIntervalMs, string? Credential = null);

/// <summary><c>POST /api/cluster/api-keys/check</c> body: a worker asks who an API key a caller sent it belongs to.</summary>
/// <param name="Key">The API key as the caller sent it.</param>
public sealed record ApiKeyCheck(string Key);

/// <summary>Who an API key belongs to, as a worker needs it: the user's name (for the audit record) and roles.</summary>
/// <param name="Name">The user's e-mail.</param>
/// <param name="Roles">The user's roles.</param>
public sealed record ApiKeyOwner(string Name, IReadOnlyList<string> Roles);

/// <summary>
/// <c>POST /api/cluster/sessions/check</c> body: a worker asks whether a user's JWT is still a live session (its
/// security stamp is its user's stamp now). 204: it is; 404: revoked (signed out, password changed, roles changed,
/// user deleted).
/// </summary>
/// <param name="UserId">The token's subject (<c>sub</c>).</param>
/// <param name="Stamp">The token's <c>stamp</c> claim.</param>
public sealed record SessionCheck(string UserId, string Stamp);

/// <summary>A worker's heartbeat: what it has loaded and how busy it is.</summary>
public sealed record WorkerHeartbeat(
    IReadOnlyList<LoadedReplica> Loaded,
    long MemoryInUseBytes,
    int InFlight);

/// <summary>A replica the worker has loaded, with the session's measured memory and its load.</summary>
/// <param name="ReplicaId">The replica.</param>
/// <param name="MemoryBytes">The session's measured memory.</param>
/// <param name="InFlight">Requests running on the session now (or queued in its batcher).</param>
/// <param name="Waiting">Requests waiting for their turn on the session (the worker's per-model concurrency is taken).</param>
public sealed record LoadedReplica(long ReplicaId, long MemoryBytes, int InFlight, int Waiting = 0);

/// <summary>A worker as <c>GET /api/workers</c> lists it.</summary>
public sealed record WorkerDto(
    long Id,
    string Name,
    string RestUrl,
    string? GrpcUrl,
    IReadOnlyList<string> Capabilities,
    int MemoryCapacityMb,
    long MemoryInUseBytes,
    int InFlight,
    string State,
    DateTimeOffset RegisteredAt,
    DateTimeOffset LastHeartbeatAt,
    IReadOnlyList<WorkerReplicaDto> Replicas);

/// <summary>A replica on a worker, from the worker's side.</summary>
public sealed record WorkerReplicaDto(long ReplicaId, string ModelName, int Version, string State);

/// <summary>Worker states.</summary>
public static class WorkerStates
{
    /// <summary>Heartbeating; takes new replicas.</summary>
    public const string Online = "Online";
    /// <summary>Being emptied; takes no new replicas.</summary>
    public const string Draining = "Draining";
    /// <summary>Missed its heartbeats.</summary>
    public const string Offline = "Offline";
}

/// <summary>Replica states.</summary>
public static class ReplicaStates
{
    /// <summary>Placed; the load order is queued.</summary>
    public const string Scheduled = "Scheduled";
    /// <summary>The worker is loading it.</summary>
    public const string Loading = "Loading";
    /// <summary>Serving.</summary>
    public const string Ready = "Ready";
    /// <summary>Loading failed (see the error) or its worker died.</summary>
    public const string Failed = "Failed";
    /// <summary>Unload ordered.</summary>
    public const string Unloading = "Unloading";
}
