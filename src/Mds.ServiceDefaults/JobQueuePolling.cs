using Microsoft.Extensions.Configuration;

namespace Mds.ServiceDefaults;

/// <summary>
/// How often a Hangfire fetch loop (the backend's servers and each worker's order queue) looks at its queue when nothing
/// told it to. Every MDS process enables Hangfire.PostgreSql's long polling, so every enqueue (an order, a reconcile, a
/// drift or batch job, a scheduled job coming due) sends a <c>NOTIFY</c> that wakes the waiting fetch at once; the poll
/// only covers a notification missed while a fetch was opening its <c>LISTEN</c> connection. At 200 ms, the old value,
/// an idle <c>./mds up</c> stack made 129–144 transactions a second against its database; at 2 s, 58
/// (docs/benchmarks.md).
/// </summary>
public static class JobQueuePolling
{
    /// <summary>The setting that overrides <see cref="DefaultInterval"/> (a TimeSpan, e.g. <c>00:00:02</c>).</summary>
    public const string Setting = "Mds:Jobs:QueuePollInterval";

    /// <summary>The fallback poll interval of every MDS Hangfire storage unless <see cref="Setting"/> says otherwise.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    /// <summary>The fallback poll interval <paramref name="configuration"/> asks for, the default when it says nothing.</summary>
    /// <exception cref="InvalidOperationException">The setting is not a positive TimeSpan: the service refuses to start.</exception>
    public static TimeSpan IntervalFrom(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? value = configuration[Setting];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultInterval;
        }

        return TimeSpan.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var interval) && interval > TimeSpan.Zero
            ? interval
            : throw new InvalidOperationException($"{Setting} must be a positive time span such as 00:00:02, not '{value}'.");
    }
}
