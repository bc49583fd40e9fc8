using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Auth;

/// <summary>
/// <c>Mds:Auth</c>, the part about sessions and sign-in abuse: how soon a revoked session stops working on every
/// backend instance, and how many sign-in attempts an address and an account get.
/// </summary>
public sealed class SessionOptions
{
    /// <summary>
    /// How long a backend trusts the user's security stamp it read last (per user). Sign-out, a password change, a role
    /// change or a deletion changes the stamp; other backend instances refuse the old tokens within this time.
    /// Zero: read it on every request.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan SessionCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// While the database cannot be reached, how old the last answer this backend read about a user's security stamp or
    /// an API key may be and still be used (stale-if-error). Safe because everything that would change that answer —
    /// sign-out, a password or role change, deleting a user, revoking a key — writes to the database, so cannot happen
    /// while it is down. Past this age (or for a credential not seen before the outage) the caller gets 503 with
    /// <c>Retry-After</c>. Zero: 503 at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan SessionOutageGrace { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Sign-in attempts (<c>POST /api/auth/token</c>) one client address gets per <see cref="SignInWindow"/>.</summary>
    [Range(1, 1_000_000)]
    public int SignInPermitsPerAddress { get; set; } = 5;

    /// <summary>
    /// Sign-in attempts one account (e-mail) gets per <see cref="SignInWindow"/>, from all addresses together. Kept above
    /// <see cref="SignInPermitsPerAddress"/>, so that one address is throttled long before the account is.
    /// </summary>
    [Range(1, 1_000_000)]
    public int SignInPermitsPerAccount { get; set; } = 20;

    /// <summary>The sliding window both sign-in limits count in.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan SignInWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Addresses or networks (CIDR) of proxies whose <c>X-Forwarded-For</c> names the client for the sign-in limit,
    /// e.g. the portal's. Loopback (the portal on the same host) is always trusted.
    /// </summary>
    public IList<string> TrustedProxies { get; } = [];
}
