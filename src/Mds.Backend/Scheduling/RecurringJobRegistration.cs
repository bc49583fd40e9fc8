namespace Mds.Backend.Scheduling;

/// <summary>
/// Registers recurring Hangfire jobs at start without letting the storage stop the start. Registering takes a
/// distributed lock per job (<c>recurring-job:{id}</c>); another backend holding it, or one that died holding it until the
/// lock expires, made <c>AddOrUpdate</c> throw and the backend exit before it served anything (seen when a second
/// backend started beside a busy one). A refused registration is retried in the background every few seconds until it
/// succeeds; the backend serves meanwhile, and the jobs already registered by the other backends keep running.
/// </summary>
internal static partial class RecurringJobRegistration
{
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(5);

    /// <summary>Runs <paramref name="register"/> now, or, when it throws, again every few seconds in the background until it succeeds.</summary>
    public static Task StartAsync(string what, Action register, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(register);
        ArgumentNullException.ThrowIfNull(log);
        try
        {
            register();
            return Task.CompletedTask;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRetrying(log, what, e.Message, Retry.TotalSeconds);
        }

        _ = Task.Run(async () =>
        {
            while (true)
            {
                await Task.Delay(Retry);
                try
                {
                    register();
                    LogRegistered(log, what);
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    LogRetrying(log, what, e.Message, Retry.TotalSeconds);
                }
            }
        });
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Registering the recurring job(s) {What} failed ({Error}); trying again in {Seconds} s")]
    private static partial void LogRetrying(ILogger log, string what, string error, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered the recurring job(s) {What}")]
    private static partial void LogRegistered(ILogger log, string what);
}
