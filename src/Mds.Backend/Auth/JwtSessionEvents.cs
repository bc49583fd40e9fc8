using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace Mds.Backend.Auth;

/// <summary>
/// The JWT bearer events: a token validated a moment ago is not verified again (<see cref="CredentialCache"/>); a new
/// one is, then remembered. Either way its security stamp must still be its user's (<see cref="SessionStamps"/>), so a
/// cached token is never valid longer than a fresh one would be.
/// </summary>
internal static class JwtSessionEvents
{
    public static JwtBearerEvents Create() => new()
    {
        OnMessageReceived = async ctx =>
        {
            var services = ctx.HttpContext.RequestServices;
            if (ApiKeyAuthenticationHandler.BearerToken(ctx.Request) is { } token
                && services.GetRequiredService<CredentialCache>().TryGet(token, out var principal))
            {
                if (await services.GetRequiredService<SessionStamps>().IsCurrentAsync(principal, ctx.HttpContext.RequestAborted))
                {
                    ctx.Principal = principal;
                    ctx.Success();
                }
                else
                {
                    ctx.Fail("The session was revoked.");
                }
            }
        },
        OnTokenValidated = async ctx =>
        {
            var services = ctx.HttpContext.RequestServices;
            if (ctx.Principal is not { } principal || !await services.GetRequiredService<SessionStamps>().IsCurrentAsync(principal, ctx.HttpContext.RequestAborted))
            {
                ctx.Fail("The session was revoked.");
                return;
            }

            if (ApiKeyAuthenticationHandler.BearerToken(ctx.Request) is { } token)
            {
                var clock = services.GetRequiredService<TimeProvider>();
                var expires = new DateTimeOffset(DateTime.SpecifyKind(ctx.SecurityToken.ValidTo, DateTimeKind.Utc));
                var cap = clock.GetUtcNow() + CredentialCache.JwtLifetime;
                services.GetRequiredService<CredentialCache>().Add(token, principal, expires < cap ? expires : cap);
            }
        },
    };
}
