using System.Security.Claims;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace Mds.Portal.Auth;

/// <summary>
/// The signed-in user's backend access token, read from the current authentication state: the request's user while
/// a page renders statically, the circuit's user once it is interactive. Scoped, so one user's token never reaches
/// another user's calls.
/// </summary>
public sealed class BackendToken(AuthenticationStateProvider authenticationState, NavigationManager navigation)
{
    /// <summary>The bearer token for the backend, or null when nobody is signed in.</summary>
    public async Task<string?> GetAsync()
    {
        var state = await authenticationState.GetAuthenticationStateAsync();
        return state.User.FindFirstValue(PortalClaims.AccessToken);
    }

    /// <summary>
    /// The backend refused the token (401): the page goes to the sign-in page, coming back afterwards. Outside a page
    /// (the batch download endpoint) there is no page to move, and the caller answers the refusal itself.
    /// </summary>
    public void Refused()
    {
        if (InPage())
        {
            navigation.NavigateToLogin();
        }
    }

    private bool InPage()
    {
        try
        {
            return navigation.Uri.Length > 0;
        }
        catch (InvalidOperationException)
        {
            // Not initialised: no component is rendering in this scope.
            return false;
        }
    }
}
