using System.Collections.Concurrent;
using System.Security.Cryptography;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Mds.UnitTests.Workers;

/// <summary>
/// The backend's cluster API as a worker sees it, on a loopback port, recording every call: enough to drive a real
/// worker through registration, heartbeats and orders without PostgreSQL.
/// </summary>
internal sealed class FakeBackend : IAsyncDisposable
{
    public const string WorkerKey = "test-worker-key";

    private readonly WebApplication _app;
    private long _nextWorkerId = 7;
    private int _forgetNextHeartbeat;

    private FakeBackend(WebApplication app) => _app = app;

    public string Url => _app.Urls.First();

    public ConcurrentQueue<WorkerRegistration> Registrations { get; } = new();

    public ConcurrentQueue<(long WorkerId, WorkerHeartbeat Beat)> Heartbeats { get; } = new();

    public ConcurrentQueue<(long ReplicaId, ReplicaStateReport Report)> Reports { get; } = new();

    public ConcurrentDictionary<long, ReplicaAssignment> Assignments { get; } = new();

    /// <summary>What <c>GET /api/artifacts/{sha256}</c> serves, by SHA-256.</summary>
    public ConcurrentDictionary<string, byte[]> Artifacts { get; } = new();

    public int ArtifactDownloads;

    /// <summary>While true, registration answers 503, as a backend that is still starting does.</summary>
    public volatile bool RefuseRegistrations;

    public int RefusedRegistrations;

    public static async Task<FakeBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var backend = new FakeBackend(app);
        backend.Map(app);
        await app.StartAsync();
        return backend;
    }

    /// <summary>Makes the next heartbeat answer 404, as a backend that lost the worker does.</summary>
    public void ForgetWorker() => Interlocked.Exchange(ref _forgetNextHeartbeat, 1);

    /// <summary>Offers <paramref name="onnx"/> as the artifact of replica <paramref name="replicaId"/>.</summary>
    public string Assign(long replicaId, string model, int version, byte[] onnx, bool wanted = true)
    {
        string sha = Convert.ToHexStringLower(SHA256.HashData(onnx));
        Artifacts[sha] = onnx;
        Assignments[replicaId] = new ReplicaAssignment(replicaId, replicaId * 10, model, version, sha, onnx.Length, wanted);
        return sha;
    }

    public IReadOnlyList<ReplicaStateReport> ReportsFor(long replicaId) =>
        Reports.Where(r => r.ReplicaId == replicaId).Select(r => r.Report).ToList();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>The one API key this backend knows: what tests send to the worker (it authenticates every caller).</summary>
    public const string CallerKey = "mds_0000test_caller-key";

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (context.Request.Headers.Authorization != $"{ClusterNames.WorkerKeyScheme} {WorkerKey}")
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            await next(context);
        });

        app.MapPost("/api/workers/register", IResult (WorkerRegistration registration) =>
        {
            if (RefuseRegistrations)
            {
                Interlocked.Increment(ref RefusedRegistrations);
                return TypedResults.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            Registrations.Enqueue(registration);
            long id = Interlocked.Increment(ref _nextWorkerId);
            return TypedResults.Ok(new WorkerRegistered(id, ClusterNames.QueueFor(id), 100));
        });
        app.MapPost("/api/workers/{id:long}/heartbeat", IResult (long id, WorkerHeartbeat beat) =>
        {
            if (Interlocked.Exchange(ref _forgetNextHeartbeat, 0) == 1)
            {
                return TypedResults.NotFound();
            }

            Heartbeats.Enqueue((id, beat));
            return TypedResults.Ok();
        });
        app.MapGet("/api/cluster/replicas/{id:long}", IResult (long id) =>
            Assignments.TryGetValue(id, out var assignment) ? TypedResults.Ok(assignment) : TypedResults.NotFound());
        app.MapPost("/api/cluster/replicas/{id:long}/state", (long id, ReplicaStateReport report) =>
        {
            Reports.Enqueue((id, report));
            return TypedResults.NoContent();
        });
        app.MapPost("/api/cluster/api-keys/check", IResult (ApiKeyCheck check) =>
            check.Key == CallerKey ? TypedResults.Ok(new ApiKeyOwner("tester@test.local", ["Analyst"])) : TypedResults.NotFound());
        app.MapGet("/api/artifacts/{sha256}", IResult (string sha256) =>
        {
            Interlocked.Increment(ref ArtifactDownloads);
            return Artifacts.TryGetValue(sha256, out var bytes) ? TypedResults.Bytes(bytes, "application/octet-stream") : TypedResults.NotFound();
        });
    }
}
