using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Mds.Contracts.Api;
using Mds.Workers.Cluster;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Mds.Workers.Auth;

/// <summary>
/// Every caller of a worker authenticates (health endpoints and, unless <c>Mds:Worker:MetricsRequireToken</c>,
/// <c>/metrics</c> excepted), with the credentials the gateway takes: a user's JWT, checked against the public keys
/// the backend publishes (fetched from its discovery document, cached, fetched again for an unknown key id), and
/// still a live session (<see cref="SessionStamps"/>: its security stamp current, asked of the backend, cached
/// <c>Mds:Worker:SessionCheckInterval</c>); a user's API key, checked by the backend and cached
/// <see cref="ApiKeyOwners.Lifetime"/>; or the gateway's internal token (audience <c>mds-worker</c>), the only source
/// of the caller's name and request id it forwards. When the backend cannot answer, a credential it must vouch for is
/// refused with 503 (gRPC UNAVAILABLE), not 401: the caller's credential may well be fine.
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
                // A token is checked once per worker and its principal remembered until it expires (ValidatedTokens):
                // an ECDSA verify per request would cost more than a small model's inference. A user's token must
                // still be a live session on every request (SessionStamps), remembered or not.
                o.Events = JwtEvents();
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
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ValidatedTokens>();
        services.AddSingleton<SessionStamps>();
        return builder;
    }

    private static JwtBearerEvents JwtEvents() => new()
    {
        OnMessageReceived = async ctx =>
        {
            if (ctx.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>().TryGet(BearerTokenSpan(ctx.Request), out var remembered))
            {
                var stamps = ctx.HttpContext.RequestServices.GetRequiredService<SessionStamps>();
                if (await WhyNotLiveAsync(stamps, remembered, ctx.HttpContext.RequestAborted).ConfigureAwait(false) is { } failure)
                {
                    ctx.Fail(failure);
                }
                else
                {
                    ctx.Principal = remembered.Principal;
                    ctx.Success();
                }
            }
        },
        OnTokenValidated = async ctx =>
        {
            if (ctx.Principal is not { } principal)
            {
                ctx.Fail("No principal.");
                return;
            }

            var caller = RememberedCaller.Of(principal);
            var stamps = ctx.HttpContext.RequestServices.GetRequiredService<SessionStamps>();
            if (await WhyNotLiveAsync(stamps, caller, ctx.HttpContext.RequestAborted).ConfigureAwait(false) is { } failure)
            {
                ctx.Fail(failure);
                return;
            }

            ctx.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>().Add(BearerTokenSpan(ctx.Request), caller, ctx.SecurityToken.ValidTo);
        },
        OnChallenge = ctx =>
        {
            if (ctx.AuthenticateFailure is BackendUnavailableException)
            {
                ctx.HandleResponse();
                return BackendUnavailableException.WriteAsync(ctx.Response);
            }

            return Task.CompletedTask;
        },
    };

    /// <summary>
    /// Why <paramref name="caller"/> may not call now, or null when it may: the gateway's internal token always may
    /// (short-lived; the gateway checked the session); a user's token only while its security stamp is current.
    /// </summary>
    internal static async ValueTask<Exception?> WhyNotLiveAsync(SessionStamps stamps, RememberedCaller caller, CancellationToken cancellationToken)
    {
        if (caller.Gateway)
        {
            return null;
        }

        if (string.IsNullOrEmpty(caller.UserId) || string.IsNullOrEmpty(caller.Stamp))
        {
            return new SecurityTokenException("The token carries no session stamp.");
        }

        try
        {
            return await stamps.IsCurrentAsync(caller.UserId, caller.Stamp, cancellationToken).ConfigureAwait(false)
                ? null
                : new SecurityTokenException("The session was revoked.");
        }
        catch (Exception e) when (e is HttpRequestException or BackendException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return new BackendUnavailableException("The backend cannot check sessions now: " + e.Message, e);
        }
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
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClaimsPrincipal, System.Runtime.CompilerServices.StrongBox<string?>> CallerNames = [];

    public static (string? Caller, string RequestId) CallerOf(ClaimsPrincipal user, string? requestIdHeader, string? bodyId, string traceIdentifier)
    {
        ArgumentNullException.ThrowIfNull(user);
        // Read once per principal object (a remembered caller's is reused for every call; a principal is never changed).
        string? caller = CallerNames.GetValue(user, static u => new(u.FindFirst(CallerClaim)?.Value ?? u.FindFirst("email")?.Value ?? u.Identity?.Name)).Value;
        string requestId = requestIdHeader is { Length: > 0 and <= 128 } given ? given : bodyId is { Length: > 0 } ? bodyId : traceIdentifier;
        return (caller, requestId);
    }

    /// <summary>
    /// The experiment tag (<see cref="MdsHeaders.Experiment"/>) for the inference record: read only on a call made with
    /// the gateway's internal token (audience <c>mds-worker</c> alone), which the gateway sends beside the tag it sets.
    /// A user's own JWT or API key sending the header is ignored, so a caller cannot forge tags to skew an experiment's
    /// results. Malformed or longer than <see cref="ExperimentTag.MaxLength"/>: no tag.
    /// </summary>
    public static ExperimentTag? ExperimentOf(ClaimsPrincipal user, string? header)
    {
        ArgumentNullException.ThrowIfNull(user);
        return header is { Length: > 0 } && IsGateway(user) ? ExperimentTag.Parse(header) : null;
    }

    /// <summary>Whether <paramref name="user"/> is the gateway's internal token (audience <c>mds-worker</c> only, naming a caller).</summary>
    internal static bool IsGateway(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true && user.HasClaim("aud", WorkerAudience) && !user.HasClaim("aud", UserAudience) && user.HasClaim(c => c.Type == CallerClaim);

    /// <summary>The bearer credential as a string, or null when there is none (<see cref="BearerTokenSpan"/> copied out).</summary>
    internal static string? BearerToken(HttpRequest request)
    {
        var token = BearerTokenSpan(request);
        return token.IsEmpty ? null : token.ToString();
    }

    /// <summary>The bearer credential without copying it out of the header (empty when there is none).</summary>
    internal static ReadOnlySpan<char> BearerTokenSpan(HttpRequest request)
    {
        var values = request.Headers.Authorization;
        string? header = values.Count == 1 ? values[0] : values.ToString();
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header.AsSpan("Bearer ".Length).Trim() : default;
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

        ClaimsPrincipal? principal;
        try
        {
            principal = await owners.FindAsync(key, Context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or BackendException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return AuthenticateResult.Fail(new BackendUnavailableException("The backend cannot check API keys now: " + e.Message, e));
        }

        return principal is null
            ? AuthenticateResult.Fail("Unknown API key.")
            : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    /// <summary>The principal of a key's owner: their name (as <c>email</c> and the name claim) and their roles.</summary>
    internal static ClaimsPrincipal PrincipalOf(ApiKeyOwner owner)
    {
        var claims = new List<Claim> { new("email", owner.Name), new(ClaimTypes.Name, owner.Name) };
        claims.AddRange(owner.Roles.Select(r => new Claim("role", r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, "email", "role"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if ((await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false)).Failure is BackendUnavailableException)
        {
            await BackendUnavailableException.WriteAsync(Response).ConfigureAwait(false);
            return;
        }

        await base.HandleChallengeAsync(properties).ConfigureAwait(false);
    }
}

/// <summary>
/// Whose API keys are, as the backend says (<c>POST /api/cluster/api-keys/check</c>), remembered for
/// <see cref="Lifetime"/> as the owner's principal: a revoked key stops working here within that time. Keyed by the
/// key's SHA-256.
/// </summary>
internal sealed class ApiKeyOwners(BackendClient backend, TimeProvider clock)
{
    /// <summary>How long an answer (found or not) is reused.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<CredentialId, (ClaimsPrincipal? Principal, DateTimeOffset Until)> _entries = new();

    /// <summary>The owner's principal, or null for a key the backend does not know (asked at most once per <see cref="Lifetime"/>).</summary>
    public async Task<ClaimsPrincipal?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var id = CredentialId.Of(key);
        var now = clock.GetUtcNow();
        if (_entries.TryGetValue(id, out var entry) && entry.Until > now)
        {
            return entry.Principal;
        }

        var owner = await backend.CheckApiKeyAsync(key, cancellationToken).ConfigureAwait(false);
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        var principal = owner is null ? null : ApiKeyHandler.PrincipalOf(owner);
        _entries[id] = (principal, now + Lifetime);
        return principal;
    }

    /// <summary>
    /// The owner's principal when the backend vouched for <paramref name="key"/> within <see cref="Lifetime"/>; false
    /// when it did not, refused it, or the answer is older (then only <see cref="FindAsync"/> may answer).
    /// </summary>
    public bool TryGetRemembered(ReadOnlySpan<char> key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClaimsPrincipal? principal) =>
        TryGetRemembered(CredentialId.Of(key), out principal);

    /// <summary><see cref="TryGetRemembered(ReadOnlySpan{char}, out ClaimsPrincipal?)"/> by the key's <see cref="CredentialId"/>.</summary>
    public bool TryGetRemembered(CredentialId id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClaimsPrincipal? principal)
    {
        if (_entries.TryGetValue(id, out var entry) && entry.Until > clock.GetUtcNow() && entry.Principal is { } known)
        {
            principal = known;
            return true;
        }

        principal = null;
        return false;
    }
}

/// <summary>
/// Principals of JWTs this worker validated, by the token's SHA-256, until the token expires: a repeated token costs a
/// hash and a lookup, not a signature check and claims parsing. Failures are not remembered. Bounded: emptied when full.
/// </summary>
internal sealed class ValidatedTokens(TimeProvider clock)
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<CredentialId, (RememberedCaller Caller, DateTime Until)> _valid = new();

    public bool TryGet(ReadOnlySpan<char> token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RememberedCaller? caller)
    {
        if (!token.IsEmpty)
        {
            return TryGet(CredentialId.Of(token), out caller);
        }

        caller = null;
        return false;
    }

    /// <summary><see cref="TryGet(ReadOnlySpan{char}, out RememberedCaller?)"/> by the token's <see cref="CredentialId"/>.</summary>
    public bool TryGet(CredentialId id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RememberedCaller? caller)
    {
        if (_valid.TryGetValue(id, out var known) && known.Until > clock.GetUtcNow().UtcDateTime)
        {
            caller = known.Caller;
            return true;
        }

        caller = null;
        return false;
    }

    public void Add(ReadOnlySpan<char> token, RememberedCaller caller, DateTime validTo)
    {
        if (token.IsEmpty || validTo <= clock.GetUtcNow().UtcDateTime)
        {
            return;
        }

        if (_valid.Count >= MaxEntries)
        {
            _valid.Clear();
        }

        _valid[CredentialId.Of(token)] = (caller, validTo);
    }
}

/// <summary>
/// A validated JWT's principal with what every later request asks of it worked out once: whether it is the gateway's
/// internal token (audience <c>mds-worker</c> only), and the user id and security stamp a user's session is checked by.
/// </summary>
internal sealed record RememberedCaller(ClaimsPrincipal Principal, bool Gateway, string? UserId, string? Stamp)
{
    public static RememberedCaller Of(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        bool gateway = principal.HasClaim("aud", CallerAuthentication.WorkerAudience) && !principal.HasClaim("aud", CallerAuthentication.UserAudience);
        return new RememberedCaller(principal, gateway, principal.FindFirst("sub")?.Value, principal.FindFirst(SessionStamps.ClaimType)?.Value);
    }
}

/// <summary>A credential's SHA-256 as four words: no string per lookup, and no credential kept in memory.</summary>
internal readonly record struct CredentialId(ulong A, ulong B, ulong C, ulong D)
{
    public static CredentialId Of(ReadOnlySpan<char> credential)
    {
        int max = Encoding.UTF8.GetMaxByteCount(credential.Length);
        byte[]? rented = max > 4096 ? System.Buffers.ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[4096];
        int length = Encoding.UTF8.GetBytes(credential, utf8);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(utf8[..length], hash);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }

        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(hash);
        return new CredentialId(words[0], words[1], words[2], words[3]);
    }
}

/// <summary>
/// Whether a user's JWT is still a live session, as the backend says (<c>POST /api/cluster/sessions/check</c>),
/// remembered per user and stamp for <see cref="WorkerOptions.SessionCheckInterval"/> (default 5 s, the backend's own
/// re-read interval): sign-out, a password change, a role change or a deletion changes the stamp, and this worker
/// refuses the old tokens within that time. Concurrent requests for the same answer share one backend call. A failed
/// call is not remembered (the next request asks again); the caller refuses the token meanwhile (fail closed), unless
/// the backend confirmed this very session within <see cref="WorkerOptions.SessionOutageGrace"/>: then a backend that
/// cannot be reached (restarting, say) does not stop direct calls of the users it had just vouched for.
/// </summary>
internal sealed class SessionStamps(BackendClient backend, IOptions<WorkerOptions> options, TimeProvider clock)
{
    /// <summary>The claim holding the security stamp a user's JWT was issued under.</summary>
    public const string ClaimType = "stamp";

    private const int MaxEntries = 10_000;

    /// <summary>How stale the time of the last confirmation may be (it bounds the outage grace, minutes, from below).</summary>
    private static readonly TimeSpan ConfirmationGranularity = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string UserId, string Stamp), Entry> _entries = new();
    private readonly ConcurrentDictionary<(string UserId, string Stamp), DateTimeOffset> _confirmedAt = new();

    public async Task<bool> IsCurrentAsync(string userId, string stamp, CancellationToken cancellationToken)
    {
        var key = (userId, stamp);
        var now = clock.GetUtcNow();
        if (!_entries.TryGetValue(key, out var entry) || entry.Until <= now)
        {
            // Not the request's token: a request that gives up must not fail the others waiting for the same answer.
            var fresh = new Entry(backend.CheckSessionAsync(userId, stamp, CancellationToken.None), now + options.Value.SessionCheckInterval);
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            entry = entry is null ? _entries.GetOrAdd(key, fresh) : _entries.TryUpdate(key, fresh, entry) ? fresh : _entries.GetOrAdd(key, fresh);
        }

        try
        {
            bool live = await entry.Answer.WaitAsync(cancellationToken).ConfigureAwait(false);
            Confirm(key, live);
            return live;
        }
        catch when (entry.Answer.IsFaulted || entry.Answer.IsCanceled)
        {
            _entries.TryRemove(KeyValuePair.Create(key, entry));
            if (!cancellationToken.IsCancellationRequested && _confirmedAt.TryGetValue(key, out var confirmed)
                && clock.GetUtcNow() - confirmed <= options.Value.SessionOutageGrace)
            {
                return true; // the backend is away; it said this session was live a moment ago
            }

            throw;
        }
    }

    private void Confirm((string UserId, string Stamp) key, bool live)
    {
        if (!live)
        {
            _confirmedAt.TryRemove(key, out _);
            return;
        }

        var now = clock.GetUtcNow();
        if (_confirmedAt.TryGetValue(key, out var confirmed) && now - confirmed < ConfirmationGranularity)
        {
            return; // recent enough: rewriting it per request would allocate for nothing
        }

        if (_confirmedAt.Count >= MaxEntries)
        {
            _confirmedAt.Clear();
        }

        _confirmedAt[key] = now;
    }

    private sealed record Entry(Task<bool> Answer, DateTimeOffset Until);
}

/// <summary>The backend could not say whether a credential is valid: the caller gets 503 (gRPC UNAVAILABLE), not 401.</summary>
internal sealed class BackendUnavailableException : Exception
{
    public BackendUnavailableException()
    {
    }

    public BackendUnavailableException(string message)
        : base(message)
    {
    }

    public BackendUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>503 with <c>Retry-After</c>; a V2 error body for REST, none for gRPC (its client maps 503 to UNAVAILABLE).</summary>
    public static Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = "5";
        return response.HttpContext.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
            ? Task.CompletedTask
            : response.WriteAsJsonAsync(new Mds.Contracts.Inference.V2Error("The backend cannot check credentials now; try again shortly."));
    }
}
