using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Auth;

/// <summary>
/// Authenticates the two credentials of worker processes: the cluster's bootstrap key (it may only register a worker
/// name not yet taken: claim <see cref="BootstrapClaim"/>, no role) and a worker's own credential,
/// <c>mdsw_{id}_{secret}</c>, issued at its first registration (role Worker, claim <see cref="WorkerIdClaim"/>: it may
/// act only on that worker). Only the credential's SHA-256 is stored.
/// </summary>
internal sealed class WorkerCredentialHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<ClusterOptions> cluster,
    MdsDbContext db)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "WorkerCredential";
    public const string CredentialPrefix = "mdsw_";

    /// <summary>The worker id a worker's credential is bound to.</summary>
    public const string WorkerIdClaim = "mds_worker_id";

    /// <summary>Present on the cluster key's principal: it may register a new worker name.</summary>
    public const string BootstrapClaim = "mds_bootstrap";

    /// <summary>Whether <paramref name="token"/> is this scheme's: a worker credential or the cluster key.</summary>
    internal static bool Handles(HttpContext context, string token) =>
        token.StartsWith(CredentialPrefix, StringComparison.Ordinal)
        || FixedTimeEquals(token, context.RequestServices.GetRequiredService<IOptions<ClusterOptions>>().Value.WorkerKey);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = ApiKeyAuthenticationHandler.BearerToken(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (FixedTimeEquals(token, cluster.Value.WorkerKey))
        {
            var bootstrap = new ClaimsIdentity([new Claim(ClaimTypes.Name, "cluster-bootstrap"), new Claim(BootstrapClaim, "true")], SchemeName);
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(bootstrap), SchemeName));
        }

        if (!TryParse(token, out long id))
        {
            return AuthenticateResult.Fail("Malformed worker credential.");
        }

        var worker = await db.Workers.AsNoTracking().Where(w => w.Id == id).Select(w => new { w.Name, w.CredentialHash }).SingleOrDefaultAsync(Context.RequestAborted);
        if (worker?.CredentialHash is null || !FixedTimeEquals(Hash(token), worker.CredentialHash))
        {
            return AuthenticateResult.Fail("Unknown worker credential.");
        }

        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, "worker:" + worker.Name),
            new Claim(ClaimTypes.Role, Roles.Worker),
            new Claim(WorkerIdClaim, id.ToString(CultureInfo.InvariantCulture)),
        ], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>A new credential for worker <paramref name="id"/> and the hash to store.</summary>
    internal static (string Credential, string Hash) NewCredential(long id)
    {
        string credential = string.Create(CultureInfo.InvariantCulture, $"{CredentialPrefix}{id}_{Base64UrlEncode(RandomNumberGenerator.GetBytes(32))}");
        return (credential, Hash(credential));
    }

    /// <summary>The worker id of the caller's own credential, or null (cluster key, a person).</summary>
    internal static long? WorkerIdOf(ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue(WorkerIdClaim), NumberStyles.None, CultureInfo.InvariantCulture, out long id) ? id : null;

    private static bool TryParse(string token, out long id)
    {
        int end = token.IndexOf('_', CredentialPrefix.Length);
        id = 0;
        return end > CredentialPrefix.Length
            && long.TryParse(token.AsSpan(CredentialPrefix.Length, end - CredentialPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    private static string Hash(string credential) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(credential)));

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
