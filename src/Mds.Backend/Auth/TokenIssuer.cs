using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Mds.Backend.Auth;

/// <summary>Issues the JWT bearer tokens of <c>POST /api/auth/token</c>.</summary>
public sealed class TokenIssuer(IOptions<AuthOptions> options, SigningKeys keys, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new();

    public (string Token, DateTimeOffset ExpiresAt) Issue(MdsUser user, IEnumerable<string> roles)
    {
        var now = clock.GetUtcNow();
        var expires = now + options.Value.TokenLifetime;
        var claims = new List<Claim>
        {
            new(JwtRegisteredClaimNames.Sub, user.Id),
            new("email", user.Email ?? ""),
            new(SessionStamps.ClaimType, user.SecurityStamp ?? ""),
        };
        claims.AddRange(roles.Select(r => new Claim("role", r)));
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = AuthOptions.Issuer,
            Audience = AuthOptions.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = keys.Credentials,
        };
        return (_handler.CreateToken(descriptor), expires);
    }
}
