using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;

namespace Mds.Backend.Auth;

/// <summary>
/// The principals of bearer credentials validated a moment ago, so that the inference path does not verify a JWT's
/// signature, or look an API key and its user's roles up in the database, on every request of a busy client. An entry
/// lives until its JWT expires or, for an API key, <see cref="ApiKeyLifetime"/>; revoking a key, changing a user's
/// roles or deleting a user clears the cache, so those take effect at once on this backend. A hit is used only while
/// its user's security stamp is unchanged (<see cref="SessionStamps"/>, checked on every request), so a session revoked
/// on another backend instance is refused here within <c>Mds:Auth:SessionCheckInterval</c>. Keyed by the credential's
/// SHA-256, never the credential itself. The cached principal is shared by the requests that present the same
/// credential: nothing in MDS changes a principal after authentication. An API key's entry is kept past its lifetime
/// (up to the key's expiry, within the size bound) as the last known answer for a database outage
/// (<see cref="TryGetLastKnown"/>).
/// </summary>
public sealed class CredentialCache(TimeProvider clock)
{
    /// <summary>Entries kept at most; when full, the cache starts again from empty (credentials are re-validated).</summary>
    public const int MaxEntries = 10_000;

    /// <summary>
    /// How long an API key's principal is reused before the database is asked again.
    /// A key revoked or expired on another backend instance is refused here within this time.
    /// </summary>
    public static readonly TimeSpan ApiKeyLifetime = TimeSpan.FromSeconds(5);

    /// <summary>How long a JWT's principal is reused at most (and never past the token's expiry).</summary>
    public static readonly TimeSpan JwtLifetime = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Entries held now.</summary>
    public int Count => _entries.Count;

    /// <summary>The principal <paramref name="credential"/> was validated as, if that is recent enough.</summary>
    public bool TryGet(string credential, out ClaimsPrincipal principal) => TryGetByKey(KeyOf(credential), out principal);

    /// <summary><see cref="TryGet"/> by the credential's key (<see cref="KeyOf"/>), for a caller that kept it.</summary>
    internal bool TryGetByKey(string key, out ClaimsPrincipal principal)
    {
        var now = clock.GetUtcNow();
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.Until > now)
            {
                principal = entry.Principal;
                return true;
            }

            if (entry.NotAfter <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            }
        }

        principal = null!;
        return false;
    }

    /// <summary>
    /// The principal <paramref name="credential"/> was last validated as, if that was at or after
    /// <paramref name="validatedSince"/> and the credential has not expired: the fallback while the database is away.
    /// </summary>
    public bool TryGetLastKnown(string credential, DateTimeOffset validatedSince, out ClaimsPrincipal principal)
    {
        if (_entries.TryGetValue(KeyOf(credential), out var entry) && entry.ValidatedAt >= validatedSince && entry.NotAfter > clock.GetUtcNow())
        {
            principal = entry.Principal;
            return true;
        }

        principal = null!;
        return false;
    }

    /// <summary>Remembers that <paramref name="credential"/> is <paramref name="principal"/> until <paramref name="until"/>.</summary>
    public void Add(string credential, ClaimsPrincipal principal, DateTimeOffset until) => Add(credential, principal, until, until);

    /// <summary>
    /// Remembers that <paramref name="credential"/> is <paramref name="principal"/> until <paramref name="until"/>, and
    /// as the last known answer until <paramref name="notAfter"/> (when the credential itself expires).
    /// </summary>
    public void Add(string credential, ClaimsPrincipal principal, DateTimeOffset until, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var now = clock.GetUtcNow();
        if (until <= now)
        {
            return;
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        _entries[KeyOf(credential)] = new Entry(principal, until, notAfter < until ? until : notAfter, now);
    }

    /// <summary>Forgets every entry: a key was revoked, or a user's roles changed or the user was deleted.</summary>
    public void Clear() => _entries.Clear();

    /// <summary>The key a credential is remembered by: its SHA-256 (the credential itself is never kept).</summary>
    internal static string KeyOf(string credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        return Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(credential)));
    }

    /// <param name="Principal">Who the credential is.</param>
    /// <param name="Until">Used without asking again until then.</param>
    /// <param name="NotAfter">Never used after then (the credential expires).</param>
    /// <param name="ValidatedAt">When it was validated.</param>
    private sealed record Entry(ClaimsPrincipal Principal, DateTimeOffset Until, DateTimeOffset NotAfter, DateTimeOffset ValidatedAt);
}
