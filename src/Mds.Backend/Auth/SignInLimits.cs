using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Auth;

/// <summary>
/// Sign-in abuse: <c>POST /api/auth/token</c> is limited per client address (the rate-limiting middleware, policy
/// <see cref="PolicyName"/>) and per account (<see cref="SignInAccountLimiter"/>, in the handler, which knows the
/// e-mail). Both answer 429 with <c>Retry-After</c>. The address limit is the lower one, so one address cycling passwords
/// is stopped long before the account is throttled, and a throttled account is free again after the window: no attacker
/// can keep a person (the admin) locked out, which a persistent lockout after N failures allowed.
/// </summary>
public static class SignInLimits
{
    /// <summary>The rate-limiting policy of the sign-in endpoint.</summary>
    public const string PolicyName = "sign-in";

    /// <summary>Registers both limits.</summary>
    public static IServiceCollection AddSignInLimits(this IServiceCollection services)
    {
        services.AddSingleton<SignInAccountLimiter>();
        services.AddRateLimiter(o => o.AddPolicy<string, SignInAddressPolicy>(PolicyName));
        return services;
    }

    internal static SlidingWindowRateLimiterOptions Window(int permits, TimeSpan window) => new()
    {
        PermitLimit = permits,
        Window = window,
        SegmentsPerWindow = 6,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>A 429 problem with <c>Retry-After</c> (whole seconds, at least 1).</summary>
    internal static IResult TooMany(RateLimitLease lease, TimeSpan window)
    {
        int seconds = RetryAfterSeconds(lease, window);
        return new RetryAfterResult(seconds, TypedResults.Problem(
            $"Too many sign-in attempts; try again in {seconds} s.", statusCode: StatusCodes.Status429TooManyRequests));
    }

    internal static int RetryAfterSeconds(RateLimitLease lease, TimeSpan window)
    {
        var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : window / 6;
        return Math.Max(1, (int)Math.Ceiling(after.TotalSeconds));
    }

    /// <summary>
    /// The client address the address limit counts: the connection's peer, or the last <c>X-Forwarded-For</c> entry when
    /// the peer is loopback or a trusted proxy (the portal forwards the browser's address). IPv6 counts per /64, what one
    /// subscriber usually holds.
    /// </summary>
    internal static string ClientKey(HttpContext http, IReadOnlyList<IPNetwork> trusted)
    {
        var peer = http.Connection.RemoteIpAddress;
        if (peer is null)
        {
            return "unknown";
        }

        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }

        if ((IPAddress.IsLoopback(peer) || trusted.Any(n => n.Contains(peer)))
            && http.Request.Headers["X-Forwarded-For"].ToString().Split(',')[^1].Trim() is { Length: > 0 } forwarded
            && IPAddress.TryParse(forwarded, out var client))
        {
            peer = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
        }

        if (peer.AddressFamily == AddressFamily.InterNetworkV6)
        {
            byte[] bytes = peer.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes).ToString() + "/64";
        }

        return peer.ToString();
    }

    private sealed class RetryAfterResult(int seconds, IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}

/// <summary>The per-address limit, as a rate-limiting policy partitioned by <see cref="SignInLimits.ClientKey"/>.</summary>
internal sealed class SignInAddressPolicy(IOptions<SessionOptions> options) : IRateLimiterPolicy<string>
{
    private readonly IReadOnlyList<IPNetwork> _trusted = [.. options.Value.TrustedProxies.Select(Parse)];

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => async (context, _) =>
        await SignInLimits.TooMany(context.Lease, options.Value.SignInWindow).ExecuteAsync(context.HttpContext);

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        RateLimitPartition.GetSlidingWindowLimiter(SignInLimits.ClientKey(httpContext, _trusted),
            _ => SignInLimits.Window(options.Value.SignInPermitsPerAddress, options.Value.SignInWindow));

    private static IPNetwork Parse(string value) =>
        IPNetwork.TryParse(value, out var network) ? network
        : IPAddress.TryParse(value, out var address) ? new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
        : throw new InvalidOperationException($"Mds:Auth:TrustedProxies: '{value}' is neither an address nor a network (CIDR).");
}

/// <summary>The per-account limit: sign-in attempts per e-mail, from every address together.</summary>
public sealed class SignInAccountLimiter(IOptions<SessionOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(account =>
        RateLimitPartition.GetSlidingWindowLimiter(account, _ => SignInLimits.Window(options.Value.SignInPermitsPerAccount, options.Value.SignInWindow)));

    /// <summary>The window the limit counts in.</summary>
    public TimeSpan Window => options.Value.SignInWindow;

    /// <summary>One attempt for <paramref name="normalizedEmail"/>; the lease says whether it is allowed.</summary>
    public RateLimitLease Acquire(string normalizedEmail) => _limiter.AttemptAcquire(normalizedEmail);

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}
