using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Auth;

/// <summary>Every endpoint × every caller: the status the role rules promise.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RoleRulesTests(MdsCluster cluster)
{
    private const string Anonymous = "anonymous";
    private const string Worker = "worker-key";

    // caller → expected status per endpoint. 401: not signed in; 403: signed in without the role.
    public static TheoryData<string, string, string, int> Rules()
    {
        var data = new TheoryData<string, string, string, int>();
        void Rule(string method, string path, int anonymous, int analyst, int researcher, int admin, int worker)
        {
            data.Add(method, path, Anonymous, anonymous);
            data.Add(method, path, Roles.Analyst, analyst);
            data.Add(method, path, Roles.Researcher, researcher);
            data.Add(method, path, Roles.Admin, admin);
            data.Add(method, path, Worker, worker);
        }

        Rule("GET", "/api/models", 401, 200, 200, 200, 403);
        Rule("GET", "/api/models/rules-model", 401, 200, 200, 200, 403);
        Rule("GET", "/api/models/rules-model/versions/1", 401, 200, 200, 200, 403);
        Rule("POST", "/api/models", 401, 403, 400, 400, 403); // signed-in researchers get past auth to validation
        Rule("POST", "/api/models/rules-model/versions/1/live", 401, 403, 200, 200, 403);
        Rule("DELETE", "/api/models/rules-model/versions/999", 401, 403, 404, 404, 403);
        Rule("GET", "/api/workers", 401, 403, 200, 200, 403);
        Rule("GET", "/api/config", 401, 200, 200, 200, 403);
        // "worker-key" is the cluster's bootstrap key: it may register a new worker name and nothing else (a worker's
        // own credential is tested in Workers/WorkerAuthTests).
        Rule("POST", "/api/workers/register", 401, 403, 403, 403, 400);
        Rule("POST", "/api/workers/999999/heartbeat", 401, 403, 403, 403, 403);
        Rule("POST", "/api/workers/999999/credential", 401, 403, 403, 403, 403);
        Rule("POST", "/api/workers/999999/reset-credential", 401, 403, 403, 404, 403);
        Rule("GET", "/api/cluster/replicas/999999", 401, 403, 403, 403, 403);
        Rule("POST", "/api/cluster/replicas/999999/state", 401, 403, 403, 403, 403);
        Rule("POST", "/api/cluster/api-keys/check", 401, 403, 403, 403, 403);
        Rule("GET", "/api/artifacts/" + new string('0', 64), 401, 403, 404, 404, 403);
        Rule("GET", "/.well-known/jwks.json", 200, 200, 200, 200, 200);
        Rule("GET", "/api/users", 401, 403, 403, 200, 403);
        Rule("POST", "/api/users", 401, 403, 403, 400, 403);
        Rule("PUT", "/api/users/no-such-user/roles", 401, 403, 403, 400, 403); // "{}" names no roles
        Rule("DELETE", "/api/users/no-such-user", 401, 403, 403, 404, 403);
        Rule("POST", "/api/models/inspect", 401, 403, 400, 400, 403);
        Rule("POST", "/api/feedback", 401, 400, 400, 400, 403);
        Rule("GET", "/api/models/rules-model/feedback", 401, 200, 200, 200, 403);
        Rule("GET", "/api/models/rules-model/feedback/accuracy", 401, 200, 200, 200, 403);
        Rule("POST", "/api/models/rules-model/versions/1/dataset", 401, 403, 400, 400, 403);
        Rule("GET", "/api/models/rules-model/versions/1/dataset", 401, 404, 404, 404, 403);
        Rule("GET", "/api/models/rules-model/versions/1/dataset/preview", 401, 404, 404, 404, 403);
        Rule("DELETE", "/api/models/rules-model/versions/1/dataset", 401, 403, 404, 404, 403);
        Rule("GET", "/api/stats/traffic", 401, 403, 403, 200, 403);
        Rule("GET", "/api/stats/failures", 401, 403, 403, 200, 403);
        Rule("GET", "/hangfire", 401, 403, 403, 200, 403);
        Rule("GET", "/api/keys", 401, 200, 200, 200, 403);
        Rule("POST", "/api/keys", 401, 400, 400, 400, 403);
        Rule("POST", "/api/auth/token", 400, 400, 400, 400, 400);
        Rule("GET", "/v2", 401, 200, 200, 200, 200);
        Rule("GET", "/v2/health/live", 200, 200, 200, 200, 200);
        Rule("GET", "/v2/health/ready", 200, 200, 200, 200, 200);
        Rule("GET", "/v2/models/rules-model", 401, 200, 200, 200, 200);
        Rule("GET", "/v2/models/rules-model/versions/1/ready", 401, 200, 200, 200, 200);
        Rule("POST", "/v2/models/rules-model/infer", 401, 400, 400, 400, 400); // authorised; the empty body is the problem
        return data;
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public async Task Endpoint_answers_each_caller_as_the_role_rules_say(string method, string path, string caller, int expected)
    {
        await EnsureModelAsync();
        using var client = new HttpClient { BaseAddress = cluster.BackendUrl };
        if (caller == Worker)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MdsCluster.WorkerKey);
        }
        else if (caller != Anonymous)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await cluster.TokenAsync(caller));
        }

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET" && method != "DELETE")
        {
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request);
        Assert.True((int)response.StatusCode == expected,
            $"{method} {path} as {caller}: expected {expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Api_key_works_like_its_owner_until_revoked()
    {
        await EnsureModelAsync();
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var created = await analyst.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("script"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!;
        Assert.StartsWith("mds_", key.Key);

        using var program = new HttpClient { BaseAddress = cluster.BackendUrl };
        program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var infer = await program.PostAsync("/v2/models/rules-model/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 4f }));
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await program.GetAsync("/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await program.GetAsync("/api/users")).StatusCode); // an analyst's key

        var listed = await analyst.GetFromJsonAsync<List<ApiKeyDto>>("/api/keys");
        Assert.Contains(listed!, k => k.Id == key.Id && k.Prefix == key.Prefix);
        Assert.Equal(HttpStatusCode.NoContent, (await analyst.DeleteAsync($"/api/keys/{key.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await program.GetAsync("/api/models")).StatusCode);

        program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key[..^2] + "xx");
        Assert.Equal(HttpStatusCode.Unauthorized, (await program.GetAsync("/api/models")).StatusCode);
    }

    [Fact]
    public async Task Wrong_password_gets_no_token()
    {
        using var client = new HttpClient { BaseAddress = cluster.BackendUrl };
        var response = await client.PostAsJsonAsync("/api/auth/token", new TokenRequest(MdsCluster.AdminEmail, "not-the-password"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task EnsureModelAsync()
    {
        using var client = await cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync("/api/models/rules-model")).StatusCode == HttpStatusCode.NotFound)
        {
            await cluster.DeployAsync("rules-model", TestGraphs.Linear([1f], 0f));
        }
    }
}
