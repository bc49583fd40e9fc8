using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;

namespace Mds.Workers.Cluster;

/// <summary>
/// The backend's cluster API as the worker calls it (every call carries the worker's own credential as a bearer token,
/// or the cluster key until the first registration has issued one: <see cref="WorkerCredential"/>):
/// <list type="bullet">
/// <item><c>POST /api/workers/register</c> <see cref="WorkerRegistration"/> → <see cref="WorkerRegistered"/></item>
/// <item><c>POST /api/workers/{id}/heartbeat</c> <see cref="WorkerHeartbeat"/> → 2xx, or 404 when the backend forgot the worker</item>
/// <item><c>GET /api/cluster/replicas/{id}</c> → <see cref="ReplicaAssignment"/>, or 404</item>
/// <item><c>POST /api/cluster/replicas/{id}/state</c> <see cref="ReplicaStateReport"/> → 2xx</item>
/// <item><c>GET /api/artifacts/{sha256}</c> → the ONNX file's bytes</item>
/// <item><c>POST /api/cluster/api-keys/check</c> <see cref="ApiKeyCheck"/> → <see cref="ApiKeyOwner"/>, or 404</item>
/// <item><c>POST /api/cluster/sessions/check</c> <see cref="SessionCheck"/> → 204, or 404 when revoked</item>
/// </list>
/// </summary>
internal sealed class BackendClient(IHttpClientFactory httpClientFactory)
{
    /// <summary>The named HttpClient (base address and key set in <see cref="ClusterExtensions"/>).</summary>
    public const string HttpClientName = "mds-backend";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // Control calls are small; a backend that does not answer in this time is treated as away.
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(10);

    public async Task<WorkerRegistered> RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().PostAsJsonAsync("api/workers/register", registration, Json, timeout.Token).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "register", timeout.Token).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<WorkerRegistered>(Json, timeout.Token).ConfigureAwait(false)
            ?? throw new BackendException("register: the backend answered with an empty body");
    }

    /// <summary>Sends a heartbeat; false when the backend does not know this worker id (404).</summary>
    public async Task<bool> HeartbeatAsync(long workerId, WorkerHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().PostAsJsonAsync(Path("api/workers/{0}/heartbeat", workerId), heartbeat, Json, timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, "heartbeat", timeout.Token).ConfigureAwait(false);
        return true;
    }

    /// <summary>What replica <paramref name="replicaId"/> is; null when the backend does not know it (404).</summary>
    public async Task<ReplicaAssignment?> GetAssignmentAsync(long replicaId, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().GetAsync(Path("api/cluster/replicas/{0}", replicaId), timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccessAsync(response, "get replica assignment", timeout.Token).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<ReplicaAssignment>(Json, timeout.Token).ConfigureAwait(false);
    }

    public async Task ReportStateAsync(long replicaId, ReplicaStateReport report, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().PostAsJsonAsync(Path("api/cluster/replicas/{0}/state", replicaId), report, Json, timeout.Token).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "report replica state", timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Whose API key <paramref name="key"/> is; null when it is not a valid key (404).</summary>
    public async Task<ApiKeyOwner?> CheckApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().PostAsJsonAsync("api/cluster/api-keys/check", new ApiKeyCheck(key), Json, timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccessAsync(response, "check an API key", timeout.Token).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<ApiKeyOwner>(Json, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Whether a user's JWT is still a live session (its stamp is current): true on 204, false on 404.</summary>
    public async Task<bool> CheckSessionAsync(string userId, string stamp, CancellationToken cancellationToken)
    {
        using var timeout = Timeout(cancellationToken);
        using var response = await Http().PostAsJsonAsync("api/cluster/sessions/check", new SessionCheck(userId, stamp), Json, timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, "check a session", timeout.Token).ConfigureAwait(false);
        return true;
    }

    /// <summary>Starts downloading an artifact; the caller reads and disposes the response.</summary>
    public async Task<HttpResponseMessage> GetArtifactAsync(string sha256, CancellationToken cancellationToken)
    {
        var response = await Http().GetAsync("api/artifacts/" + sha256, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureSuccessAsync(response, "download artifact " + sha256, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private HttpClient Http() => httpClientFactory.CreateClient(HttpClientName);

    private static string Path(string format, long id) => string.Format(CultureInfo.InvariantCulture, format, id);

    private static CancellationTokenSource Timeout(CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(ControlTimeout);
        return source;
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (body.Length > 500)
        {
            body = body[..500] + "…";
        }

        string hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? " (check Mds:Cluster:WorkerKey, and the worker's credential file)"
            : "";
        throw new BackendException($"{what}: the backend answered {(int)response.StatusCode} {response.ReasonPhrase}{hint}: {body}", response.StatusCode);
    }
}

/// <summary>The backend answered a call with an error status.</summary>
internal sealed class BackendException : Exception
{
    public BackendException(string message, HttpStatusCode? statusCode) : base(message) => StatusCode = statusCode;

    public BackendException() { }

    public BackendException(string message) : base(message) { }

    public BackendException(string message, Exception inner) : base(message, inner) { }

    public HttpStatusCode? StatusCode { get; }
}
