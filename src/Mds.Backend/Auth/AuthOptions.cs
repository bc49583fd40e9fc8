using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Auth;

/// <summary><c>Mds:Auth</c>: how bearer tokens are signed.</summary>
public sealed class AuthOptions
{
    /// <summary>The secret the JWT signing key (ECDSA P-256) is derived from, at least 32 characters. Never logged.</summary>
    [Required, MinLength(32)]
    public string SigningKey { get; set; } = "";

    /// <summary>How long a token from <c>POST /api/auth/token</c> lives.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(8);

    public const string Issuer = "mds";
    public const string Audience = "mds";
}

/// <summary><c>Mds:Admin</c>: the first admin, created at start when no user exists.</summary>
public sealed class AdminOptions
{
    public string? Email { get; set; }
    public string? Password { get; set; }
}

/// <summary><c>Mds:Cluster</c>: how workers prove who they are.</summary>
public sealed class ClusterOptions
{
    /// <summary>
    /// The bootstrap secret: it lets a worker register a name not yet taken, and nothing else; registration answers
    /// the worker's own credential, which it uses from then on. Never logged.
    /// </summary>
    [Required, MinLength(16)]
    public string WorkerKey { get; set; } = "";
}

/// <summary><c>Mds:Inference</c>: who may call the V2 endpoints.</summary>
public sealed class InferenceOptions
{
    /// <summary>When true, <c>/v2</c> needs no authentication.</summary>
    public bool AllowAnonymous { get; set; }
}
