using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Auth;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Mds.Portal.Jobs;

/// <summary>
/// The backend's Hangfire dashboard under the portal's <c>/hangfire</c>, for signed-in Admins only: each request is
/// forwarded with the admin's backend token as the bearer (added here, server-side; the browser never holds it),
/// and without the portal's own cookie. Because the browser's cookie is what authorises the forward, a request that
/// changes something (any method but GET, HEAD, OPTIONS) must come from the portal's own pages: a foreign
/// <c>Origin</c> (or <c>Sec-Fetch-Site</c> other than same-origin) is refused with 403 before anything is forwarded.
/// </summary>
public static class HangfireProxy
{
    /// <summary>Where the dashboard is, on the portal and on the backend.</summary>
    public const string Path = "/hangfire";

    /// <summary>Adds YARP's forwarder and the client it forwards with.</summary>
    public static IServiceCollection AddHangfireProxy(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton(new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(15),
        }));
        return services;
    }

    /// <summary>Maps <c>/hangfire</c> and everything under it, for Admins; others get the not-authorised page.</summary>
    public static IEndpointRouteBuilder MapHangfireProxy(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = app.MapGroup(Path).RequireAuthorization(policy => policy.RequireRole(Roles.Admin)).ExcludeFromDescription();
        group.Map("", ForwardAsync);
        group.Map("{**path}", ForwardAsync);
        return app;
    }

    private static async Task ForwardAsync(HttpContext context, IHttpForwarder forwarder, HttpMessageInvoker client, IOptions<PortalOptions> options)
    {
        string? token = context.User.FindFirst(PortalClaims.AccessToken)?.Value;
        if (token is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        if (IsCrossSite(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Cross-site requests to the job dashboard are refused.");
            return;
        }

        string backend = options.Value.BackendUrl.AbsoluteUri.TrimEnd('/');
        var error = await forwarder.SendAsync(context, backend, client, ForwarderRequestConfig.Empty, new BearerTransformer(token));
        if (error != ForwarderError.None && !context.Response.HasStarted)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            await context.Response.WriteAsync("The backend's job dashboard cannot be reached.");
        }
    }

    /// <summary>
    /// Whether an unsafe request was sent by another site. Browsers send <c>Origin</c> on every POST (same-origin ones
    /// included) and <c>Sec-Fetch-Site</c> on every request; a client that sends neither is not a browser acting for
    /// someone else's page.
    /// </summary>
    public static bool IsCrossSite(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return false;
        }

        string? site = request.Headers["Sec-Fetch-Site"];
        if (site is not null && site is not ("same-origin" or "none"))
        {
            return true;
        }

        string? origin = request.Headers.Origin;
        if (origin is null)
        {
            return false;
        }

        // Host only, not scheme: a TLS proxy in front talks HTTP to the portal while the browser's origin is https.
        return !Uri.TryCreate(origin, UriKind.Absolute, out var from) || !string.Equals(from.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private sealed class BearerTransformer(string token) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            // The portal's cookie is for the portal; the backend gets the admin's token instead.
            proxyRequest.Headers.Remove("Cookie");
            proxyRequest.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
    }
}
