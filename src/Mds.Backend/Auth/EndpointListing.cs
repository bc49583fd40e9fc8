using Microsoft.AspNetCore.Authorization;

namespace Mds.Backend.Auth;

/// <summary>One endpoint as the router holds it, with the authorization it declares.</summary>
/// <param name="Route">The route pattern (null for endpoints that are not route endpoints).</param>
/// <param name="Methods">The HTTP methods it answers (empty: any).</param>
/// <param name="DisplayName">The router's name for it (gRPC methods say "gRPC - …").</param>
/// <param name="Policies">The named policies it requires (all of them).</param>
/// <param name="Roles">Roles it requires through <c>[Authorize(Roles = …)]</c>.</param>
/// <param name="HasPolicyObject">Whether it carries a policy built in place (<c>RequireAuthorization(p => …)</c>).</param>
/// <param name="AllowAnonymous">Whether it is explicitly open (<c>AllowAnonymous</c>): this skips every requirement.</param>
public sealed record EndpointAuthorization(
    string? Route, IReadOnlyList<string> Methods, string? DisplayName, IReadOnlyList<string> Policies, IReadOnlyList<string> Roles,
    bool HasPolicyObject, bool AllowAnonymous);

/// <summary>
/// <c>GET /api/debug/endpoints</c>: every endpoint of the backend's <see cref="EndpointDataSource"/> with its
/// authorization metadata, for admins, and only when <c>Mds:Diagnostics:ListEndpoints</c> is true (off by default; the
/// integration tests turn it on to check that no endpoint goes without an explicit policy).
/// </summary>
public static class EndpointListing
{
    public const string Path = "/api/debug/endpoints";

    public static IEndpointRouteBuilder MapEndpointListing(this IEndpointRouteBuilder app, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration.GetValue<bool>("Mds:Diagnostics:ListEndpoints"))
        {
            app.MapGet(Path, (EndpointDataSource source) => TypedResults.Ok(List(source))).RequireAuthorization(Policies.Admin).WithTags("Auth")
                .WithName("ListEndpoints").WithSummary("Every endpoint with its authorization metadata (Mds:Diagnostics:ListEndpoints only)")
                .ExcludeFromDescription(); // off in production: not part of the contract (docs/openapi.json)
        }

        return app;
    }

    private static List<EndpointAuthorization> List(EndpointDataSource source) =>
    [
        .. source.Endpoints.Select(e =>
        {
            var authorize = e.Metadata.GetOrderedMetadata<IAuthorizeData>();
            return new EndpointAuthorization(
                (e as RouteEndpoint)?.RoutePattern.RawText,
                e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [],
                e.DisplayName,
                [.. authorize.Select(a => a.Policy).OfType<string>()],
                [.. authorize.Select(a => a.Roles).OfType<string>()],
                e.Metadata.GetMetadata<AuthorizationPolicy>() is not null,
                e.Metadata.GetMetadata<IAllowAnonymous>() is not null);
        }),
    ];
}
