using System.Security.Claims;

namespace Mds.Backend.Auth;

/// <summary>Who is calling, as every feature records it: the auth feature's reading of the claims it issued.</summary>
public static class CallerIdentity
{
    /// <summary>The signed-in person's id, from a JWT (<c>sub</c>) or an API key.</summary>
    public static string? UserId(ClaimsPrincipal caller) =>
        caller.FindFirstValue("sub") ?? caller.FindFirstValue(ClaimTypes.NameIdentifier);

    /// <summary>The caller's display name for audit fields.</summary>
    public static string? Name(ClaimsPrincipal caller) =>
        caller.FindFirstValue("email") ?? caller.FindFirstValue(ClaimTypes.Name);
}
