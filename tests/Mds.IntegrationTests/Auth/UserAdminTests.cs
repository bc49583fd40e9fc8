using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Auth;

/// <summary>Admins change people's roles and remove them, but the system always keeps an admin.</summary>
[Collection(ClusterCollection.Name)]
public sealed class UserAdminTests(MdsCluster cluster)
{
    [Fact]
    public async Task Roles_can_be_replaced_and_the_new_roles_apply_at_the_next_sign_in()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "roles-change@test.local", Roles.Analyst);

        var response = await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest([Roles.Researcher, Roles.Analyst]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var updated = (await response.Content.ReadFromJsonAsync<UserDto>())!;
        Assert.Equal([Roles.Analyst, Roles.Researcher], updated.Roles.Order(StringComparer.Ordinal));

        using var anonymous = new HttpClient { BaseAddress = cluster.BackendUrl };
        var token = await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest("roles-change@test.local", MdsCluster.Password));
        Assert.Contains(Roles.Researcher, (await token.Content.ReadFromJsonAsync<TokenResponse>())!.Roles);
    }

    [Fact]
    public async Task An_api_key_follows_its_owners_role_changes_and_deletion_at_once()
    {
        // The backend remembers a validated API key for a while (CredentialCache); a role change or a deletion must not wait for that.
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "key-owner@test.local", Roles.Analyst);
        using var owner = new HttpClient { BaseAddress = cluster.BackendUrl };
        var token = (await (await owner.PostAsJsonAsync("/api/auth/token", new TokenRequest("key-owner@test.local", MdsCluster.Password))).Content.ReadFromJsonAsync<TokenResponse>())!;
        owner.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
        var created = await owner.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("cache-test"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!;

        using var program = new HttpClient { BaseAddress = cluster.BackendUrl };
        program.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        Assert.Equal(HttpStatusCode.OK, (await program.GetAsync("/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await program.GetAsync("/api/users")).StatusCode); // an analyst's key, now remembered

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest([Roles.Admin]))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await program.GetAsync("/api/users")).StatusCode); // an admin's key from the next request on

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{user.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await program.GetAsync("/api/models")).StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Worker")]
    [InlineData("Analyst,Superuser")]
    public async Task Only_human_roles_are_accepted(string given)
    {
        string[] roles = given.Split(',', StringSplitOptions.RemoveEmptyEntries);
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, $"roles-bad-{roles.Length}-{string.Join("", roles)}@test.local", Roles.Analyst);
        var response = await admin.PutAsJsonAsync($"/api/users/{user.Id}/roles", new UpdateUserRolesRequest(roles));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_last_admin_keeps_the_admin_role_and_cannot_delete_themselves()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        string adminId = (await admin.GetFromJsonAsync<List<UserDto>>("/api/users"))!.Single(u => u.Email == MdsCluster.AdminEmail).Id;

        var demote = await admin.PutAsJsonAsync($"/api/users/{adminId}/roles", new UpdateUserRolesRequest([Roles.Researcher]));
        Assert.Equal(HttpStatusCode.BadRequest, demote.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.DeleteAsync($"/api/users/{adminId}")).StatusCode);

        // With a second admin, one of them can step down, and the other can remove them.
        var second = await CreateAsync(admin, "second-admin@test.local", Roles.Admin);
        var stepDown = await admin.PutAsJsonAsync($"/api/users/{second.Id}/roles", new UpdateUserRolesRequest([Roles.Analyst]));
        Assert.Equal(HttpStatusCode.OK, stepDown.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{second.Id}")).StatusCode);
        Assert.DoesNotContain((await admin.GetFromJsonAsync<List<UserDto>>("/api/users"))!, u => u.Id == second.Id);
    }

    [Fact]
    public async Task Unknown_users_are_404()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/users/no-such-user")).StatusCode);
        var put = await admin.PutAsJsonAsync("/api/users/no-such-user/roles", new UpdateUserRolesRequest([Roles.Analyst]));
        Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
    }

    [Fact]
    public async Task A_deleted_user_can_no_longer_sign_in()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var user = await CreateAsync(admin, "leaver@test.local", Roles.Researcher);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/users/{user.Id}")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = cluster.BackendUrl };
        var token = await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest("leaver@test.local", MdsCluster.Password));
        Assert.Equal(HttpStatusCode.Unauthorized, token.StatusCode);
    }

    private static async Task<UserDto> CreateAsync(HttpClient admin, string email, string role)
    {
        var response = await admin.PostAsJsonAsync("/api/users", new CreateUserRequest(email, MdsCluster.Password, [role]));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<UserDto>())!;
    }
}
