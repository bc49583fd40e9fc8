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
/// </summary>
public sealed class SessionStamps(IServiceScopeFactory scopes, IOptions<SessionOptions> options, TimeProvider clock)
{
    /// <summary>The claim holding the security stamp the credential was issued under.</summary>
    public const string ClaimType = "stamp";

    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="principal"/>'s stamp is its user's stamp now (false: revoked, or the user is gone).</summary>
    public async ValueTask<bool> IsCurrentAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        string? userId = AuthApi.UserId(principal);
        string? stamp = principal.FindFirstValue(ClaimType);
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

    /// <summary>Drops the stamp remembered for <paramref name="userId"/> (it changed, or the user was deleted).</summary>
    public void Forget(string userId) => _entries.TryRemove(userId, out _);

    private async ValueTask<string?> CurrentAsync(string userId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_entries.TryGetValue(userId, out var entry) && entry.Until > now)
        {
            return entry.Stamp;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        string? stamp = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => u.SecurityStamp).SingleOrDefaultAsync(cancellationToken);
        var interval = options.Value.SessionCheckInterval;
        if (interval > TimeSpan.Zero)
        {
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }

            _entries[userId] = new Entry(stamp, now + interval);
        }

        return stamp;
    }

    private sealed record Entry(string? Stamp, DateTimeOffset Until);
}
