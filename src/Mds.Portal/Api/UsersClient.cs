using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>People and their roles: <c>/api/users</c> (Admin).</summary>
public sealed class UsersClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>Every user with their roles.</summary>
    public Task<IReadOnlyList<UserDto>> ListAsync(CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<UserDto>>("api/users", cancellationToken);

    /// <summary>Creates a user; throws with the backend's reason (taken email, weak password).</summary>
    public async Task<UserDto> CreateAsync(CreateUserRequest user, CancellationToken cancellationToken = default)
        => await SendForAsync<UserDto>(HttpMethod.Post, "api/users", await JsonBodyAsync(user, cancellationToken), cancellationToken);

    /// <summary>Replaces a user's roles.</summary>
    public async Task UpdateRolesAsync(string id, IReadOnlyList<string> roles, CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Put, $"api/users/{Uri.EscapeDataString(id)}/roles", await JsonBodyAsync(new UpdateUserRolesRequest(roles), cancellationToken), cancellationToken);

    /// <summary>
    /// Resets a user's password to <paramref name="password"/>, or to a generated one when null (answered, shown once);
    /// every session of theirs ends.
    /// </summary>
    public async Task<ResetPasswordResponse> ResetPasswordAsync(string id, string? password, CancellationToken cancellationToken = default)
        => await SendForAsync<ResetPasswordResponse>(HttpMethod.Post, $"api/users/{Uri.EscapeDataString(id)}/password", await JsonBodyAsync(new ResetPasswordRequest(password), cancellationToken), cancellationToken);

    /// <summary>Deletes a user.</summary>
    public Task DeleteAsync(string id, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Delete, $"api/users/{Uri.EscapeDataString(id)}", null, cancellationToken);
}
