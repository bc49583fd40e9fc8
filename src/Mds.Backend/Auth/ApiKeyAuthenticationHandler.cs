using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Auth;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> values that are not JWTs nor workers' credentials
/// (<see cref="WorkerCredentialHandler"/>): a user's API key (<c>mds_</c> prefix; the user's roles).
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    MdsDbContext db,
    UserManager<MdsUser> users,
    CredentialCache cache,
    SessionStamps stamps,
    IOptions<SessionOptions> sessions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyPrefix = "mds_";

    /// <summary>The claim an API key's principal carries (its prefix): what a key may not do is checked by it.</summary>
    public const string ApiKeyClaim = "api_key";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = BearerToken(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (!token.StartsWith(KeyPrefix, StringComparison.Ordinal) || !TrySplit(token, out string prefix))
        {
            return AuthenticateResult.Fail("Unknown bearer token.");
        }

        // A remembered key whose owner's stamp changed (roles changed, or the user is gone) is looked up again.
        if (cache.TryGet(token, out var known) && await stamps.IsCurrentAsync(known, Context.RequestAborted))
        {
            return AuthenticateResult.Success(new AuthenticationTicket(known, SchemeName));
        }

        var now = TimeProvider.GetUtcNow();
        ClaimsPrincipal? principal;
        try
        {
            principal = await LookUpAsync(token, prefix, now);
        }
        catch (Exception e) when (DatabaseOutage.IsOutage(e) && !Context.RequestAborted.IsCancellationRequested)
        {
            // Stale-if-error: nothing can revoke the key or change its user while the database is away (those write to
            // it), so the answer read last is good for SessionOutageGrace; a key not seen in that time gets 503.
            if (!cache.TryGetLastKnown(token, now - sessions.Value.SessionOutageGrace, out var lastKnown))
            {
                throw new UserStoreUnavailableException(e);
            }

            principal = lastKnown;
            if (!await stamps.IsCurrentAsync(principal, Context.RequestAborted))
            {
                return AuthenticateResult.Fail("The session was revoked.");
            }
        }

        if (principal is null)
        {
            return AuthenticateResult.Fail("Unknown, revoked or expired API key.");
        }

        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    /// <summary>The key's principal from the database (remembered in the cache), or null: unknown, revoked or expired.</summary>
    private async Task<ClaimsPrincipal?> LookUpAsync(string token, string prefix, DateTimeOffset now)
    {
        var key = await db.ApiKeys.Include(k => k.User)
            .SingleOrDefaultAsync(k => k.Prefix == prefix && k.RevokedAt == null && (k.ExpiresAt == null || k.ExpiresAt > now), Context.RequestAborted);
        if (key is null || !FixedTimeEquals(Hash(token), key.KeyHash))
        {
            return null;
        }

        // Record use at most once a minute, so a busy client does not turn every request into a write.
        if (key.LastUsedAt is null || now - key.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await db.ApiKeys.Where(k => k.Id == key.Id).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), Context.RequestAborted);
        }

        var roles = await users.GetRolesAsync(key.User);
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, key.UserId),
            new(ClaimTypes.Name, key.User.Email ?? key.UserId),
            new(ApiKeyClaim, key.Prefix),
            new(SessionStamps.ClaimType, key.User.SecurityStamp ?? ""),
        };
        claims.AddRange(roles.Select(r => new Claim(ClaimTypes.Role, r)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        stamps.Remember(key.UserId, key.User.SecurityStamp); // what an outage falls back on, with the key itself
        var until = now + CredentialCache.ApiKeyLifetime;
        var notAfter = key.ExpiresAt ?? DateTimeOffset.MaxValue;
        cache.Add(token, principal, notAfter < until ? notAfter : until, notAfter);
        return principal;
    }

    internal static string? BearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    /// <summary>A new key: <c>mds_{8 hex}_{43 base64url}</c>; the part before the second underscore is its prefix.</summary>
    internal static (string Key, string Prefix) NewKey()
    {
        string prefix = KeyPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        string secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        return ($"{prefix}_{secret}", prefix);
    }

    internal static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static bool TrySplit(string token, out string prefix)
    {
        int second = token.IndexOf('_', KeyPrefix.Length);
        prefix = second > 0 ? token[..second] : "";
        return second > 0;
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
