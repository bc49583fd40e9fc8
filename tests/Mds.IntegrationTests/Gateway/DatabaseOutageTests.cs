using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Mds.Contracts.Api;
using Mds.Contracts.Inference.Grpc;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Npgsql;

namespace Mds.IntegrationTests.Gateway;

/// <summary>
/// The gateway through a PostgreSQL outage: a second backend reaches the database through a relay the test cuts (the
/// suite's server itself never stops). Callers it checked before the outage keep being served (their last known
/// security stamp and API key, up to <c>Mds:Auth:SessionOutageGrace</c>); anyone else gets 503 with Retry-After, never
/// 500 (gRPC: UNAVAILABLE).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DatabaseOutageTests(MdsCluster cluster)
{
    private const string Model = "db-outage";

    // Past both the stamp's check interval and the API key's lifetime (5 s each): every check must ask the database.
    private static readonly TimeSpan PastCaches = TimeSpan.FromSeconds(5.5);

    [Fact]
    public async Task The_gateway_keeps_serving_known_users_while_the_database_is_down()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([1f], 0f));
        string key = await ApiKeyAsync(Roles.Analyst);
        string token = await cluster.TokenAsync(Roles.Analyst);
        var (relay, backend, grpcPort) = await BackendBehindRelayAsync();
        await using var _ = relay;
        await using var __ = backend;
        using var jwt = Bearer(backend.Url, token);
        using var apiKey = Bearer(backend.Url, key);
        using var channel = MdsCluster.ChannelWithToken($"http://127.0.0.1:{grpcPort}", token);
        var grpc = new GRPCInferenceService.GRPCInferenceServiceClient(channel);

        // Known to this backend: each checked once while the database is up.
        Assert.Equal(HttpStatusCode.OK, (await InferAsync(jwt)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InferAsync(apiKey)).StatusCode);
        Assert.Equal(Model, (await grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = Model })).Name);

        relay.Cut();
        try
        {
            await Task.Delay(PastCaches);
            for (int i = 0; i < 3; i++)
            {
                var byToken = await InferAsync(jwt);
                Assert.True(byToken.StatusCode == HttpStatusCode.OK, $"JWT: {byToken.StatusCode} {await byToken.Content.ReadAsStringAsync()}\n{backend.OutputTail}");
                var byKey = await InferAsync(apiKey);
                Assert.True(byKey.StatusCode == HttpStatusCode.OK, $"API key: {byKey.StatusCode} {await byKey.Content.ReadAsStringAsync()}\n{backend.OutputTail}");
                Assert.Equal(Model, (await grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = Model })).Name);
            }
        }
        finally
        {
            relay.Restore();
        }

        Assert.Equal(HttpStatusCode.OK, (await InferAsync(jwt)).StatusCode);
    }

    [Fact]
    public async Task An_unknown_user_gets_503_not_500_while_the_database_is_down()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([1f], 0f));
        string knownKey = await ApiKeyAsync(Roles.Analyst);
        string unknownKey = await ApiKeyAsync(Roles.Researcher);
        string known = await cluster.TokenAsync(Roles.Analyst);
        string unknown = await cluster.TokenAsync(Roles.Researcher);
        // A short grace: the known analyst's last answer is too old by the time it is needed.
        var (relay, backend, grpcPort) = await BackendBehindRelayAsync(new Dictionary<string, string> { ["Mds__Auth__SessionOutageGrace"] = "00:00:02" });
        await using var _ = relay;
        await using var __ = backend;
        using var knownJwt = Bearer(backend.Url, known);
        using var knownApiKey = Bearer(backend.Url, knownKey);
        Assert.Equal(HttpStatusCode.OK, (await InferAsync(knownJwt)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InferAsync(knownApiKey)).StatusCode);
        using var unknownJwt = Bearer(backend.Url, unknown);
        using var unknownApiKey = Bearer(backend.Url, unknownKey);
        using var channel = MdsCluster.ChannelWithToken($"http://127.0.0.1:{grpcPort}", unknown);
        var grpc = new GRPCInferenceService.GRPCInferenceServiceClient(channel);

        relay.Cut();
        try
        {
            await Task.Delay(PastCaches);
            foreach (var (who, client) in new[] { ("unknown JWT", unknownJwt), ("unknown API key", unknownApiKey), ("JWT past the grace", knownJwt), ("API key past the grace", knownApiKey) })
            {
                var response = await InferAsync(client);
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{who}: {response.StatusCode} {body}\n{backend.OutputTail}");
                Assert.Contains("user store is unavailable", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
                Assert.NotNull(response.Headers.RetryAfter);
            }

            var refused = await Assert.ThrowsAsync<RpcException>(() => grpc.ModelMetadataAsync(new ModelMetadataRequest { Name = Model }).ResponseAsync);
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        }
        finally
        {
            relay.Restore();
        }

        // Back: the same credentials work (Npgsql's pool reconnects).
        await Eventually.TrueAsync(async () => (await InferAsync(unknownJwt)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the unknown user is served once the database is back");
        Assert.Equal(HttpStatusCode.OK, (await InferAsync(unknownApiKey)).StatusCode);
    }

    /// <summary>A second backend whose database connections go through a relay the test can cut; with a gRPC port.</summary>
    private async Task<(TcpRelay Relay, ServiceProcess Backend, int GrpcPort)> BackendBehindRelayAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var server = new NpgsqlConnectionStringBuilder(cluster.BackendConnectionString);
        var address = (await Dns.GetHostAddressesAsync(server.Host!)).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        var relay = new TcpRelay(new IPEndPoint(address, server.Port));
        var viaRelay = new NpgsqlConnectionStringBuilder(cluster.BackendConnectionString) { Host = "127.0.0.1", Port = relay.Port, Timeout = 3, CommandTimeout = 5 };
        int grpcPort = TestEnvironment.FreePort();
        var environment = new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            ["ConnectionStrings__Mds"] = viaRelay.ConnectionString,
            ["Mds__Gateway__GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
        };
        try
        {
            return (relay, await cluster.StartBackendAsync("backend-outage", environment), grpcPort);
        }
        catch
        {
            await relay.DisposeAsync();
            throw;
        }
    }

    private async Task<string> ApiKeyAsync(string role)
    {
        using var owner = await cluster.ClientAsync(role);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("db-outage-" + Guid.NewGuid().ToString("N")[..8]));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!.Key;
    }

    private static Task<HttpResponseMessage> InferAsync(HttpClient client) =>
        client.PostAsync($"/v2/models/{Model}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));

    private static HttpClient Bearer(Uri backend, string credential)
    {
        var client = new HttpClient { BaseAddress = backend, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        return client;
    }
}
