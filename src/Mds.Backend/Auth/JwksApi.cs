namespace Mds.Backend.Auth;

/// <summary>
/// The public half of the JWT signing key, for workers (and anyone) to check tokens with: <c>/.well-known/jwks.json</c>
/// and the OpenID discovery document that points at it. Anonymous: a public key is public.
/// </summary>
public static class JwksApi
{
    public static IEndpointRouteBuilder MapJwks(this IEndpointRouteBuilder app)
    {
        var wellKnown = app.MapGroup("/.well-known").WithTags("Auth").AllowAnonymous();
        wellKnown.MapGet("/jwks.json", (SigningKeys keys) => TypedResults.Ok(new { keys = new[] { keys.PublicJwk } }))
            .WithName("Jwks").WithSummary("The public keys JWTs are signed with (JSON Web Key Set)");
        wellKnown.MapGet("/openid-configuration", (HttpRequest request) => TypedResults.Ok(new Dictionary<string, object>
            {
                ["issuer"] = AuthOptions.Issuer,
                ["jwks_uri"] = $"{request.Scheme}://{request.Host}{request.PathBase}/.well-known/jwks.json",
                ["id_token_signing_alg_values_supported"] = new[] { "ES256" },
            }))
            .WithName("OpenIdConfiguration").WithSummary("Discovery document: the issuer and where its keys are");
        return app;
    }
}
