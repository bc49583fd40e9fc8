using Mds.Backend.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Mds.Backend.ApiDocs;

/// <summary>
/// The API contract: the OpenAPI document generated from the endpoints (<c>/openapi/v1.json</c>, committed as
/// <c>docs/openapi.json</c>) and Scalar's interactive reference on it (<c>/api/docs</c>). Both are open to anyone:
/// the document says nothing the repository does not (see docs/security.md, "OpenAPI").
/// </summary>
public static class ApiReference
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/v1.json";
    public const string DocsPath = "/api/docs";

    /// <summary>The security scheme of a session token (a JWT from <c>POST /api/auth/token</c>).</summary>
    public const string JwtScheme = "jwt";

    /// <summary>The security scheme of an API key (<c>mds_…</c>), sent as a bearer token too.</summary>
    public const string ApiKeyScheme = "apiKey";

    public static IServiceCollection AddApiReference(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, o =>
        {
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            // Workers' own endpoints (registration, heartbeats, artifacts by worker credential) are internal.
            o.ShouldInclude = d => !Policy(d.ActionDescriptor.EndpointMetadata).Any(p => p is Policies.Worker or Policies.WorkerRegistration);
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "MDS — Model Deployment Service",
                    Version = DocumentName,
                    Description = "The control plane (/api/…) and the Open Inference Protocol (KServe V2) gateway (/v2/…). "
                        + "Send a session token (POST /api/auth/token) or an API key (mds_…) as `Authorization: Bearer …`.",
                };
                // Servers would name whatever host served the document: the committed copy must not depend on it.
                document.Servers = [];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
                {
                    [JwtScheme] = new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT",
                        Description = "A session token from POST /api/auth/token (ES256, short-lived; renew with POST /api/auth/refresh).",
                    },
                    [ApiKeyScheme] = new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "mds_…",
                        Description = "An API key (mds_…) from POST /api/keys, sent as a bearer token; it acts with its owner's role.",
                    },
                };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<MultipartForm>().LastOrDefault() is { } form)
                {
                    operation.RequestBody = form.RequestBody();
                }

                var policies = Policy(metadata).ToList();
                if (metadata.OfType<IAllowAnonymous>().Any() || policies.Count == 0)
                {
                    return Task.CompletedTask;
                }

                // Either scheme will do: two requirements are alternatives.
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(JwtScheme, context.Document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] },
                ];
                string who = "Authorization: " + string.Join(" and ", policies.Select(Describe)) + ".";
                operation.Description = string.IsNullOrEmpty(operation.Description) ? who : operation.Description + "\n\n" + who;
                return Task.CompletedTask;
            });
        });

    public static IEndpointRouteBuilder MapApiReference(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference(DocsPath, o =>
        {
            o.WithTitle("MDS API reference");
            o.WithOpenApiRoutePattern("/openapi/{documentName}.json");
            // Nothing leaves the page for third parties: no telemetry, no CDN fonts, no hosted AI agent.
            o.Telemetry = false;
            o.DefaultFonts = false;
            o.Agent = new ScalarAgentOptions { Disabled = true };
            o.AddPreferredSecuritySchemes(JwtScheme);
        }).AllowAnonymous();
        return app;
    }

    private static IEnumerable<string> Policy(IList<object> metadata) =>
        metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Distinct(StringComparer.Ordinal);

    private static string Describe(string policy) => policy switch
    {
        Policies.AnyUser => "any signed-in user (Admin, Researcher, Analyst)",
        Policies.Researcher => "Researcher or Admin",
        Policies.Admin => "Admin only",
        Policies.ArtifactReader => "Researcher or Admin (or a worker)",
        Policies.Inference => "any authenticated caller (anyone when Mds:Inference:AllowAnonymous is true)",
        _ => policy,
    };
}
