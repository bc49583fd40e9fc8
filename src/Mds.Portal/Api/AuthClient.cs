using System.Net;
using System.Net.Http.Headers;
using Mds.Contracts.Api;

namespace Mds.Portal.Api;

/// <summary>
/// The backend's sign-in and session endpoints (<c>/api/auth</c>). Sign-in is anonymous; sign-out and password change
/// carry the token they are about, handed in by the caller (they run outside a circuit, on the sign-in cookie's user).
/// </summary>
public sealed class AuthClient(HttpClient http)
{
    /// <summary>
    /// Exchanges email and password for a backend token; null when the backend refuses them (400 or 401). The browser's
    /// address goes along as <c>X-Forwarded-For</c>, so the backend's per-address sign-in limit counts the person, not
    /// the portal. Throws <see cref="HttpRequestException"/> when the backend cannot be reached, fails, or throttles
    /// the attempt (429: the message says when to try again).
    /// </summary>
    public async Task<TokenResponse?> RequestTokenAsync(string email, string password, IPAddress? clientAddress, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/token") { Content = await BodyAsync(new TokenRequest(email, password), cancellationToken) };
        if (clientAddress is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", (clientAddress.IsIPv4MappedToIPv6 ? clientAddress.MapToIPv4() : clientAddress).ToString());
        }

        using var response = await BackendClient.SendAsync(http, request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest)
        {
            return null;
        }

        await BackendClient.EnsureSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
            ?? throw new HttpRequestException("The backend answered the sign-in without a token.");
    }

    /// <summary>Revokes every token of <paramref name="accessToken"/>'s user (all their sessions) on the backend.</summary>
    public async Task SignOutAsync(string accessToken, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/signout");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await BackendClient.SendAsync(http, request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized) // already revoked or expired: nothing left to end
        {
            await BackendClient.EnsureSuccessAsync(response, cancellationToken);
        }
    }

    /// <summary>
    /// Changes the password of <paramref name="accessToken"/>'s user; the backend revokes their tokens and answers a new
    /// one. Throws with the backend's reason (wrong current password, weak new one).
    /// </summary>
    public async Task<TokenResponse> ChangePasswordAsync(string accessToken, string currentPassword, string newPassword, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/password")
        {
            Content = await BodyAsync(new ChangePasswordRequest(currentPassword, newPassword), cancellationToken),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await BackendClient.SendAsync(http, request, cancellationToken);
        await BackendClient.EnsureSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
            ?? throw new HttpRequestException("The backend answered the password change without a token.");
    }

    private static async Task<HttpContent> BodyAsync<T>(T value, CancellationToken cancellationToken)
    {
        var body = JsonContent.Create(value);
        // Buffered so the request carries a Content-Length rather than a chunked body: small, and any proxy takes it.
        await body.LoadIntoBufferAsync(cancellationToken);
        return body;
    }
}
