using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Limits;

/// <summary>
/// Caps on how many expensive requests (explanations, manual drift checks, batch uploads, model uploads and
/// inspections) run at once, per backend instance, with ASP.NET Core's concurrency limiter. A request over the cap
/// waits in a short queue, then is refused at once with 429, a problem body that says which limit it met, and
/// <c>Retry-After</c>: the backend answers the flood instead of stalling under it. Each feature names its limit and
/// takes the numbers from its own options class.
/// </summary>
public static class ConcurrencyLimits
{
    /// <summary>The seconds a refused caller is told to wait (<c>Retry-After</c>).</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>Registers the policy <paramref name="name"/>: <paramref name="limit"/> picks (permits, queue) from <typeparamref name="TOptions"/>.</summary>
    public static IServiceCollection AddConcurrencyLimit<TOptions>(this IServiceCollection services, string name, Func<TOptions, (int Permits, int Queue)> limit)
        where TOptions : class
    {
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = OnRejectedAsync;
            options.AddPolicy(name, http =>
            {
                var (permits, queue) = limit(http.RequestServices.GetRequiredService<IOptions<TOptions>>().Value);
                // One partition per policy: the limit is for the whole instance, whoever calls.
                return RateLimitPartition.GetConcurrencyLimiter(name, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = permits, QueueLimit = queue, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                });
            });
        });
        return services;
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        string? policy = http.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName;
        await TypedResults.Problem(
            $"Too many {policy ?? "expensive"} requests are running on this backend; try again in {RetryAfterSeconds} s.",
            statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests").ExecuteAsync(http);
    }
}
