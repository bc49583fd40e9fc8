using System.Security.Claims;
using System.Security.Cryptography;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Auth;

/// <summary><c>/api/auth</c>, <c>/api/keys</c>, <c>/api/users</c>.</summary>
public static class AuthApi
{
    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/auth/token", IssueToken).AllowAnonymous().RequireRateLimiting(SignInLimits.PolicyName)
            .WithName("IssueToken").WithSummary("Exchange email and password for a JWT bearer token").WithTags("Auth");
        app.MapPost("/api/auth/signout", SignOut).RequireAuthorization(Policies.AnyUser)
            .WithName("SignOutEverywhere").WithSummary("Revoke every token of the caller (all sessions, every backend instance)").WithTags("Auth");
        app.MapPost("/api/auth/password", ChangePassword).RequireAuthorization(Policies.AnyUser)
            .WithName("ChangePassword").WithSummary("Change the caller's password; revokes their tokens and answers a new one").WithTags("Auth");

        var keys = app.MapGroup("/api/keys").WithTags("Auth").RequireAuthorization(Policies.AnyUser);
        keys.MapPost("/", CreateKey).WithName("CreateApiKey").WithSummary("Create an API key for the caller; the key is shown once");
        keys.MapGet("/", ListKeys).WithName("ListApiKeys").WithSummary("The caller's API keys (never the keys themselves)");
        keys.MapDelete("/{id:long}", RevokeKey).WithName("RevokeApiKey").WithSummary("Revoke one of the caller's API keys");

