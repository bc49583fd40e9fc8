using System.Globalization;
using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace Mds.Backend.Data;

/// <summary>Tells a database that cannot be reached (down, restarting, unreachable, too slow) from an error about the data.</summary>
public static class DatabaseOutage
{
    /// <summary>Seconds a caller is told to wait (<c>Retry-After</c>) when the database is away.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// Whether <paramref name="exception"/> (or one it wraps) says the database could not be reached or answered too
    /// late: Npgsql's connection and I/O errors and timeouts, and the server's own connection (08), resource (53) and
    /// shutdown (57P) errors. A constraint violation, a bad value or a syntax error is not an outage.
    /// </summary>
    public static bool IsOutage(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException p:
                    return p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("53", StringComparison.Ordinal)
                        || p.SqlState.StartsWith("57P", StringComparison.Ordinal);
                case NpgsqlException or TimeoutException:
                    return true;
                case UserStoreUnavailableException:
                    return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Who a caller is cannot be checked: the database is away and this backend has no recent enough answer about the
/// caller's session or API key. Answered 503, never 401 (the credential may well be good) nor 500.
/// </summary>
public sealed class UserStoreUnavailableException(Exception inner)
    : Exception("The user store (database) is unavailable: the caller's session cannot be checked.", inner);

/// <summary>
/// A request that failed because the database is away gets 503 with <c>Retry-After</c>: <c>{"error": "..."}</c> under
/// <c>/v2</c>, gRPC status UNAVAILABLE to a gRPC call, problem details elsewhere. Anything else is left to the default
/// handler (500).
/// </summary>
internal sealed partial class DatabaseOutageHandler(IProblemDetailsService problems, ILogger<DatabaseOutageHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (!DatabaseOutage.IsOutage(exception))
        {
            return false;
        }

        string message = exception is UserStoreUnavailableException
            ? "the user store is unavailable (database outage): try again shortly"
            : "the database is unavailable: try again shortly";
        if (exception is UserStoreUnavailableException)
        {
            LogUserStore(httpContext.Request.Method, httpContext.Request.Path); // the outage itself is logged once, by SessionStamps
        }
        else
        {
            LogOutage(httpContext.Request.Method, httpContext.Request.Path, exception.GetBaseException().Message);
        }

        var response = httpContext.Response;
        response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        if (httpContext.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            // A trailers-only gRPC answer: the status travels in the headers.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = "14"; // UNAVAILABLE
            response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return true;
        }

        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        if (httpContext.Request.Path.StartsWithSegments("/v2"))
        {
            await response.WriteAsJsonAsync(new V2Error(message), cancellationToken);
            return true;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = "Service Unavailable", Detail = message },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unavailable serving {Method} {Path}: {Reason}; answered 503")]
    private partial void LogOutage(string method, PathString path, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "User store unavailable serving {Method} {Path}; answered 503")]
    private partial void LogUserStore(string method, PathString path);
}
