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
        services.AddOptions<SessionOptions>().BindConfiguration("Mds:Auth").ValidateDataAnnotations().ValidateOnStart();

        services.AddIdentityCore<MdsUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.Password.RequiredLength = 10;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireDigit = false;
                // No lockout after N failures (anyone could keep an account locked): SignInLimits throttles instead.
                o.Lockout.AllowedForNewUsers = false;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<MdsDbContext>();

        services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "JWT or API key", o => o.ForwardDefaultSelector = ctx => SchemeFor(ctx, ApiKeyAuthenticationHandler.BearerToken(ctx.Request)))
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
                o.Events = JwtSessionEvents.Create();
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
        services.AddSingleton<SessionStamps>();
        services.AddSignInLimits();
        services.AddHostedService<AdminSeeder>();
        return builder;
    }

    /// <summary>
    /// The scheme that authenticates <paramref name="token"/> (the request's bearer value): JWTs have three dot-separated
    /// parts; workers' credentials and the cluster key have their own scheme; everything else is an API key.
    /// </summary>
    internal static string SchemeFor(HttpContext context, string? token) =>
        token is not null && token.Count(c => c == '.') == 2 ? JwtBearerDefaults.AuthenticationScheme
        : token is not null && WorkerCredentialHandler.Handles(context, token) ? WorkerCredentialHandler.SchemeName
        : ApiKeyAuthenticationHandler.SchemeName;
}