        var users = app.MapGroup("/api/users").WithTags("Auth").RequireAuthorization(Policies.Admin);
        users.MapGet("/", ListUsers).WithName("ListUsers").WithSummary("All users with their roles");
        users.MapPost("/", CreateUser).WithName("CreateUser").WithSummary("Create a user with roles");
        users.MapPut("/{id}/roles", UpdateRoles).WithName("UpdateUserRoles").WithSummary("Replace a user's roles (the last admin stays an admin)");
        users.MapPost("/{id}/password", ResetPassword).WithName("ResetUserPassword").WithSummary("Set a user's password, or generate one (shown once); revokes their tokens");
        users.MapDelete("/{id}", DeleteUser).WithName("DeleteUser").WithSummary("Delete a user and their API keys (not yourself, not the last admin)");
        return app;
    }

    private static async Task<IResult> IssueToken(
        TokenRequest? request, UserManager<MdsUser> users, TokenIssuer issuer, SignInAccountLimiter accounts)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.Email) || string.IsNullOrEmpty(request.Password))
        {
            return TypedResults.Problem("Email and password are required.", statusCode: StatusCodes.Status400BadRequest);
        }

        using var lease = accounts.Acquire(users.NormalizeEmail(request.Email.Trim()) ?? request.Email);
        if (!lease.IsAcquired)
        {
            return SignInLimits.TooMany(lease, accounts.Window);
        }

        var user = await users.FindByEmailAsync(request.Email);
        if (user is null)
        {
            // The same password hashing as for a known e-mail, so the answer's timing does not tell which e-mails exist.
            users.PasswordHasher.VerifyHashedPassword(UnknownUser, DummyHash(users), request.Password);
            return WrongPassword();
        }

        if (!await users.CheckPasswordAsync(user, request.Password))
        {
            return WrongPassword();
        }

        return TypedResults.Ok(await IssueAsync(user, users, issuer));
    }

    private static ProblemHttpResult WrongPassword() => TypedResults.Problem("Wrong email or password.", statusCode: StatusCodes.Status401Unauthorized);

    private static async Task<TokenResponse> IssueAsync(MdsUser user, UserManager<MdsUser> users, TokenIssuer issuer)
    {
        var roles = await users.GetRolesAsync(user);
        var (token, expires) = issuer.Issue(user, roles);
        return new TokenResponse(token, expires, user.Email!, [.. roles]);
    }

    private static readonly MdsUser UnknownUser = new();
    private static string? s_dummyHash;

    /// <summary>A hash of a random password made by the configured hasher (so it costs what a real one does).</summary>
    private static string DummyHash(UserManager<MdsUser> users) =>
        s_dummyHash ??= users.PasswordHasher.HashPassword(UnknownUser, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));

    private static async Task<Results<NoContent, ProblemHttpResult>> SignOut(ClaimsPrincipal caller, UserManager<MdsUser> users, SessionStamps stamps)
    {
        if (await users.FindByIdAsync(CallerIdentity.UserId(caller) ?? "") is not { } user)
        {
            return TypedResults.Problem("Only a person can sign out.", statusCode: StatusCodes.Status400BadRequest);
        }

        var result = await stamps.RevokeAsync(users, user);
        return result.Succeeded ? TypedResults.NoContent() : Failed(result);
    }

    private static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> ChangePassword(
        ChangePasswordRequest? request, ClaimsPrincipal caller, UserManager<MdsUser> users, TokenIssuer issuer, SessionStamps stamps)
    {
        if (IsApiKey(caller))
        {
            return NeedsSession("change the password");
        }

        if (request is null || string.IsNullOrEmpty(request.CurrentPassword) || string.IsNullOrEmpty(request.NewPassword))
        {
            return TypedResults.Problem("The current and the new password are required.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (await users.FindByIdAsync(CallerIdentity.UserId(caller) ?? "") is not { } user)
        {
            return TypedResults.Problem("Only a person has a password.", statusCode: StatusCodes.Status400BadRequest);
        }

        var result = await users.ChangePasswordAsync(user, request.CurrentPassword, request.NewPassword); // changes the stamp
        stamps.Forget(user.Id);
        if (!result.Succeeded)
        {
            return result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.PasswordMismatch))
                ? TypedResults.Problem("The current password is wrong.", statusCode: StatusCodes.Status400BadRequest)
                : Failed(result);
        }

        return TypedResults.Ok(await IssueAsync(user, users, issuer));
    }

    private static async Task<Results<Ok<ResetPasswordResponse>, ProblemHttpResult>> ResetPassword(
        string id, ResetPasswordRequest? request, ClaimsPrincipal caller, UserManager<MdsUser> users, SessionStamps stamps)
    {
        if (IsApiKey(caller))
        {
            return NeedsSession("reset passwords");
        }

        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return NoUser(id);
        }

        string? generated = string.IsNullOrEmpty(request?.Password) ? GeneratePassword() : null;
        string password = generated ?? request!.Password!;
        var errors = new List<IdentityError>();
        foreach (var validator in users.PasswordValidators)
        {
            var check = await validator.ValidateAsync(users, user, password);
            errors.AddRange(check.Errors);
        }

        if (errors.Count > 0)
        {
            return Failed(IdentityResult.Failed([.. errors]));
        }

        var result = await users.RemovePasswordAsync(user); // changes the stamp: every session of theirs ends
        if (result.Succeeded)
        {
            result = await users.AddPasswordAsync(user, password);
        }

        stamps.Forget(user.Id);
        return result.Succeeded ? TypedResults.Ok(new ResetPasswordResponse(generated)) : Failed(result);
    }

    /// <summary>A generated password: 24 characters from 144 random bits.</summary>
    private static string GeneratePassword() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');

    private static bool IsApiKey(ClaimsPrincipal caller) => caller.HasClaim(c => c.Type == ApiKeyAuthenticationHandler.ApiKeyClaim);

    private static ProblemHttpResult NeedsSession(string what) =>
        TypedResults.Problem($"An API key cannot {what}; sign in with a password (a token or the portal).", statusCode: StatusCodes.Status403Forbidden);

    private static ProblemHttpResult Failed(IdentityResult result) =>
        TypedResults.Problem(string.Join(" ", result.Errors.Select(e => e.Description)), statusCode: StatusCodes.Status400BadRequest);

    private static async Task<Results<Created<CreatedApiKey>, ProblemHttpResult>> CreateKey(
        CreateApiKeyRequest? request, ClaimsPrincipal caller, MdsDbContext db, TimeProvider clock, CancellationToken ct)
    {
        string? userId = CallerIdentity.UserId(caller);
        if (userId is null)
        {
            return TypedResults.Problem("API keys belong to a person; sign in with a token to create one.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (IsApiKey(caller))
        {
            return NeedsSession("create API keys"); // a leaked key must not be able to outlive its own revocation
        }

        var now = clock.GetUtcNow();
        if (request?.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return TypedResults.Problem("expiresAt must be in the future.", statusCode: StatusCodes.Status400BadRequest);
        }

        string name = request?.Name?.Trim() ?? "";
        if (name.Length is 0 or > 128)
        {
            return TypedResults.Problem("A key needs a name of 1 to 128 characters.", statusCode: StatusCodes.Status400BadRequest);
        }

        var (key, prefix) = ApiKeyAuthenticationHandler.NewKey();
        var entity = new ApiKey { UserId = userId, Name = name, Prefix = prefix, KeyHash = ApiKeyAuthenticationHandler.Hash(key), CreatedAt = now, ExpiresAt = request?.ExpiresAt };
        db.ApiKeys.Add(entity);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/keys/{entity.Id}", new CreatedApiKey(entity.Id, name, key, prefix, entity.CreatedAt, entity.ExpiresAt));
    }

    private static async Task<Ok<List<ApiKeyDto>>> ListKeys(ClaimsPrincipal caller, MdsDbContext db, CancellationToken ct)
    {
        string? userId = CallerIdentity.UserId(caller);
        var keys = await db.ApiKeys.Where(k => k.UserId == userId && k.RevokedAt == null).OrderBy(k => k.Id)
            .Select(k => new ApiKeyDto(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt, k.ExpiresAt)).ToListAsync(ct);
        return TypedResults.Ok(keys);
    }

    private static async Task<Results<NoContent, NotFound>> RevokeKey(long id, ClaimsPrincipal caller, MdsDbContext db, TimeProvider clock, CredentialCache cache, CancellationToken ct)
    {
        string? userId = CallerIdentity.UserId(caller);
        var now = clock.GetUtcNow();
        int n = await db.ApiKeys.Where(k => k.Id == id && k.UserId == userId && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        cache.Clear(); // the key stops working now, not when its cached principal expires
        return n == 0 ? TypedResults.NotFound() : TypedResults.NoContent();
    }

    private static async Task<Ok<List<UserDto>>> ListUsers(UserManager<MdsUser> users, CancellationToken ct)
    {
        var list = new List<UserDto>();
        foreach (var u in await users.Users.OrderBy(u => u.Email).ToListAsync(ct))
        {
            list.Add(new UserDto(u.Id, u.Email ?? "", [.. await users.GetRolesAsync(u)]));
        }

        return TypedResults.Ok(list);
    }

    private static async Task<Results<Created<UserDto>, ProblemHttpResult>> CreateUser(CreateUserRequest? request, UserManager<MdsUser> users, TimeProvider clock)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.Email) || string.IsNullOrEmpty(request.Password))
        {
            return TypedResults.Problem("Email and password are required.", statusCode: StatusCodes.Status400BadRequest);
        }

        var roles = request.Roles ?? [];
        var unknown = roles.Where(r => !Roles.Human.Contains(r)).ToList();
        if (roles.Count == 0 || unknown.Count > 0)
        {
            return TypedResults.Problem($"Roles must be one or more of {string.Join(", ", Roles.Human)}.", statusCode: StatusCodes.Status400BadRequest);
        }

        var user = new MdsUser { UserName = request.Email, Email = request.Email, EmailConfirmed = true, CreatedAt = clock.GetUtcNow() };
        var result = await users.CreateAsync(user, request.Password);
        if (!result.Succeeded)
        {
            return TypedResults.Problem(string.Join(" ", result.Errors.Select(e => e.Description)), statusCode: StatusCodes.Status400BadRequest);
        }

        await users.AddToRolesAsync(user, roles.Distinct());
        return TypedResults.Created($"/api/users/{user.Id}", new UserDto(user.Id, user.Email!, [.. roles.Distinct()]));
    }

    private static async Task<Results<Ok<UserDto>, ProblemHttpResult>> UpdateRoles(string id, UpdateUserRolesRequest? request, UserManager<MdsUser> users, CredentialCache cache, SessionStamps stamps)
    {
        var roles = request?.Roles?.Distinct(StringComparer.Ordinal).ToList() ?? [];
        if (roles.Count == 0 || roles.Any(r => !Roles.Human.Contains(r)))
        {
            return TypedResults.Problem($"Roles must be one or more of {string.Join(", ", Roles.Human)}.", statusCode: StatusCodes.Status400BadRequest);
        }

        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return NoUser(id);
        }

        var current = await users.GetRolesAsync(user);
        if (current.Contains(Roles.Admin) && !roles.Contains(Roles.Admin) && await IsLastAdminAsync(users))
        {
            return TypedResults.Problem("This is the last admin: make someone else an admin first.", statusCode: StatusCodes.Status400BadRequest);
        }

        var result = await users.RemoveFromRolesAsync(user, current.Except(roles));
        if (result.Succeeded)
        {
            result = await users.AddToRolesAsync(user, roles.Except(current));
        }

        if (result.Succeeded)
        {
            result = await stamps.RevokeAsync(users, user); // tokens carry the roles: the old ones stop working everywhere
        }

        cache.Clear(); // API keys carry the user's roles

        return result.Succeeded
            ? TypedResults.Ok(new UserDto(user.Id, user.Email ?? "", [.. await users.GetRolesAsync(user)]))
            : TypedResults.Problem(string.Join(" ", result.Errors.Select(e => e.Description)), statusCode: StatusCodes.Status400BadRequest);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteUser(string id, ClaimsPrincipal caller, UserManager<MdsUser> users, CredentialCache cache, SessionStamps stamps)
    {
        var user = await users.FindByIdAsync(id);
        if (user is null)
        {
            return NoUser(id);
        }

        if (user.Id == CallerIdentity.UserId(caller))
        {
            return TypedResults.Problem("You cannot delete yourself.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (await users.IsInRoleAsync(user, Roles.Admin) && await IsLastAdminAsync(users))
        {
            return TypedResults.Problem("This is the last admin and cannot be deleted.", statusCode: StatusCodes.Status400BadRequest);
        }

        var result = await users.DeleteAsync(user); // API keys go with the user (cascade)
        cache.Clear();
        stamps.Forget(user.Id); // no stamp any more: their tokens are refused everywhere
        return result.Succeeded
            ? TypedResults.NoContent()
            : TypedResults.Problem(string.Join(" ", result.Errors.Select(e => e.Description)), statusCode: StatusCodes.Status400BadRequest);
    }

    private static async Task<bool> IsLastAdminAsync(UserManager<MdsUser> users) => (await users.GetUsersInRoleAsync(Roles.Admin)).Count <= 1;

    private static ProblemHttpResult NoUser(string id) => TypedResults.Problem($"User '{id}' does not exist.", statusCode: StatusCodes.Status404NotFound);
}
