using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Mds.Contracts.Api;
using Mds.Workers.Cluster;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Mds.Workers.Auth;

/// <summary>
/// Every caller of a worker authenticates (health endpoints and, unless <c>Mds:Worker:MetricsRequireToken</c>,
/// <c>/metrics</c> excepted), with the credentials the gateway takes: a user's JWT, checked against the public keys
/// the backend publishes (fetched from its discovery document, cached, fetched again for an unknown key id); a user's
/// API key, checked by the backend and cached <see cref="ApiKeyOwners.Lifetime"/>; or the gateway's internal token
/// (audience <c>mds-worker</c>), the only source of the caller's name and request id it forwards.
/// </summary>
internal static class CallerAuthentication
{
    public const string SelectorScheme = "Caller";
    public const string Issuer = "mds";
    public const string UserAudience = "mds";
    public const string WorkerAudience = "mds-worker";
    public const string CallerClaim = "mds_caller";

    public static IHostApplicationBuilder AddCallerAuthentication(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "JWT or API key", o => o.ForwardDefaultSelector = ctx =>
                BearerToken(ctx.Request) is { } token && token.StartsWith(ApiKeyHandler.KeyPrefix, StringComparison.Ordinal)
                    ? ApiKeyHandler.SchemeName
                    : JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                // A token is checked once per worker and remembered until it expires: an ECDSA verify per request
                // would cost more than a small model's inference.
                o.TokenHandlers.Clear();
                o.TokenHandlers.Add(new RememberingTokenHandler());
                o.RequireHttpsMetadata = false; // the backend is often plain HTTP inside the cluster; the keys are public anyway
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = Issuer,
                    ValidAudiences = [UserAudience, WorkerAudience],
                    ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
                    NameClaimType = "email",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<WorkerOptions>>((o, worker) => o.MetadataAddress = worker.Value.BackendUrl.TrimEnd('/') + "/.well-known/openid-configuration");
        services.AddAuthorization();
        services.AddSingleton<ApiKeyOwners>();
        return builder;
    }

    /// <summary>Authentication, then: <c>/metrics</c> answers 401 to an anonymous caller when configured so.</summary>
    public static WebApplication UseCallerAuthentication(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseAuthentication();
        if (app.Services.GetRequiredService<IOptions<WorkerOptions>>().Value.MetricsRequireToken)
        {
            app.Use((context, next) =>
            {
                if (context.Request.Path.StartsWithSegments("/metrics") && context.User.Identity?.IsAuthenticated != true)
                {
                    return context.ChallengeAsync();
                }

                return next(context);
            });
        }

        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// Who called and the request id, for the inference record. The caller comes only from a credential: the
    /// gateway's internal token names it, a user's own credential is that user (a <c>Mds-Caller</c> header is never
    /// read). The request id is <c>X-Request-Id</c> (sent by the gateway beside its token, or chosen by a user calling
    /// with their own credential), else the body's id, else the connection's trace id; an anonymous call gets no
    /// record at all (it is refused).
    /// </summary>
    public static (string? Caller, string RequestId) CallerOf(ClaimsPrincipal user, string? requestIdHeader, string? bodyId, string traceIdentifier)
    {
        ArgumentNullException.ThrowIfNull(user);
        string? caller = user.FindFirst(CallerClaim)?.Value ?? user.FindFirst("email")?.Value ?? user.Identity?.Name;
        string requestId = requestIdHeader is { Length: > 0 and <= 128 } given ? given : bodyId is { Length: > 0 } ? bodyId : traceIdentifier;
        return (caller, requestId);
    }

    internal static string? BearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }
}

/// <summary>A user's API key (<c>mds_…</c>), checked by the backend and remembered briefly.</summary>
internal sealed class ApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyOwners owners)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyPrefix = "mds_";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (CallerAuthentication.BearerToken(Request) is not { } key)
        {
            return AuthenticateResult.NoResult();
        }

        ApiKeyOwner? owner;
        try
        {
            owner = await owners.FindAsync(key, Context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or BackendException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return AuthenticateResult.Fail("The backend cannot check API keys now: " + e.Message);
        }

        if (owner is null)
        {
            return AuthenticateResult.Fail("Unknown API key.");
        }

        var claims = new List<Claim> { new("email", owner.Name), new(ClaimTypes.Name, owner.Name) };
        claims.AddRange(owner.Roles.Select(r => new Claim("role", r)));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, "email", "role")), SchemeName));
    }
}

/// <summary>
/// Whose API keys are, as the backend says (<c>POST /api/cluster/api-keys/check</c>), remembered for
/// <see cref="Lifetime"/>: a revoked key stops working here within that time. Keyed by the key's SHA-256.
/// </summary>
internal sealed class ApiKeyOwners(BackendClient backend)
{
    /// <summary>How long an answer (found or not) is reused.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (ApiKeyOwner? Owner, DateTimeOffset Until)> _entries = new(StringComparer.Ordinal);

    public async Task<ApiKeyOwner?> FindAsync(string key, CancellationToken cancellationToken)
    {
        string id = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        var now = DateTimeOffset.UtcNow;
        if (_entries.TryGetValue(id, out var entry) && entry.Until > now)
        {
            return entry.Owner;
        }

        var owner = await backend.CheckApiKeyAsync(key, cancellationToken).ConfigureAwait(false);
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        _entries[id] = (owner, now + Lifetime);
        return owner;
    }
}

/// <summary>
/// A JWT handler that remembers tokens it validated (by their SHA-256) until they expire, so a caller's token is
/// checked once, not on every request. Failures are not remembered. Bounded: the memory is emptied when it is full.
/// </summary>
internal sealed class RememberingTokenHandler : Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (TokenValidationResult Result, DateTime Until)> _valid = new(StringComparer.Ordinal);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        ArgumentNullException.ThrowIfNull(token);
        string id = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var now = DateTime.UtcNow;
        if (_valid.TryGetValue(id, out var known) && known.Until > now)
        {
            return known.Result;
        }

        var result = await base.ValidateTokenAsync(token, validationParameters).ConfigureAwait(false);
        if (result.IsValid && result.SecurityToken is { } valid && valid.ValidTo > now)
        {
            if (_valid.Count >= MaxEntries)
            {
                _valid.Clear();
            }

            _valid[id] = (result, valid.ValidTo);
        }

        return result;
    }
}
