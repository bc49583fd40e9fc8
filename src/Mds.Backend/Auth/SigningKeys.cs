using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Mds.Backend.Auth;

/// <summary>
/// The key every JWT of MDS is signed with: ECDSA P-256 (ES256), so that workers can check tokens with the public half
/// the backend publishes (<c>/.well-known/jwks.json</c>) and never hold anything that could sign one. The private key
/// is derived from <c>Mds:Auth:SigningKey</c> (HKDF-SHA256), the secret the backend already keeps: every backend of a
/// cluster signs with the same key, nothing new has to be stored, and changing the secret changes the key (and its id).
/// </summary>
public sealed class SigningKeys : IDisposable
{
    /// <summary>The audience of the gateway's internal tokens: only workers accept them.</summary>
    public const string WorkerAudience = "mds-worker";

    /// <summary>Claim of an internal token: the caller's name, for the worker's inference record.</summary>
    public const string CallerClaim = "mds_caller";

    /// <summary>How long an internal token lives (one call, with its retries).</summary>
    public static readonly TimeSpan InternalTokenLifetime = TimeSpan.FromSeconds(60);

    private readonly ECDsa _key;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly TimeProvider _clock;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Token, string Header, DateTime RenewAfter)> _internal = new(StringComparer.Ordinal);
    private const int MaxCachedInternalTokens = 10_000;

    public SigningKeys(IOptions<AuthOptions> options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        _clock = clock;
        _key = Derive(options.Value.SigningKey);
        var parameters = _key.ExportParameters(includePrivateParameters: false);
        string x = Base64UrlEncoder.Encode(parameters.Q.X);
        string y = Base64UrlEncoder.Encode(parameters.Q.Y);
        // RFC 7638 thumbprint: the key id changes exactly when the key does.
        string kid = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{x}\",\"y\":\"{y}\"}}")));
        Key = new ECDsaSecurityKey(_key) { KeyId = kid };
        Credentials = new SigningCredentials(Key, SecurityAlgorithms.EcdsaSha256);
        PublicJwk = new Dictionary<string, string> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = x, ["y"] = y, ["kid"] = kid, ["use"] = "sig", ["alg"] = "ES256" };
    }

    /// <summary>The key (private half included: never serialise it).</summary>
    public SecurityKey Key { get; }

    /// <summary>What tokens are signed with.</summary>
    public SigningCredentials Credentials { get; }

    /// <summary>The public half as a JSON Web Key.</summary>
    public IReadOnlyDictionary<string, string> PublicJwk { get; }

    /// <summary>
    /// A token that proves to a worker that the gateway let <paramref name="caller"/> in: audience
    /// <see cref="WorkerAudience"/>, <see cref="InternalTokenLifetime"/>, the caller as a claim. One token per caller is
    /// reused for half its lifetime: signing (and a worker's check of the signature) per request would cost more than
    /// the rest of a small model's call. The request id travels beside it in <c>X-Request-Id</c>, which workers take
    /// from a caller only when it presents this token or its own credential.
    /// </summary>
    public string InternalTokenFor(string caller) => InternalTokenEntry(caller).Token;

    /// <summary>
    /// <see cref="InternalTokenFor"/> as an <c>Authorization</c> header value (<c>Bearer</c> and the token), made once per
    /// token: the gateway's hot path sets it without formatting a header per request.
    /// </summary>
    public string InternalAuthorizationFor(string caller) => InternalTokenEntry(caller).Header;

    private (string Token, string Header, DateTime RenewAfter) InternalTokenEntry(string caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var now = _clock.GetUtcNow().UtcDateTime;
        if (_internal.TryGetValue(caller, out var cached) && cached.RenewAfter > now)
        {
            return cached;
        }

        string token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AuthOptions.Issuer,
            Audience = WorkerAudience,
            Subject = new ClaimsIdentity([new Claim(CallerClaim, caller)]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + InternalTokenLifetime,
            SigningCredentials = Credentials,
        });
        if (_internal.Count >= MaxCachedInternalTokens)
        {
            _internal.Clear();
        }

        var entry = (token, "Bearer " + token, now + (InternalTokenLifetime / 2));
        _internal[caller] = entry;
        return entry;
    }

    public void Dispose() => _key.Dispose();

    private static ECDsa Derive(string secret)
    {
        byte[] ikm = Encoding.UTF8.GetBytes(secret);
        for (int counter = 0; ; counter++)
        {
            byte[] d = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 32, "mds-jwt-es256"u8.ToArray(), Encoding.ASCII.GetBytes("p256-" + counter));
            try
            {
                // A scalar of 0 or ≥ the curve's order (odds about 2^-32) is refused; the next counter gives another.
                return ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });
            }
            catch (CryptographicException) when (counter < 8)
            {
            }
        }
    }
}
