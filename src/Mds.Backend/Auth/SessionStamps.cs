using System.Collections.Concurrent;
using System.Security.Claims;
using Mds.Backend.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Auth;

/// <summary>
/// Makes sessions revocable: every JWT carries its user's security stamp (ASP.NET Core Identity's), and each request
/// compares it with the stamp in the database, read at most once per <see cref="SessionOptions.SessionCheckInterval"/>
/// per user on each backend instance. Sign-out, a password change, a role change and a deletion change (or remove) the
/// stamp, so the tokens issued before stop working on this instance at once and on the others within that interval.
/// API keys carry the stamp too; a changed stamp makes the key be looked up again (its roles may have changed).
/// While the database cannot be reached, the stamp read last is used up to <see cref="SessionOptions.SessionOutageGrace"/>
/// after it was read (stale-if-error); a user without one gets <see cref="UserStoreUnavailableException"/> (503).
/// </summary>
public sealed class SessionStamps(IServiceScopeFactory scopes, IOptions<SessionOptions> options, TimeProvider clock, ILogger<SessionStamps> log)
{
    /// <summary>The claim holding the security stamp the credential was issued under.</summary>
    public const string ClaimType = "stamp";

    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _outage;

    /// <summary>The security stamp a principal's token carries (claim <see cref="ClaimType"/>), or null.</summary>
    public static string? StampOf(ClaimsPrincipal principal) => principal.FindFirstValue(ClaimType);

    /// <summary>Whether <paramref name="principal"/>'s stamp is its user's stamp now (false: revoked, or the user is gone).</summary>
    public async ValueTask<bool> IsCurrentAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        string? userId = CallerIdentity.UserId(principal);
        string? stamp = StampOf(principal);
        if (userId is null || string.IsNullOrEmpty(stamp))
        {
            return false;
        }

        return await IsCurrentAsync(userId, stamp, cancellationToken);
    }

    /// <summary>Whether <paramref name="stamp"/> is <paramref name="userId"/>'s stamp now (a worker asks for a token it was shown).</summary>
    public async ValueTask<bool> IsCurrentAsync(string userId, string stamp, CancellationToken cancellationToken)
    {
        string? current = await CurrentAsync(userId, cancellationToken);
        return current is not null && string.Equals(current, stamp, StringComparison.Ordinal);
    }

    /// <summary>Changes <paramref name="user"/>'s stamp: every token and cached credential of theirs is revoked.</summary>
    public async Task<IdentityResult> RevokeAsync(UserManager<MdsUser> users, MdsUser user)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(user);
        var result = await users.UpdateSecurityStampAsync(user);
        Forget(user.Id);
        return result;
    }

    /// <summary>Remembers <paramref name="stamp"/> as <paramref name="userId"/>'s, just read from the database with something else (an API key's user).</summary>
    public void Remember(string userId, string? stamp)
    {
        var now = clock.GetUtcNow();
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        _entries[userId] = new Entry(stamp, now + options.Value.SessionCheckInterval, now);
    }

    /// <summary>Drops the stamp remembered for <paramref name="userId"/> (it changed, or the user was deleted).</summary>
    public void Forget(string userId) => _entries.TryRemove(userId, out _);

    private async ValueTask<string?> CurrentAsync(string userId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_entries.TryGetValue(userId, out var entry) && entry.Until > now)
        {
            return entry.Stamp;
        }

        string? stamp;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
            stamp = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => u.SecurityStamp).SingleOrDefaultAsync(cancellationToken);
        }
        catch (Exception e) when (DatabaseOutage.IsOutage(e) && !cancellationToken.IsCancellationRequested)
        {
            return StaleOrThrow(userId, entry, now, e);
        }

        if (Interlocked.Exchange(ref _outage, 0) == 1)
        {
            log.LogInformation("Database reachable again: security stamps are read from it again");
        }

        Remember(userId, stamp); // even when the interval is zero: the last known stamp is what an outage falls back on
        return stamp;
    }

    /// <summary>
    /// The database is away: the stamp read last, if it is younger than <see cref="SessionOptions.SessionOutageGrace"/>
    /// (nothing can change it meanwhile: every change writes to the database), trusted again for one check interval so
    /// that a busy user does not try the database on every request; else <see cref="UserStoreUnavailableException"/>.
    /// </summary>
    private string? StaleOrThrow(string userId, Entry? entry, DateTimeOffset now, Exception error)
    {
        if (Interlocked.Exchange(ref _outage, 1) == 0)
        {
            log.LogWarning("Database unavailable ({Reason}): sessions checked against the stamps read in the last {Grace}; others get 503",
                error.GetBaseException().Message, options.Value.SessionOutageGrace);
        }

        var staleUntil = entry is null ? DateTimeOffset.MinValue : entry.ReadAt + options.Value.SessionOutageGrace;
        if (entry is null || staleUntil <= now)
        {
            throw new UserStoreUnavailableException(error);
        }

        var retryAt = now + (options.Value.SessionCheckInterval > TimeSpan.Zero ? options.Value.SessionCheckInterval : TimeSpan.FromSeconds(1));
        _entries[userId] = entry with { Until = retryAt < staleUntil ? retryAt : staleUntil };
        return entry.Stamp;
    }

    /// <param name="Stamp">The stamp (null: no such user).</param>
    /// <param name="Until">Used without asking the database until then.</param>
    /// <param name="ReadAt">When it was read from the database.</param>
    private sealed record Entry(string? Stamp, DateTimeOffset Until, DateTimeOffset ReadAt);
}
