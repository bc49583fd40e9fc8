using System.Security.Claims;
using Mds.Workers.Auth;
using Microsoft.AspNetCore.Authorization;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Inference;

/// <summary>
/// The serving hot path: <c>POST /v2/models/{name}[/versions/{version}]/infer</c> from a caller whose credential this
/// worker already checked goes straight to <see cref="InferenceApi.InferAsync"/>, without endpoint routing, the
/// authentication and authorization middleware and the HTTP metrics middleware, which together cost more per request
/// than a small model's run (about a fifth of the worker's request path in a profile at 8 clients).
/// <para>
/// It is never weaker than the full pipeline, because it decides nothing the pipeline would not: it answers only a
/// credential the pipeline has already validated and remembered (<see cref="ValidatedTokens"/> for a JWT, until the
/// token expires; <see cref="ApiKeyOwners"/> for an API key, for the 30 s the backend's answer is reused), applies the
/// same session rule to a user's JWT (<see cref="CallerAuthentication.WhyNotLiveAsync"/>), and requires what the
/// <c>/v2</c> endpoints require (the default authorization policy, an authenticated caller); it switches itself off
/// when that policy asks for more or a fallback policy exists. Anything else (no credential, an unknown or
/// expired one, a session the backend no longer vouches for, another method or path shape, a trailing slash) goes on
/// to the full pipeline, which answers it exactly as before and remembers a credential it validates.
/// </para>
/// Inference calls answered here are not in prometheus-net's <c>http_requests_in_progress</c>; the worker's own
/// <c>mds_worker_model_requests_in_flight</c> and <c>_waiting</c> count them (the autoscaler reads those).
/// </summary>
internal sealed class InferenceFastPath
{
    private readonly RequestDelegate _next;
    private readonly InferenceServices _services;
    private readonly ValidatedTokens _tokens;
    private readonly ApiKeyOwners _keys;
    private readonly SessionStamps _stamps;
    private readonly bool _enabled;

    public InferenceFastPath(
        RequestDelegate next, InferenceServices services, ValidatedTokens tokens, ApiKeyOwners keys, SessionStamps stamps, IOptions<AuthorizationOptions> authorization)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        _next = next;
        _services = services;
        _tokens = tokens;
        _keys = keys;
        _stamps = stamps;
        _enabled = AuthenticatedIsEnough(authorization.Value);
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (_enabled && HttpMethods.IsPost(context.Request.Method) && TryMatch(context.Request.Path.Value, out var route))
        {
            var token = CallerAuthentication.BearerTokenSpan(context.Request);
            if (token.IsEmpty)
            {
                return _next(context);
            }

            var id = ConnectionCredential.IdOf(context, token);
            if (token.StartsWith(ApiKeyHandler.KeyPrefix, StringComparison.Ordinal))
            {
                if (_keys.TryGetRemembered(id, out var owner))
                {
                    return RunAsync(context, route, owner);
                }
            }
            else if (_tokens.TryGet(id, out var remembered))
            {
                return RunLiveAsync(context, route, remembered);
            }
        }

        return _next(context);
    }

    /// <summary>
    /// Whether <paramref name="path"/> is exactly <c>/v2/models/{name}/infer</c> or
    /// <c>/v2/models/{name}/versions/{version}/infer</c> (literals in any case, as routing matches them; no empty
    /// segment, no trailing slash), and the model it names.
    /// </summary>
    internal static bool TryMatch(string? path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ModelRoute? route)
    {
        route = null;
        const string prefix = "/v2/models/";
        const string infer = "/infer";
        if (path is null || path.Length <= prefix.Length + infer.Length
            || !path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || !path.EndsWith(infer, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var middle = path.AsSpan(prefix.Length, path.Length - prefix.Length - infer.Length); // {name} or {name}/versions/{version}
        int slash = middle.IndexOf('/');
        if (slash < 0)
        {
            route = new ModelRoute(middle.ToString(), null);
            return true;
        }

        const string versions = "/versions/";
        var rest = middle[slash..];
        if (slash == 0 || !rest.StartsWith(versions, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var version = rest[versions.Length..];
        if (version.IsEmpty || version.Contains('/'))
        {
            return false;
        }

        route = new ModelRoute(middle[..slash].ToString(), version.ToString());
        return true;
    }

    /// <summary>Whether the <c>/v2</c> endpoints' policy (the default one) asks only for an authenticated caller.</summary>
    internal static bool AuthenticatedIsEnough(AuthorizationOptions options) =>
        options.FallbackPolicy is null
        && options.DefaultPolicy.AuthenticationSchemes.Count == 0
        && options.DefaultPolicy.Requirements.All(r => r is DenyAnonymousAuthorizationRequirement);

    /// <summary>A remembered JWT: a user's must still be a live session (the gateway's internal token always is).</summary>
    private async Task RunLiveAsync(HttpContext context, ModelRoute route, RememberedCaller caller)
    {
        if (await CallerAuthentication.WhyNotLiveAsync(_stamps, caller, context.RequestAborted).ConfigureAwait(false) is not null)
        {
            await _next(context).ConfigureAwait(false); // the full pipeline refuses it, with its usual 401 or 503
            return;
        }

        await RunAsync(context, route, caller.Principal).ConfigureAwait(false);
    }

    private async Task RunAsync(HttpContext context, ModelRoute route, ClaimsPrincipal principal)
    {
        if (principal.Identity?.IsAuthenticated != true)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        context.User = principal;
        var result = await InferenceApi.InferAsync(route, context, _services).ConfigureAwait(false);
        await result.ExecuteAsync(context).ConfigureAwait(false);
    }
}

/// <summary>
/// A bearer credential's <see cref="CredentialId"/>, memoised per keep-alive connection (<see cref="ConnectionMemo{T}"/>):
/// a client that sends the same <c>Authorization</c> header on every request costs one comparison, not a SHA-256 (about
/// 3 % of the worker's CPU per small inference). The id is only a key: every lookup still checks the remembered
/// entry's expiry and revocation.
/// </summary>
internal static class ConnectionCredential
{
    private static readonly ConnectionMemo<CredentialId> Ids = new();

    /// <summary>The id of <paramref name="credential"/>.</summary>
    public static CredentialId IdOf(HttpContext context, ReadOnlySpan<char> credential) =>
        Ids.Get(context, credential, 0, static (c, _) => CredentialId.Of(c));
}
