using System.Net;

namespace Mds.Portal.Auth;

/// <summary>
/// The one place a backend 401 turns into the sign-in page: every typed client of the backend sends through this
/// handler, and when the backend refuses the token a request carried (revoked, expired, the user deleted) the
/// browser goes to sign in again. The response still reaches the caller, which shows nothing more for it.
/// </summary>
/// <remarks>
/// <see cref="IHttpClientFactory"/> builds handlers in a scope of its own, not the page's, so the handler does not
/// resolve the page's services: the request carries its sender's <see cref="BackendToken"/> (set where the token is
/// attached), and that scoped token knows its page.
/// </remarks>
public sealed class SignInOnUnauthorized : DelegatingHandler
{
    /// <summary>The request option that names the <see cref="BackendToken"/> whose bearer token the request carries.</summary>
    public static readonly HttpRequestOptionsKey<BackendToken> Sender = new("mds.backend-token");

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = await base.SendAsync(request, cancellationToken);
        // Only a request that carried the sign-in's token: a refused password (the sign-in form's own call) is not this.
        if (response.StatusCode == HttpStatusCode.Unauthorized && request.Options.TryGetValue(Sender, out var token))
        {
            token.Refused();
        }

        return response;
    }
}
