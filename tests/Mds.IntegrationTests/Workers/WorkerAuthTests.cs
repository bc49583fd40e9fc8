using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.IntegrationTests.Auth;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Workers;

/// <summary>
/// Workers authenticate every caller, and each worker acts only as itself: the threats of M2-D's "Who may call what",
/// each closed on the real stack.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WorkerAuthTests(MdsCluster cluster)
{
    private const string Model = "worker-auth";

    [Fact]
    public async Task An_anonymous_caller_cannot_run_a_model_on_a_worker()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var anonymous = await cluster.WorkerClientAsync(cluster.Workers[0].Url, role: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/v2/models/{Model}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v2/models/stats")).StatusCode);

        // a made-up bearer token is no better than none
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "a.b.c");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode);

        // health stays open
        anonymous.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v2/health/ready")).StatusCode);
    }

    [Fact]
    public async Task A_users_JWT_and_API_key_work_directly_on_a_worker()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var withJwt = await cluster.WorkerClientAsync(cluster.Workers[0].Url, Roles.Analyst);
        string jwtId = "direct-jwt-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.OK, (await withJwt.SendAsync(Infer(jwtId))).StatusCode);

        string key = await CreateApiKeyAsync(Roles.Researcher);
        using var withKey = await cluster.WorkerClientAsync(cluster.Workers[0].Url, role: null);
        withKey.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        string keyId = "direct-key-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.OK, (await withKey.SendAsync(Infer(keyId))).StatusCode);

        // the audit record names the user the credential belongs to
        using var admin = await cluster.ClientAsync(Roles.Admin);
        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), (await RecordAsync(admin, jwtId)).Caller);
        Assert.Equal(MdsCluster.EmailOf(Roles.Researcher), (await RecordAsync(admin, keyId)).Caller);
    }

    [Fact]
    public async Task A_revoked_API_key_stops_working_on_workers_within_the_cache_window()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var owner = await cluster.ClientAsync(Roles.Analyst);
        var created = (await (await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("revoked-on-workers"))).Content.ReadFromJsonAsync<CreatedApiKey>())!;
        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url, role: null);
        worker.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Key);
        Assert.Equal(HttpStatusCode.OK, (await worker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode);

        Assert.True((await owner.DeleteAsync($"/api/keys/{created.Id}")).IsSuccessStatusCode);
        var revokedAt = DateTime.UtcNow;
        await Eventually.TrueAsync(async () =>
            (await worker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(45), "the revoked key to be refused by the worker");
        Assert.True(DateTime.UtcNow - revokedAt < TimeSpan.FromSeconds(35), "refused only after the 30 s cache window");
    }

    [Fact]
    public async Task A_signed_out_users_token_is_refused_by_workers()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await SessionRevocationTests.CreateAsync(admin, Unique("worker-sign-out"), Roles.Analyst);
        using var onBackend = await SessionRevocationTests.SignedInAsync(cluster.BackendUrl, user.Email);
        using var onWorker = OnWorker(onBackend);
        Assert.Equal(HttpStatusCode.OK, (await onWorker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode); // validated, now remembered

        Assert.Equal(HttpStatusCode.NoContent, (await onBackend.PostAsync("/api/auth/signout", null)).StatusCode);
        await RefusedWithinTheSessionCheckIntervalAsync(onWorker, "the signed-out token");
    }

    [Fact]
    public async Task A_demoted_admin_loses_admin_on_workers()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await SessionRevocationTests.CreateAsync(admin, Unique("worker-demoted"), Roles.Admin);
        using var onBackend = await SessionRevocationTests.SignedInAsync(cluster.BackendUrl, user.Email);
        using var onWorker = OnWorker(onBackend);
        Assert.Equal(HttpStatusCode.OK, (await onWorker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest([Roles.Analyst]))).StatusCode);
        await RefusedWithinTheSessionCheckIntervalAsync(onWorker, "the token that still says Admin");

        // signed in again, the user is an analyst, and that token works on the worker
        using var again = await SessionRevocationTests.SignedInAsync(cluster.BackendUrl, user.Email);
        using var againOnWorker = OnWorker(again);
        Assert.Equal(HttpStatusCode.OK, (await againOnWorker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode);
    }

    [Fact]
    public async Task A_deleted_users_token_is_refused_by_workers()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await SessionRevocationTests.CreateAsync(admin, Unique("worker-deleted"), Roles.Researcher);
        using var onBackend = await SessionRevocationTests.SignedInAsync(cluster.BackendUrl, user.Email);
        using var onWorker = OnWorker(onBackend);
        Assert.Equal(HttpStatusCode.OK, (await onWorker.GetAsync($"/v2/models/{Model}")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{user.Id}")).StatusCode);
        await RefusedWithinTheSessionCheckIntervalAsync(onWorker, "the deleted user's token");
    }

    /// <summary>The worker refuses the client's token (401) within its session check interval (5 s) plus slack.</summary>
    private static async Task RefusedWithinTheSessionCheckIntervalAsync(HttpClient onWorker, string what)
    {
        var revokedAt = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(async () =>
            (await onWorker.PostAsync($"/v2/models/{Model}/infer", Request())).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(15), what + " to be refused by the worker");
        Assert.True(revokedAt.Elapsed < TimeSpan.FromSeconds(9), $"refused only after {revokedAt.Elapsed} (the interval is 5 s)");
    }

    private HttpClient OnWorker(HttpClient signedIn)
    {
        var client = new HttpClient { BaseAddress = cluster.Workers[0].Url };
        client.DefaultRequestHeaders.Authorization = signedIn.DefaultRequestHeaders.Authorization;
        return client;
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}@test.local";

    [Fact]
    public async Task The_cluster_key_cannot_re_register_another_workers_name()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var before = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Name == cluster.Workers[0].Name);

        using var attacker = ClusterKeyClient();
        var response = await attacker.PostAsJsonAsync("/api/workers/register",
            new WorkerRegistration(before.Name, "http://127.0.0.1:9", null, ["onnx", "cpu"], 4096));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);

        var after = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Name == before.Name);
        Assert.Equal(before.RestUrl, after.RestUrl);
    }

    [Fact]
    public async Task A_worker_cannot_heartbeat_or_report_replicas_for_another_worker()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        var (id, credential) = await RegisterIdleWorkerAsync("threat-heartbeat");
        using var impostor = CredentialClient(credential);
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var victim = (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Name == cluster.Workers[0].Name);
        var victimReplica = victim.Replicas.First(r => r.State == ReplicaStates.Ready).ReplicaId;

        Assert.Equal(HttpStatusCode.Forbidden, (await impostor.PostAsJsonAsync($"/api/workers/{victim.Id}/heartbeat", new WorkerHeartbeat([], 0, 0))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await impostor.PostAsJsonAsync($"/api/cluster/replicas/{victimReplica}/state", new ReplicaStateReport(ReplicaStates.Failed, "forged", null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await impostor.GetAsync($"/api/cluster/replicas/{victimReplica}")).StatusCode);
        Assert.Equal(ReplicaStates.Ready, (await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers"))!.Single(w => w.Id == victim.Id).Replicas.Single(r => r.ReplicaId == victimReplica).State);

        // its own heartbeat is fine; the cluster key alone can do none of this
        Assert.Equal(HttpStatusCode.OK, (await impostor.PostAsJsonAsync($"/api/workers/{id}/heartbeat", new WorkerHeartbeat([], 0, 0))).StatusCode);
        using var clusterKey = ClusterKeyClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await clusterKey.PostAsJsonAsync($"/api/workers/{id}/heartbeat", new WorkerHeartbeat([], 0, 0))).StatusCode);

        // rotation: the new credential works, the old one no longer does
        var rotated = (await (await impostor.PostAsync($"/api/workers/{id}/credential", null)).Content.ReadFromJsonAsync<WorkerRegistered>())!;
        using var renewed = CredentialClient(rotated.Credential!);
        Assert.Equal(HttpStatusCode.OK, (await renewed.PostAsJsonAsync($"/api/workers/{id}/heartbeat", new WorkerHeartbeat([], 0, 0))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await impostor.PostAsJsonAsync($"/api/workers/{id}/heartbeat", new WorkerHeartbeat([], 0, 0))).StatusCode);
    }

    [Fact]
    public async Task A_worker_cannot_download_an_artifact_it_was_not_assigned()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var version = (await admin.GetFromJsonAsync<ModelVersionDto>($"/api/models/{Model}/versions/1"))!;
        var (_, credential) = await RegisterIdleWorkerAsync("threat-artifact");
        using var impostor = CredentialClient(credential);
        Assert.Equal(HttpStatusCode.Forbidden, (await impostor.GetAsync($"/api/artifacts/{version.Sha256}")).StatusCode);

        using var clusterKey = ClusterKeyClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await clusterKey.GetAsync($"/api/artifacts/{version.Sha256}")).StatusCode);

        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.OK, (await researcher.GetAsync($"/api/artifacts/{version.Sha256}")).StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/evil")]
    [InlineData("http://127.0.0.1:9/?x=1")]
    [InlineData("http://127.0.0.1:9/#f")]
    [InlineData("http://user:secret@127.0.0.1:9")]
    [InlineData("ftp://127.0.0.1:9")]
    [InlineData("file:///etc/passwd")]
    [InlineData("127.0.0.1:9")]
    public async Task A_registered_URL_with_a_path_or_a_bad_scheme_is_refused(string url)
    {
        using var clusterKey = ClusterKeyClient();
        string name = "bad-url-" + Guid.NewGuid().ToString("N")[..8];
        var rest = await clusterKey.PostAsJsonAsync("/api/workers/register", new WorkerRegistration(name, url, null, ["threat-test"], 1));
        Assert.Equal(HttpStatusCode.BadRequest, rest.StatusCode);
        var grpc = await clusterKey.PostAsJsonAsync("/api/workers/register", new WorkerRegistration(name, "http://127.0.0.1:9", url, ["threat-test"], 1));
        Assert.Equal(HttpStatusCode.BadRequest, grpc.StatusCode);
    }

    [Fact]
    public async Task Metrics_can_be_made_to_require_a_token()
    {
        // open by default (Prometheus scrapes it) ...
        using var open = await cluster.WorkerClientAsync(cluster.Workers[0].Url, role: null);
        Assert.Equal(HttpStatusCode.OK, (await open.GetAsync("/metrics")).StatusCode);

        // ... and 401 without a credential when Mds:Worker:MetricsRequireToken is set (a worker no model can use)
        var locked = await cluster.StartWorkerAsync("metrics-locked", "metricslocked", memoryMb: 1,
            settings: new Dictionary<string, string> { ["Mds__Worker__MetricsRequireToken"] = "true" });
        try
        {
            using var anonymous = await cluster.WorkerClientAsync(locked.Url, role: null);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v2/health/live")).StatusCode);
            using var admin = await cluster.WorkerClientAsync(locked.Url, Roles.Admin);
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/metrics")).StatusCode);
        }
        finally
        {
            await cluster.StopWorkerAsync(locked);
        }
    }

    [Fact]
    public async Task The_backend_publishes_its_public_signing_keys()
    {
        using var anonymous = await cluster.ClientAsync(null);
        var jwks = await anonymous.GetFromJsonAsync<System.Text.Json.JsonElement>("/.well-known/jwks.json");
        var key = jwks.GetProperty("keys")[0];
        Assert.Equal(("EC", "P-256", "ES256"), (key.GetProperty("kty").GetString(), key.GetProperty("crv").GetString(), key.GetProperty("alg").GetString()));
        Assert.False(key.TryGetProperty("d", out _)); // never the private half
    }

    /// <summary>Registers a worker that can take no replica (no capability any model needs, 1 MiB) and drains it.</summary>
    private async Task<(long Id, string Credential)> RegisterIdleWorkerAsync(string prefix)
    {
        using var clusterKey = ClusterKeyClient();
        string name = prefix + "-" + Guid.NewGuid().ToString("N")[..8];
        var response = await clusterKey.PostAsJsonAsync("/api/workers/register", new WorkerRegistration(name, "http://127.0.0.1:9", null, ["threat-test"], 1));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var registered = (await response.Content.ReadFromJsonAsync<WorkerRegistered>())!;
        Assert.StartsWith("mdsw_", registered.Credential, StringComparison.Ordinal);
        using var admin = await cluster.ClientAsync(Roles.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/workers/{registered.WorkerId}/drain", null)).StatusCode);
        return (registered.WorkerId, registered.Credential!);
    }

    private HttpClient ClusterKeyClient() => CredentialClient(MdsCluster.WorkerKey);

    private HttpClient CredentialClient(string credential)
    {
        var client = new HttpClient { BaseAddress = cluster.BackendUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        return client;
    }

    private async Task<string> CreateApiKeyAsync(string role)
    {
        using var owner = await cluster.ClientAsync(role);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("direct-" + role));
        return (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!.Key;
    }

    private static StringContent Request() => V2Json.Request("x", [1, 1], "FP32", new[] { 1f });

    private static HttpRequestMessage Infer(string requestId)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = Request() };
        message.Headers.Add(MdsHeaders.RequestId, requestId);
        return message;
    }

    internal static async Task<InferenceRecordSummaryDto> RecordAsync(HttpClient client, string requestId)
    {
        InferenceRecordSummaryDto? found = null;
        await Eventually.TrueAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}");
            found = page!.Records.FirstOrDefault();
            return found is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        return found!;
    }
}
