using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Auth;

/// <summary>
/// Sessions are revocable: a token stops working when its user is deleted, demoted, signs out or changes password —
/// at once on the backend that made the change, and within <c>Mds:Auth:SessionCheckInterval</c> (5 s) on the others.
/// API keys expire when asked to and cannot mint more keys.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SessionRevocationTests(MdsCluster cluster)
{
    private static readonly TimeSpan SessionCheckInterval = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_deleted_users_token_is_refused_at_once()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "deleted-token@test.local", Roles.Researcher);
        using var client = await SignedInAsync(cluster.BackendUrl, user.Email);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode); // validated, now remembered

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{user.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/models")).StatusCode);
    }

    [Fact]
    public async Task A_demoted_admin_loses_admin_at_once()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "demoted-admin@test.local", Roles.Admin);
        using var demoted = await SignedInAsync(cluster.BackendUrl, user.Email);
        Assert.Equal(HttpStatusCode.OK, (await demoted.GetAsync("/api/users")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest([Roles.Analyst]))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await demoted.GetAsync("/api/users")).StatusCode); // the token with the Admin role is dead

        using var again = await SignedInAsync(cluster.BackendUrl, user.Email);
        Assert.Equal(HttpStatusCode.Forbidden, (await again.GetAsync("/api/users")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/api/models")).StatusCode);
    }

    [Fact]
    public async Task Sign_out_revokes_the_token_on_every_backend()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "sign-out@test.local", Roles.Analyst);
        await using var backendB = await cluster.StartBackendAsync("backend-b");
        using var onA = await SignedInAsync(cluster.BackendUrl, user.Email);
        using var onB = new HttpClient { BaseAddress = backendB.Url };
        onB.DefaultRequestHeaders.Authorization = onA.DefaultRequestHeaders.Authorization;
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/models")).StatusCode); // B has validated it and remembers it

        Assert.Equal(HttpStatusCode.NoContent, (await onA.PostAsync("/api/auth/signout", null)).StatusCode);
        var revokedAt = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Unauthorized, (await onA.GetAsync("/api/models")).StatusCode);

        await Eventually.TrueAsync(async () => (await onB.GetAsync("/api/models")).StatusCode == HttpStatusCode.Unauthorized,
            SessionCheckInterval + TimeSpan.FromSeconds(3), "backend B refuses the signed-out token");
        Assert.True(revokedAt.Elapsed < SessionCheckInterval + TimeSpan.FromSeconds(3), $"B refused it after {revokedAt.Elapsed}");

        // A new sign-in works on both.
        using var fresh = await SignedInAsync(backendB.Url, user.Email);
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/models")).StatusCode);
    }

    [Fact]
    public async Task A_changed_password_revokes_old_tokens()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "changes-password@test.local", Roles.Researcher);
        using var old = await SignedInAsync(cluster.BackendUrl, user.Email);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("/api/models")).StatusCode);

        var wrong = await old.PostAsJsonAsync("/api/auth/password", new ChangePasswordRequest("not-the-password", "a-new-long-password"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var changed = await old.PostAsJsonAsync("/api/auth/password", new ChangePasswordRequest(MdsCluster.Password, "a-new-long-password"));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var renewed = (await changed.Content.ReadFromJsonAsync<TokenResponse>())!;

        Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("/api/models")).StatusCode);
        using var current = Bearer(cluster.BackendUrl, renewed.AccessToken);
        Assert.Equal(HttpStatusCode.OK, (await current.GetAsync("/api/models")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = cluster.BackendUrl };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(user.Email, MdsCluster.Password))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(user.Email, "a-new-long-password"))).StatusCode);
    }

    [Fact]
    public async Task An_admin_password_reset_revokes_the_users_tokens_and_the_generated_password_signs_in()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "forgot-password@test.local", Roles.Analyst);
        using var old = await SignedInAsync(cluster.BackendUrl, user.Email);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("/api/models")).StatusCode);

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync($"/api/users/{user.Id}/password", new ResetPasswordRequest("short"))).StatusCode);
        var reset = await admin.PostAsJsonAsync($"/api/users/{user.Id}/password", new ResetPasswordRequest(null));
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        string generated = (await reset.Content.ReadFromJsonAsync<ResetPasswordResponse>())!.GeneratedPassword!;

        Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("/api/models")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = cluster.BackendUrl };
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(user.Email, generated))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(user.Email, MdsCluster.Password))).StatusCode);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PostAsJsonAsync($"/api/users/{user.Id}/password", new ResetPasswordRequest(null))).StatusCode);
    }

    [Fact]
    public async Task An_expired_API_key_is_refused()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "expiring-key@test.local", Roles.Analyst);
        using var owner = await SignedInAsync(cluster.BackendUrl, user.Email);
        var past = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("already-expired", DateTimeOffset.UtcNow.AddMinutes(-1)));
        Assert.Equal(HttpStatusCode.BadRequest, past.StatusCode);

        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("short-lived", expiresAt));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!;
        Assert.NotNull(key.ExpiresAt);
        Assert.Contains(await owner.GetFromJsonAsync<List<ApiKeyDto>>("/api/keys") ?? [], k => k.Id == key.Id && k.ExpiresAt != null);

        using var program = Bearer(cluster.BackendUrl, key.Key);
        Assert.Equal(HttpStatusCode.OK, (await program.GetAsync("/api/models")).StatusCode); // valid, and remembered

        await Task.Delay(expiresAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(500));
        Assert.Equal(HttpStatusCode.Unauthorized, (await program.GetAsync("/api/models")).StatusCode);
    }

    [Fact]
    public async Task An_API_key_cannot_mint_keys()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var created = await admin.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("admin-program"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!;

        using var program = Bearer(cluster.BackendUrl, key.Key);
        Assert.Equal(HttpStatusCode.OK, (await program.GetAsync("/api/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await program.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("minted-by-a-key"))).StatusCode);
        // Nor take over accounts: no password change or reset with a key.
        Assert.Equal(HttpStatusCode.Forbidden, (await program.PostAsJsonAsync("/api/auth/password", new ChangePasswordRequest(MdsCluster.Password, "a-new-long-password"))).StatusCode);
        string analystId = (await admin.GetFromJsonAsync<List<UserDto>>("/api/users"))!.Single(u => u.Email == MdsCluster.EmailOf(Roles.Analyst)).Id;
        Assert.Equal(HttpStatusCode.Forbidden, (await program.PostAsJsonAsync($"/api/users/{analystId}/password", new ResetPasswordRequest(null))).StatusCode);
        Assert.DoesNotContain(await admin.GetFromJsonAsync<List<ApiKeyDto>>("/api/keys") ?? [], k => k.Name == "minted-by-a-key");
    }

    // The gateway answers an infer call from a remembered credential on its fast path (InferenceFastPath). Each test
    // below makes the credential remembered (one infer call validates it; the next takes the fast path), then revokes it,
    // and expects what any other request gets: 401 with the V2 error body.
    private const string FastPathModel = "fast-path-iris";

    [Fact]
    public async Task A_revoked_API_key_is_refused_on_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var owner = await cluster.ClientAsync(Roles.Analyst);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("fast-path-revoked"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!;
        using var program = Bearer(cluster.BackendUrl, key.Key);
        await InfersTwiceAsync(program);

        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/keys/{key.Id}")).StatusCode);
        await RefusedAsync(program);
    }

    [Fact]
    public async Task An_expired_API_key_is_refused_on_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var owner = await cluster.ClientAsync(Roles.Analyst);
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("fast-path-expiring", expiresAt));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var program = Bearer(cluster.BackendUrl, (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!.Key);
        await InfersTwiceAsync(program);

        await Task.Delay(expiresAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(500));
        await RefusedAsync(program);
    }

    [Fact]
    public async Task A_signed_out_sessions_token_is_refused_on_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "fast-path-sign-out@test.local", Roles.Analyst);
        using var session = await SignedInAsync(cluster.BackendUrl, user.Email);
        await InfersTwiceAsync(session);

        Assert.Equal(HttpStatusCode.NoContent, (await session.PostAsync("/api/auth/signout", null)).StatusCode);
        await RefusedAsync(session);
    }

    [Fact]
    public async Task A_token_issued_before_a_role_change_is_refused_on_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "fast-path-demoted@test.local", Roles.Researcher);
        using var old = await SignedInAsync(cluster.BackendUrl, user.Email);
        await InfersTwiceAsync(old);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest([Roles.Analyst]))).StatusCode);
        await RefusedAsync(old);
        using var again = await SignedInAsync(cluster.BackendUrl, user.Email); // the new token, with the new roles, works
        await InfersTwiceAsync(again);
    }

    [Fact]
    public async Task A_deleted_users_token_is_refused_on_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "fast-path-deleted@test.local", Roles.Analyst);
        using var session = await SignedInAsync(cluster.BackendUrl, user.Email);
        await InfersTwiceAsync(session);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{user.Id}")).StatusCode);
        await RefusedAsync(session);
    }

    [Fact]
    public async Task A_worker_credential_is_not_let_through_the_inference_fast_path()
    {
        await cluster.EnsureReadyAsync(FastPathModel, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var worker = Bearer(cluster.BackendUrl, "mdsw_not-a-real-worker-credential");
        var response = await worker.PostAsync($"/v2/models/{FastPathModel}/infer", IrisRequest());
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static async Task InfersTwiceAsync(HttpClient client)
    {
        for (int i = 0; i < 2; i++) // the first validates and remembers the credential; the second takes the fast path
        {
            var response = await client.PostAsync($"/v2/models/{FastPathModel}/infer", IrisRequest());
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            Assert.Equal(32, Assert.Single(response.Headers.GetValues(MdsHeaders.RequestId)).Length);
        }
    }

    private static async Task RefusedAsync(HttpClient client)
    {
        var response = await client.PostAsync($"/v2/models/{FastPathModel}/infer", IrisRequest());
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("authentication required", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal); // the V2 error body
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/models")).StatusCode); // as everywhere else
    }

    private static HttpContent IrisRequest() => V2Json.Request("Features", [1, 4], "FP32", new[] { 6.5f, 2.9f, 4.9f, 1.2f });

    internal static async Task<UserDto> CreateAsync(HttpClient admin, string email, string role)
    {
        var response = await admin.PostAsJsonAsync("/api/users", new CreateUserRequest(email, MdsCluster.Password, [role]));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<UserDto>())!;
    }

    internal static async Task<HttpClient> SignedInAsync(Uri backend, string email)
    {
        using var anonymous = new HttpClient { BaseAddress = backend };
        var response = await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(email, MdsCluster.Password));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return Bearer(backend, (await response.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken);
    }

    private static HttpClient Bearer(Uri backend, string token)
    {
        var client = new HttpClient { BaseAddress = backend };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
