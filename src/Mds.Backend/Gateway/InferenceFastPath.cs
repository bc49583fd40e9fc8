using System.Runtime.CompilerServices;
using System.Security.Claims;
using Mds.Backend.Auth;
using Mds.Backend.Monitoring;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Mds.Backend.Gateway;

/// <summary>
/// Hot path: the gateway's infer call from a caller whose bearer credential this backend validated a moment ago. Such a
/// call is answered here, right after routing picked the infer endpoint, without the middleware that does nothing for
/// it (status-code pages unless the answer is a bare error status, the authentication and authorization middleware's
/// per-request setup, prometheus-net's in-progress gauge, the rate limiter, which applies no policy to inference, and
/// the minimal API's parameter binding). The credential check is the one the JWT and API-key handlers make on a
/// remembered credential — <see cref="CredentialCache"/> (its expiry, cleared on revocation and role changes) and
/// <see cref="SessionStamps"/> (sign-out, password change, deletion) — and the endpoint's own authorization policy is
/// evaluated for that principal. Anything else (no credential, one not remembered, a stale stamp, a worker's credential,
/// any other endpoint) goes through the normal pipeline, which validates, remembers and answers exactly as before.
/// </summary>
public static class InferenceFastPath
{
    /// <summary>The endpoint names of <c>POST /v2/models/{name}[/versions/{version}]/infer</c>.</summary>
    internal static readonly string[] InferEndpoints = ["V2Infer", "V2InferVersion"];

    /// <summary>Answers remembered callers' infer calls here; must come after the exception handler and before authentication.</summary>
    public static IApplicationBuilder UseInferenceFastPath(this IApplicationBuilder app)
    {
        var fast = ActivatorUtilities.CreateInstance<InferenceShortcut>(app.ApplicationServices);
        return app.Use(next => http => fast.InvokeAsync(http, next));
    }

    /// <summary>
    /// Whether an endpoint may take the fast path: the gateway's infer endpoint, guarded only by the
    /// <see cref="Policies.Inference"/> policy (no roles or schemes of its own, no anonymous access), with no rate limit.
    /// </summary>
    internal static bool IsEligible(EndpointMetadataCollection metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName is not { } name || Array.IndexOf(InferEndpoints, name) < 0
            || metadata.GetMetadata<IAllowAnonymous>() is not null
            || metadata.GetMetadata<EnableRateLimitingAttribute>() is not null
            || metadata.GetMetadata<AuthorizationPolicy>() is not null
            || metadata.GetMetadata<IAuthorizationRequirementData>() is not null)
        {
            return false;
        }

        var authorize = metadata.GetOrderedMetadata<IAuthorizeData>();
        if (authorize.Count == 0)
        {
            return false;
        }

