using System.Security.Claims;
using Mds.Backend.Auth;

namespace Mds.UnitTests.Auth;

public sealed class CredentialCacheTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_credential_is_known_until_its_time_and_not_after()
    {
        var clock = new ManualClock(Start);
        var cache = new CredentialCache(clock);
        var alice = Principal("alice");
        cache.Add("mds_1234abcd_secret", alice, Start.AddSeconds(30));

        Assert.True(cache.TryGet("mds_1234abcd_secret", out var found));
        Assert.Same(alice, found);
        Assert.False(cache.TryGet("mds_1234abcd_secreT", out _)); // a different credential is not a near match

        clock.Now = Start.AddSeconds(30);
        Assert.False(cache.TryGet("mds_1234abcd_secret", out _));
        Assert.Equal(0, cache.Count); // the expired entry is dropped when met
    }

    [Fact]
    public void An_expired_credential_is_never_added()
    {
        var cache = new CredentialCache(new ManualClock(Start));
        cache.Add("token", Principal("bob"), Start);
        Assert.False(cache.TryGet("token", out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Clear_forgets_everything_at_once()
    {
        var cache = new CredentialCache(new ManualClock(Start));
        cache.Add("a", Principal("a"), Start.AddMinutes(1));
        cache.Add("b", Principal("b"), Start.AddMinutes(1));
        cache.Clear();
        Assert.False(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
    }

    [Fact]
    public void A_full_cache_starts_again_rather_than_growing()
    {
        var cache = new CredentialCache(new ManualClock(Start));
        for (int i = 0; i < CredentialCache.MaxEntries; i++)
        {
            cache.Add($"token-{i}", Principal("p"), Start.AddMinutes(1));
        }

        Assert.Equal(CredentialCache.MaxEntries, cache.Count);
        cache.Add("one-more", Principal("q"), Start.AddMinutes(1));
        Assert.Equal(1, cache.Count);
        Assert.True(cache.TryGet("one-more", out _));
    }

    private static ClaimsPrincipal Principal(string name) => new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], "test"));

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
