using System.Security.Claims;
using System.Text.RegularExpressions;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Backend.Scheduling;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Cluster;

/// <summary>Handler dependencies of the cluster endpoints.</summary>
public sealed class ClusterServices(MdsDbContext db, ClusterChanged changed, IOptions<SchedulerOptions> scheduler, TimeProvider clock, WorkerOrdersQueue orders, HeartbeatMisses misses)
{
    public HeartbeatMisses Misses { get; } = misses;
    public MdsDbContext Db { get; } = db;
    public ClusterChanged Changed { get; } = changed;
    public SchedulerOptions Scheduler { get; } = scheduler.Value;
    public TimeProvider Clock { get; } = clock;
    public WorkerOrdersQueue Orders { get; } = orders;
}

/// <summary>
/// <c>/api/workers</c> (registration, heartbeats, the fleet) and <c>/api/cluster</c> (what workers ask while they
/// carry out orders), plus <c>/api/artifacts/{sha256}</c>.
/// </summary>
public static partial class WorkersApi
{
    public static IEndpointRouteBuilder MapWorkersApi(this IEndpointRouteBuilder app)
    {
        var workers = app.MapGroup("/api/workers").WithTags("Workers");
        workers.MapPost("/register", Register).RequireAuthorization(Policies.WorkerRegistration)
            .WithName("RegisterWorker").WithSummary("A worker announces itself (a new name with the cluster key, its own name with its own credential); answers its id, order queue and, the first time, its credential");
        workers.MapPost("/{id:long}/credential", RotateCredential).RequireAuthorization(Policies.Worker)
            .WithName("RotateWorkerCredential").WithSummary("A worker replaces its own credential; the old one stops working at once");
        workers.MapPost("/{id:long}/reset-credential", ResetCredential).RequireAuthorization(Policies.Admin)
            .WithName("ResetWorkerCredential").WithSummary("Forget a worker's credential (it lost it, or it leaked): the cluster key may then register the name again");
        workers.MapPost("/{id:long}/heartbeat", Heartbeat).RequireAuthorization(Policies.Worker)
            .WithName("WorkerHeartbeat").WithSummary("A worker reports what it has loaded and how busy it is");
        workers.MapGet("/", List).RequireAuthorization(Policies.Researcher)
            .WithName("ListWorkers").WithSummary("Every worker with its state, load and replicas");
        workers.MapPost("/{id:long}/drain", (long id, [FromServices] ClusterServices s, CancellationToken ct) => SetState(id, WorkerStates.Draining, s, ct)).RequireAuthorization(Policies.Admin)
            .WithName("DrainWorker").WithSummary("Move this worker's replicas elsewhere (placed first, then unloaded here) and place nothing new on it");
        workers.MapPost("/{id:long}/activate", (long id, [FromServices] ClusterServices s, CancellationToken ct) => SetState(id, WorkerStates.Online, s, ct)).RequireAuthorization(Policies.Admin)
            .WithName("ActivateWorker").WithSummary("End a drain: the worker takes replicas again");

        var cluster = app.MapGroup("/api/cluster").WithTags("Workers").RequireAuthorization(Policies.Worker);
        cluster.MapGet("/replicas/{id:long}", Assignment).WithName("GetReplicaAssignment").WithSummary("What a worker needs to load a replica");
        cluster.MapPost("/replicas/{id:long}/state", ReportState).WithName("ReportReplicaState").WithSummary("A worker reports a replica Loading, Ready or Failed");
        cluster.MapPost("/api-keys/check", CheckApiKey).WithName("CheckApiKey").WithSummary("A worker asks whose an API key a caller sent it is (404: none valid)");
        cluster.MapPost("/sessions/check", CheckSession).WithName("CheckSession").WithSummary("A worker asks whether a user's JWT is still a live session: its security stamp is current (204) or revoked (404)");

        app.MapGet("/api/artifacts/{sha256}", Artifact).RequireAuthorization(Policies.ArtifactReader).WithTags("Workers")
            .WithName("GetArtifact").WithSummary("Stream an artifact by its SHA-256");
        return app;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();

    private static async Task<Results<Ok<WorkerRegistered>, ProblemHttpResult>> Register(WorkerRegistration? request, ClaimsPrincipal user, [FromServices] ClusterServices s, CancellationToken ct)
    {
        if (request is null || !NamePattern().IsMatch(request.Name ?? ""))
        {
            return TypedResults.Problem("A worker needs a name of letters, digits, '.', '_' or '-'.", statusCode: 400);
        }

        // The gateway sends callers' requests to these URLs: only a bare origin (scheme, host, port) is accepted.
        if (WhyNotOrigin(request.RestUrl, "restUrl") is { } restProblem)
        {
            return TypedResults.Problem(restProblem, statusCode: 400);
        }

        if (request.GrpcUrl is not null && WhyNotOrigin(request.GrpcUrl, "grpcUrl") is { } grpcProblem)
        {
            return TypedResults.Problem(grpcProblem, statusCode: 400);
        }

        var rest = new Uri(request.RestUrl);

        if (request.MemoryCapacityMb <= 0)
        {
            return TypedResults.Problem("memoryCapacityMb must be positive.", statusCode: 400);
        }

        var now = s.Clock.GetUtcNow();
        long? caller = WorkerCredentialHandler.WorkerIdOf(user);
        var worker = await s.Db.Workers.SingleOrDefaultAsync(w => w.Name == request.Name, ct);
        if (worker is null ? caller is not null : caller != worker.Id && worker.CredentialHash is not null)
        {
            // A worker acts only as itself; the cluster key registers only names no worker holds a credential for.
            return TypedResults.Problem(worker is null
                ? "A worker's credential registers only that worker; a new name needs the cluster key."
                : $"Worker name '{request.Name}' is taken; registering it again needs that worker's own credential (an admin can reset it).",
                statusCode: StatusCodes.Status403Forbidden);
        }

        if (worker is null)
        {
            worker = new Worker { Name = request.Name!, RestUrl = "", State = WorkerStates.Online, RegisteredAt = now };
            s.Db.Workers.Add(worker);
        }

        worker.RestUrl = rest.GetLeftPart(UriPartial.Authority);
        worker.GrpcUrl = request.GrpcUrl is null ? null : new Uri(request.GrpcUrl).GetLeftPart(UriPartial.Authority);
        worker.Capabilities = NormalizeCapabilities(request.Capabilities);
        worker.MemoryCapacityMb = request.MemoryCapacityMb;
        worker.State = worker.State == WorkerStates.Draining ? WorkerStates.Draining : WorkerStates.Online;
        worker.LastHeartbeatAt = now;
        await s.Db.SaveChangesAsync(ct);

        // First registration (or after an admin's reset): the worker's own credential, bound to its id, shown once.
        string? credential = null;
        if (worker.CredentialHash is null)
        {
            (credential, worker.CredentialHash) = WorkerCredentialHandler.NewCredential(worker.Id);
            await s.Db.SaveChangesAsync(ct);
        }

        // A (re)started worker holds nothing it failed before; let the planner try it again.
        await s.Db.Replicas.Where(r => r.WorkerId == worker.Id && r.State == ReplicaStates.Failed).ExecuteDeleteAsync(ct);
        await s.Changed.RaiseAsync(CancellationToken.None);
        return TypedResults.Ok(new WorkerRegistered(worker.Id, ClusterNames.QueueFor(worker.Id), (int)s.Scheduler.HeartbeatInterval.TotalMilliseconds, credential));
    }

    /// <summary>Why <paramref name="value"/> is not a bare http(s) origin, or null when it is one.</summary>
    internal static string? WhyNotOrigin(string? value, string field)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return $"{field} must be an absolute http(s) URL with a host.";
        }

