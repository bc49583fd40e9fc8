namespace Mds.Contracts.Api;

/// <summary>The three human roles, and the role the cluster key carries.</summary>
public static class Roles
{
    /// <summary>Manages users, workers, everything.</summary>
    public const string Admin = "Admin";
    /// <summary>Uploads and manages models.</summary>
    public const string Researcher = "Researcher";
    /// <summary>Tries models and gives feedback.</summary>
    public const string Analyst = "Analyst";
    /// <summary>An inference worker process (authenticated by the cluster key).</summary>
    public const string Worker = "Worker";

    /// <summary>The roles a person may hold.</summary>
    public static readonly IReadOnlyList<string> Human = [Admin, Researcher, Analyst];
}

/// <summary><c>POST /api/auth/token</c> body.</summary>
public sealed record TokenRequest(string Email, string Password);

/// <summary><c>POST /api/auth/token</c> answer: a JWT bearer token.</summary>
public sealed record TokenResponse(string AccessToken, DateTimeOffset ExpiresAt, string Email, IReadOnlyList<string> Roles);

/// <summary><c>POST /api/keys</c> body.</summary>
/// <param name="Name">What the key is for, 1 to 128 characters.</param>
/// <param name="ExpiresAt">When the key stops working (in the future); null: until it is revoked.</param>
public sealed record CreateApiKeyRequest(string Name, DateTimeOffset? ExpiresAt = null);

/// <summary>A created API key; <see cref="Key"/> is shown this once and stored only hashed.</summary>
/// <param name="Id">The key's id, for revoking it.</param>
/// <param name="Name">What the key is for.</param>
/// <param name="Key">The key itself, shown this once.</param>
/// <param name="Prefix">The public part that identifies the key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops working; null: until revoked.</param>
public sealed record CreatedApiKey(long Id, string Name, string Key, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt = null);

/// <summary>An API key as listed (never the key itself).</summary>
/// <param name="Id">The key's id.</param>
/// <param name="Name">What the key is for.</param>
/// <param name="Prefix">The public part that identifies the key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="LastUsedAt">When it was last used (to the minute), if ever.</param>
/// <param name="ExpiresAt">When it stops working; null: until revoked.</param>
public sealed record ApiKeyDto(long Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt = null);

/// <summary><c>POST /api/auth/password</c> body: the caller changes their own password.</summary>
/// <param name="CurrentPassword">The password now.</param>
/// <param name="NewPassword">The new password (at least 10 characters).</param>
public sealed record ChangePasswordRequest(string CurrentPassword, string NewPassword);

/// <summary><c>POST /api/users/{id}/password</c> body (Admin): set a password, or omit it to have one generated.</summary>
/// <param name="Password">The new password; null or empty: the backend generates one and answers it.</param>
public sealed record ResetPasswordRequest(string? Password);

/// <summary><c>POST /api/users/{id}/password</c> answer.</summary>
/// <param name="GeneratedPassword">The generated password, shown this once; null when the admin set the password.</param>
public sealed record ResetPasswordResponse(string? GeneratedPassword);

/// <summary><c>POST /api/users</c> body (Admin).</summary>
public sealed record CreateUserRequest(string Email, string Password, IReadOnlyList<string> Roles);

/// <summary>A user as listed.</summary>
public sealed record UserDto(string Id, string Email, IReadOnlyList<string> Roles);
