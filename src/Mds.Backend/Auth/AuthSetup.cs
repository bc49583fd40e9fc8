using Mds.Backend.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;

namespace Mds.Backend.Auth;

public static class AuthSetup
{
    private const string SelectorScheme = "Mds";

    /// <summary>Identity on EF Core, JWT bearer tokens, API keys, the worker key, and the role policies.</summary>
    public static IHostApplicationBuilder AddMdsAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuthOptions>().BindConfiguration("Mds:Auth").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ClusterOptions>().BindConfiguration("Mds:Cluster").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AdminOptions>().BindConfiguration("Mds:Admin");
        services.AddOptions<InferenceOptions>().BindConfiguration("Mds:Inference");

        services.AddIdentityCore<MdsUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.Password.RequiredLength = 10;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireDigit = false;
                o.Lockout.MaxFailedAccessAttempts = 10;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<MdsDbContext>();

        services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "JWT or API key", o => o.ForwardDefaultSelector = ctx =>
            {
                // JWTs have three dot-separated parts; workers' credentials and the cluster key have their own scheme;
                // everything else is an API key.
                string? token = ApiKeyAuthenticationHandler.BearerToken(ctx.Request);
                return token is not null && token.Count(c => c == '.') == 2 ? JwtBearerDefaults.AuthenticationScheme
                    : token is not null && WorkerCredentialHandler.Handles(ctx, token) ? WorkerCredentialHandler.SchemeName
                    : ApiKeyAuthenticationHandler.SchemeName;
            })
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = AuthOptions.Issuer,
                    ValidAudience = AuthOptions.Audience,
                    ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256], // the key is set from SigningKeys below
                    NameClaimType = "email",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = new JwtBearerEvents
                {
                    // A token validated a moment ago is not verified again (CredentialCache); a new one is, then remembered.
                    OnMessageReceived = ctx =>
                    {
                        if (ApiKeyAuthenticationHandler.BearerToken(ctx.Request) is { } token
                            && ctx.HttpContext.RequestServices.GetRequiredService<CredentialCache>().TryGet(token, out var principal))
                        {
                            ctx.Principal = principal;
                            ctx.Success();
                        }

                        return Task.CompletedTask;
                    },
                    OnTokenValidated = ctx =>
                    {
                        if (ApiKeyAuthenticationHandler.BearerToken(ctx.Request) is { } token && ctx.Principal is { } principal)
                        {
                            var clock = ctx.HttpContext.RequestServices.GetRequiredService<TimeProvider>();
                            var expires = new DateTimeOffset(DateTime.SpecifyKind(ctx.SecurityToken.ValidTo, DateTimeKind.Utc));
                            var cap = clock.GetUtcNow() + CredentialCache.JwtLifetime;
                            ctx.HttpContext.RequestServices.GetRequiredService<CredentialCache>().Add(token, principal, expires < cap ? expires : cap);
                        }

                        return Task.CompletedTask;
                    },
                };
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, WorkerCredentialHandler>(WorkerCredentialHandler.SchemeName, null);
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SigningKeys>((o, keys) => o.TokenValidationParameters.IssuerSigningKey = keys.Key);

        bool anonymousInference = builder.Configuration.GetValue<bool>("Mds:Inference:AllowAnonymous");
        services.AddAuthorization(o => Policies.Add(o, anonymousInference));
        services.AddSingleton<SigningKeys>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton<CredentialCache>();
        services.AddHostedService<AdminSeeder>();
        return builder;
    }
}