        if (uri.UserInfo.Length > 0 || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || value!.Contains('@', StringComparison.Ordinal))
        {
            return $"{field} must be scheme, host and port only (no user, path, query or fragment).";
        }

        return null;
    }

    private static async Task<Results<Ok<WorkerRegistered>, ProblemHttpResult>> RotateCredential(long id, ClaimsPrincipal user, [FromServices] ClusterServices s, CancellationToken ct)
    {
        if (WorkerCredentialHandler.WorkerIdOf(user) != id)
        {
            return NotYours();
        }

        var worker = await s.Db.Workers.SingleAsync(w => w.Id == id, ct);
        (string credential, worker.CredentialHash) = WorkerCredentialHandler.NewCredential(id);
        await s.Db.SaveChangesAsync(ct);
        return TypedResults.Ok(new WorkerRegistered(id, ClusterNames.QueueFor(id), (int)s.Scheduler.HeartbeatInterval.TotalMilliseconds, credential));
    }

    private static async Task<Results<NoContent, NotFound<V2Error>>> ResetCredential(long id, MdsDbContext db, CancellationToken ct)
    {
        int changed = await db.Workers.Where(w => w.Id == id).ExecuteUpdateAsync(u => u.SetProperty(w => w.CredentialHash, (string?)null), ct);
        return changed == 0 ? TypedResults.NotFound(new V2Error($"worker {id} does not exist")) : TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, NotFound<V2Error>>> CheckSession(SessionCheck? check, [FromServices] SessionStamps stamps, CancellationToken cancellationToken)
    {
        if (check is null || check.UserId is not { Length: > 0 and <= 256 } || check.Stamp is not { Length: > 0 and <= 256 }
            || !await stamps.IsCurrentAsync(check.UserId, check.Stamp, cancellationToken))
        {
            return TypedResults.NotFound(new V2Error("not a live session"));
        }

        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ApiKeyOwner>, NotFound<V2Error>>> CheckApiKey(ApiKeyCheck? check, HttpContext http)
    {
        if (check is null || !check.Key.StartsWith(ApiKeyAuthenticationHandler.KeyPrefix, StringComparison.Ordinal) || check.Key.Length > 256)
        {
            return TypedResults.NotFound(new V2Error("not a valid API key"));
        }

        // The backend's own API-key scheme decides, in a scope of its own, exactly as for a call to the backend.
        using var scope = http.RequestServices.CreateScope();
        var probe = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        probe.Request.Headers.Authorization = "Bearer " + check.Key;
        var result = await probe.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName);
        if (!result.Succeeded || result.Principal is not { } owner)
        {
            return TypedResults.NotFound(new V2Error("not a valid API key"));
        }

        return TypedResults.Ok(new ApiKeyOwner(CallerIdentity.Name(owner) ?? "", [.. owner.FindAll(ClaimTypes.Role).Select(c => c.Value)]));
    }

    private static ProblemHttpResult NotYours() =>
        TypedResults.Problem("A worker may act only on its own id and its own replicas.", statusCode: StatusCodes.Status403Forbidden);

    private static async Task<Results<Ok, NotFound<V2Error>, ProblemHttpResult>> Heartbeat(long id, WorkerHeartbeat? beat, ClaimsPrincipal user, [FromServices] ClusterServices s, CancellationToken ct)
    {
        if (WorkerCredentialHandler.WorkerIdOf(user) != id)
        {
            return NotYours();
        }

        var worker = await s.Db.Workers.Include(w => w.Replicas).SingleOrDefaultAsync(w => w.Id == id, ct);
        if (worker is null)
        {
            return TypedResults.NotFound(new V2Error($"worker {id} is not registered"));
        }

        var now = s.Clock.GetUtcNow();
        bool cameBack = worker.State == WorkerStates.Offline;
        worker.LastHeartbeatAt = now;
        worker.MemoryInUseBytes = beat?.MemoryInUseBytes ?? 0;
        worker.InFlight = beat?.InFlight ?? 0;
        if (cameBack)
        {
            worker.State = WorkerStates.Online;
            s.Db.Replicas.RemoveRange(worker.Replicas.Where(r => r.State == ReplicaStates.Failed));
        }

        // Reconcile what the worker really has with what we think it has.
        var loaded = (beat?.Loaded ?? []).ToDictionary(l => l.ReplicaId);
        bool changed = cameBack;
        foreach (var r in worker.Replicas)
        {
            if (loaded.TryGetValue(r.Id, out var l))
            {
                r.MemoryBytes = l.MemoryBytes;
                r.InFlight = l.InFlight;
                r.Waiting = l.Waiting;
                s.Misses.Forget(r.Id);
            }
            else if (r.State == ReplicaStates.Ready && now - r.UpdatedAt > 2 * s.Scheduler.HeartbeatInterval && s.Misses.Missed(r.Id) >= 2)
            {
                // Ready here but missing from two heartbeats in a row (one late heartbeat, built before the load, is not
                // enough): the worker no longer has it (it restarted). Forget it so it is placed again.
                s.Db.Replicas.Remove(r);
                s.Misses.Forget(r.Id);
                changed = true;
            }
        }

        await s.Db.SaveChangesAsync(ct);
        var known = worker.Replicas.Select(r => r.Id).ToHashSet();
        foreach (var l in loaded.Values.Where(l => !known.Contains(l.ReplicaId)))
        {
            s.Orders.Unload(worker.Id, l.ReplicaId); // loaded there but no longer wanted
        }

        if (changed)
        {
            await s.Changed.RaiseAsync(CancellationToken.None);
        }

        return TypedResults.Ok();
    }

    private static async Task<Ok<List<WorkerDto>>> List(MdsDbContext db, CancellationToken ct)
    {
        var workers = await WorkersWithReplicas(db).OrderBy(w => w.Name).ToListAsync(ct);
        return TypedResults.Ok(workers.Select(ToDto).ToList());
    }

    private static async Task<Results<Ok<WorkerDto>, NotFound<V2Error>, ProblemHttpResult>> SetState(long id, string state, ClusterServices s, CancellationToken ct)
    {
        var worker = await s.Db.Workers.SingleOrDefaultAsync(w => w.Id == id, ct);
        if (worker is null)
        {
            return TypedResults.NotFound(new V2Error($"worker {id} does not exist"));
        }

        if (worker.State == WorkerStates.Offline)
        {
            return TypedResults.Problem($"Worker '{worker.Name}' is offline; it is drained already.", statusCode: StatusCodes.Status409Conflict);
        }

        worker.State = state;
        await s.Db.SaveChangesAsync(ct);
        await s.Changed.RaiseAsync(CancellationToken.None);
        return TypedResults.Ok(ToDto(await WorkersWithReplicas(s.Db).SingleAsync(w => w.Id == id, ct)));
    }

    private static IQueryable<Worker> WorkersWithReplicas(MdsDbContext db) =>
        db.Workers.AsNoTracking().Include(w => w.Replicas).ThenInclude(r => r.ModelVersion).ThenInclude(v => v.Model);

    private static WorkerDto ToDto(Worker w) => new(
        w.Id, w.Name, w.RestUrl, w.GrpcUrl, w.Capabilities, w.MemoryCapacityMb, w.MemoryInUseBytes, w.InFlight, w.State,
        w.RegisteredAt, w.LastHeartbeatAt,
        [.. w.Replicas.OrderBy(r => r.Id).Select(r => new WorkerReplicaDto(r.Id, r.ModelVersion.Model.Name, r.ModelVersion.Version, r.State))]);

    private static async Task<Results<Ok<ReplicaAssignment>, NotFound<V2Error>, ProblemHttpResult>> Assignment(long id, ClaimsPrincipal user, MdsDbContext db, CancellationToken ct)
    {
        var owner = await db.Replicas.Where(r => r.Id == id).Select(r => (long?)r.WorkerId).SingleOrDefaultAsync(ct);
        if (owner is not null && owner != WorkerCredentialHandler.WorkerIdOf(user))
        {
            return NotYours();
        }

        var a = await db.Replicas.AsNoTracking().Where(r => r.Id == id)
            .Select(r => new ReplicaAssignment(r.Id, r.ModelVersionId, r.ModelVersion.Model.Name, r.ModelVersion.Version,
                r.ModelVersion.ArtifactSha256, r.ModelVersion.Artifact.SizeBytes, r.State != ReplicaStates.Unloading,
                r.ModelVersion.MaxBatchSize == null ? null : new BatchingSettings(r.ModelVersion.MaxBatchSize.Value, r.ModelVersion.MaxBatchLatencyMicroseconds ?? 0)))
            .SingleOrDefaultAsync(ct);
        return a is null ? TypedResults.NotFound(new V2Error($"replica {id} does not exist")) : TypedResults.Ok(a);
    }

    private static async Task<Results<NoContent, NotFound<V2Error>, ProblemHttpResult>> ReportState(long id, ReplicaStateReport? report, ClaimsPrincipal user, [FromServices] ClusterServices s, CancellationToken ct)
    {
        if (report is null || report.State is not (ReplicaStates.Loading or ReplicaStates.Ready or ReplicaStates.Failed))
        {
            return TypedResults.Problem("state must be Loading, Ready or Failed.", statusCode: 400);
        }

        var replica = await s.Db.Replicas.Include(r => r.ModelVersion).SingleOrDefaultAsync(r => r.Id == id, ct);
        if (replica is null)
        {
            return TypedResults.NotFound(new V2Error($"replica {id} does not exist"));
        }

        if (replica.WorkerId != WorkerCredentialHandler.WorkerIdOf(user))
        {
            return NotYours();
        }

        if (replica.State == ReplicaStates.Unloading)
        {
            return TypedResults.NoContent();
        }

        replica.State = report.State;
        replica.Error = report.State == ReplicaStates.Failed ? Truncate(report.Error ?? "failed without a reason", 4000) : null;
        replica.UpdatedAt = s.Clock.GetUtcNow();
        if (report.MemoryBytes is long bytes and > 0)
        {
            replica.MemoryBytes = bytes;
            replica.ModelVersion.MeasuredMemoryMb ??= (int)Math.Max(1, (bytes + (1 << 20) - 1) >> 20);
        }

        await s.Db.SaveChangesAsync(ct);
        if (report.State != ReplicaStates.Loading)
        {
            await s.Changed.RaiseAsync(CancellationToken.None);
        }

        return TypedResults.NoContent();
    }

    private static async Task<Results<PhysicalFileHttpResult, NotFound<V2Error>, ProblemHttpResult>> Artifact(string sha256, ClaimsPrincipal user, ArtifactStore store, MdsDbContext db, CancellationToken ct)
    {
        if (!ArtifactStore.IsSha256(sha256) || !File.Exists(store.PathOf(sha256)))
        {
            return TypedResults.NotFound(new V2Error($"no artifact {sha256}"));
        }

        // A worker downloads only the artifacts of versions placed on it; researchers and admins any.
        long? worker = WorkerCredentialHandler.WorkerIdOf(user);
        if (user.IsInRole(Roles.Worker)
            && !await db.Replicas.AnyAsync(r => r.WorkerId == worker && r.ModelVersion.ArtifactSha256 == sha256, ct))
        {
            return NotYours();
        }

        return TypedResults.PhysicalFile(store.PathOf(sha256), "application/octet-stream", enableRangeProcessing: true);
    }

    internal static List<string> NormalizeCapabilities(IEnumerable<string>? values) =>
        (values ?? []).Select(c => c.Trim().ToLowerInvariant()).Where(c => c.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList();

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>How many heartbeats in a row have left out a replica the database says is Ready on that worker.</summary>
public sealed class HeartbeatMisses
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, int> _misses = new();

    public int Missed(long replicaId) => _misses.AddOrUpdate(replicaId, 1, (_, n) => n + 1);

    public void Forget(long replicaId) => _misses.TryRemove(replicaId, out _);
}