        foreach (var data in authorize)
        {
            if (data.Policy != Policies.Inference || !string.IsNullOrEmpty(data.Roles) || !string.IsNullOrEmpty(data.AuthenticationSchemes))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether the outcome of <paramref name="policy"/> depends on the principal alone (so it can be remembered per
    /// principal): no schemes of its own, and only the authenticated-user, role, claim and name requirements.
    /// </summary>
    internal static bool DependsOnPrincipalOnly(AuthorizationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.AuthenticationSchemes.Count == 0 && policy.Requirements.All(r =>
            r is DenyAnonymousAuthorizationRequirement or RolesAuthorizationRequirement or ClaimsAuthorizationRequirement or NameAuthorizationRequirement);
    }
}

/// <summary>The fast path's per-request work (see <see cref="InferenceFastPath"/>).</summary>
internal sealed class InferenceShortcut(
    CredentialCache credentials,
    SessionStamps stamps,
    IAuthorizationService authorization,
    IAuthorizationPolicyProvider policies,
    IOptions<RateLimiterOptions> rateLimits,
    GatewayInference gateway)
{
    private static readonly object Allowed = new();
    private static readonly object Refused = new();

    // Endpoint objects live as long as the app's route table; a principal as long as its CredentialCache entry.
    private readonly ConditionalWeakTable<Endpoint, object> _eligible = [];
    private readonly ConditionalWeakTable<ClaimsPrincipal, Caller> _callers = [];
    private readonly bool _globalLimiter = rateLimits.Value.GlobalLimiter is not null;
    private AuthorizationPolicy? _policy;
    private bool _policyChecked;

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (!HttpMethods.IsPost(http.Request.Method) || _globalLimiter || http.GetEndpoint() is not { } endpoint || !IsEligible(endpoint)
            || await RememberedCallerAsync(http) is not { } caller)
        {
            await next(http);
            return;
        }

        http.User = caller.Principal;
        var values = http.Request.RouteValues;
        await gateway.InferAsync(http, (string)values["name"]!, values["version"] as string, caller.Name);
        if (StatusCodeBodies.IsBare(http.Response))
        {
            await StatusCodeBodies.WriteV2BodyAsync(http); // what the status-code pages middleware would have added
        }
    }

    private bool IsEligible(Endpoint endpoint) =>
        _eligible.GetValue(endpoint, static e => InferenceFastPath.IsEligible(e.Metadata) ? Allowed : Refused) == Allowed;

    /// <summary>The remembered caller a JWT or API key stands for, if it is still current and the policy allows it; else null.</summary>
    private async ValueTask<Caller?> RememberedCallerAsync(HttpContext http)
    {
        if (ConnectionCredential.Of(http) is not { } credential)
        {
            return null;
        }

        // Only the schemes that remember credentials: a worker's or the cluster's credential goes the normal way.
        if (credential.Scheme is not (JwtBearerDefaults.AuthenticationScheme or ApiKeyAuthenticationHandler.SchemeName)
            || !credentials.TryGetByKey(credential.Key, out var principal))
        {
            return null;
        }

        // The principal's claims are read once, not on every call (a cached principal is never changed).
        var caller = _callers.GetValue(principal, static p => new Caller(p));
        if (caller.UserId is null || string.IsNullOrEmpty(caller.Stamp) || !await stamps.IsCurrentAsync(caller.UserId, caller.Stamp, http.RequestAborted))
        {
            return null;
        }

        if (caller.Allowed is { } known)
        {
            return known ? caller : null;
        }

        if (!_policyChecked)
        {
            var inference = await policies.GetPolicyAsync(Policies.Inference);
            _policy = inference is not null && InferenceFastPath.DependsOnPrincipalOnly(inference) ? inference : null;
            _policyChecked = true;
        }

        if (_policy is null)
        {
            return null;
        }

        bool allowed = (await authorization.AuthorizeAsync(principal, http, _policy)).Succeeded;
        caller.Allowed = allowed;
        return allowed ? caller : null;
    }

    /// <summary>
    /// What the fast path reads from a remembered principal: its user id and session stamp (as
    /// <see cref="SessionStamps.IsCurrentAsync(ClaimsPrincipal, CancellationToken)"/> reads them), its name for the
    /// worker's token, and the policy's answer once asked.
    /// </summary>
    private sealed class Caller(ClaimsPrincipal principal)
    {
        public ClaimsPrincipal Principal { get; } = principal;
        public string? UserId { get; } = CallerIdentity.UserId(principal);
        public string? Stamp { get; } = SessionStamps.StampOf(principal);
        public string Name { get; } = CallerIdentity.Name(principal) ?? "anonymous";

        /// <summary>Whether the inference policy allows this principal; null until asked (racing askers agree).</summary>
        public bool? Allowed { get; set; }
    }
}

/// <summary>
/// A request's bearer credential as the fast path needs it: the scheme that would authenticate it
/// (<see cref="AuthSetup.SchemeFor"/>) and its <see cref="CredentialCache"/> key (a SHA-256), memoised per keep-alive
/// connection (<see cref="ConnectionMemo{T}"/>): a repeated <c>Authorization</c> header costs one comparison instead of
/// a substring, a scheme decision and a hash. The key is only a key: every lookup still checks the cache entry's expiry,
/// and the session stamp and policy checks follow as before.
/// </summary>
internal sealed record ConnectionCredential(string Scheme, string Key)
{
    private static readonly ConnectionCredential None = new("", "");
    private static readonly ConnectionMemo<ConnectionCredential> Memo = new();

    /// <summary>The request's credential, or null without a bearer one.</summary>
    public static ConnectionCredential? Of(HttpContext http)
    {
        var authorization = http.Request.Headers.Authorization;
        if (authorization.Count != 1 || authorization[0] is not { } header)
        {
            return null;
        }

        var credential = Memo.Get(http, header, http, static (_, http) =>
            ApiKeyAuthenticationHandler.BearerToken(http.Request) is { Length: > 0 } token
                ? new ConnectionCredential(AuthSetup.SchemeFor(http, token), CredentialCache.KeyOf(token))
                : None);
        return ReferenceEquals(credential, None) ? null : credential;
    }
}
