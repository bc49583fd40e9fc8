using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Mvc;

namespace Mds.Backend.Gateway;

public static class StatusCodeBodies
{
    /// <summary>
    /// Bodies for bare status codes (401, 403, 404, 405 …): <c>{"error": "..."}</c> under <c>/v2</c>, as the protocol
    /// wants, and problem details everywhere else.
    /// </summary>
    public static IApplicationBuilder UseStatusCodeBodies(this IApplicationBuilder app) =>
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            int status = http.Response.StatusCode;
            if (http.Request.Path.StartsWithSegments("/v2"))
            {
                await WriteV2BodyAsync(http);
                return;
            }

            var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
            await problems.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = new ProblemDetails { Status = status } });
        });

    /// <summary>Whether the response is a bare error status, which the status-code pages middleware gives a body (its own test).</summary>
    internal static bool IsBare(HttpResponse response) =>
        !response.HasStarted && response.StatusCode is >= 400 and < 600 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType);

    /// <summary>The <c>{"error": "..."}</c> body of a bare status under <c>/v2</c>.</summary>
    internal static Task WriteV2BodyAsync(HttpContext http)
    {
        int status = http.Response.StatusCode;
        string message = status switch
        {
            StatusCodes.Status401Unauthorized => "authentication required: send Authorization: Bearer <token or API key>",
            StatusCodes.Status403Forbidden => "not allowed for this caller",
            StatusCodes.Status404NotFound => $"no such endpoint: {http.Request.Method} {http.Request.Path}",
            StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not allowed on {http.Request.Path}",
            _ => $"request failed with status {status}",
        };
        return http.Response.WriteAsJsonAsync(new V2Error(message));
    }
}
