using Mds.Contracts.Api;
using Mds.Portal.Api;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;

namespace Mds.Portal.Auth;

/// <summary>
/// Sign-in for people: the sign-in page exchanges email and password for a backend token and keeps it in an encrypted
/// cookie (<see cref="PortalClaims"/>); the cookie lives exactly as long as the token.
/// </summary>
public static class PortalAuth
{
    /// <summary>The sign-in page.</summary>
    public const string LoginPath = "/login";

    /// <summary>Where a signed-in user lands when a page needs a role they lack.</summary>
    public const string NotAuthorisedPath = "/not-authorised";

    /// <summary>Sign-out: POST with an antiforgery token; a GET goes to the sign-in page.</summary>
    public const string LogoutPath = "/logout";

    /// <summary>Where every signed-in person changes their password.</summary>
    public const string ChangePasswordPath = "/account/password";

    /// <summary>Adds cookie authentication, authorization and the circuit's authentication state.</summary>
    public static IServiceCollection AddPortalAuth(this IServiceCollection services)
    {
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = "mds.portal";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                // Secure whenever the request came over HTTPS (always, with Mds:Portal:SecureCookie behind a TLS proxy):
                // once the portal is served over HTTPS the cookie never travels over plain HTTP.
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.LoginPath = LoginPath;
                options.LogoutPath = LogoutPath;
                options.AccessDeniedPath = NotAuthorisedPath;
                // The ticket carries the backend token's expiry; sliding would outlive the token.
                options.SlidingExpiration = false;
            });
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<Microsoft.Extensions.Options.IOptions<PortalOptions>>((cookie, portal) =>
            {
                if (portal.Value.SecureCookie)
                {
                    cookie.Cookie.SecurePolicy = CookieSecurePolicy.Always;
                }
            });
        services.AddAuthorization();
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, TokenExpiryAuthenticationStateProvider>();
        services.AddScoped<BackendToken>();
        return services;
    }

    /// <summary>
    /// Maps <c>POST /logout</c> (the app bar's form): ends the sign-in and goes to the sign-in page. <c>GET /logout</c>
    /// (typed into the address bar) goes to the sign-in page too, whose GET ends any sign-in.
    /// </summary>
    public static IEndpointRouteBuilder MapPortalAuth(this IEndpointRouteBuilder app)
    {
        app.MapPost(LogoutPath, SignOutAsync).WithName("SignOut");
        app.MapGet(LogoutPath, () => TypedResults.LocalRedirect($"~{LoginPath}")).WithName("SignOutPage");
        return app;
    }

    /// <summary>Signs <paramref name="token"/>'s user in for as long as the token is valid.</summary>
    public static Task SignInAsync(HttpContext httpContext, TokenResponse token)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(token);
        var principal = PortalClaims.CreatePrincipal(token, CookieAuthenticationDefaults.AuthenticationScheme);
        var properties = new AuthenticationProperties { ExpiresUtc = token.ExpiresAt, IsPersistent = false, AllowRefresh = false };
        return httpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal, properties);
    }

    private static async Task<IResult> SignOutAsync(HttpContext httpContext, IAntiforgery antiforgery, AuthClient auth, ILoggerFactory loggers)
    {
        // The form in the app bar carries the token; another site cannot sign a person out.
        if (!await antiforgery.IsRequestValidAsync(httpContext))
        {
            return TypedResults.Problem("The sign-out form has expired; reload the page and sign out again.", statusCode: StatusCodes.Status400BadRequest);
        }

        // The backend revokes the token too, so a copy of it (or of the cookie) is worthless from now on.
        if (httpContext.User.FindFirst(PortalClaims.AccessToken)?.Value is { } token)
        {
            try
            {
                await auth.SignOutAsync(token, httpContext.RequestAborted);
            }
            catch (HttpRequestException ex)
            {
                loggers.CreateLogger(typeof(PortalAuth)).LogWarning(ex, "Sign-out: the backend did not revoke the token");
            }
        }

        await httpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.LocalRedirect($"~{LoginPath}");
    }
}
