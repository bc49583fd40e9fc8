using System.ComponentModel.DataAnnotations;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components;

namespace Mds.Portal.Components.Pages;

/// <summary>Sign-in: statically rendered; the form posts back here and the handler signs in with the backend's token.</summary>
public partial class Login
{
    private string? _error;

    [Inject]
    private AuthClient Auth { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private ILogger<Login> Logger { get; set; } = default!;

    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm]
    private LoginInput Input { get; set; } = default!;

    [SupplyParameterFromQuery]
    private string? ReturnUrl { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new LoginInput();
        // Coming here signed in means the sign-in is stale (the backend refused its token) or another person
        // wants to sign in: start again from nothing.
        if (HttpMethods.IsGet(HttpContext.Request.Method) && HttpContext.User.Identity?.IsAuthenticated == true)
        {
            await HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }

    private async Task SignInAsync()
    {
        try
        {
            var token = await Auth.RequestTokenAsync(Input.Email, Input.Password, HttpContext.Connection.RemoteIpAddress, HttpContext.RequestAborted);
            if (token is null)
            {
                _error = "Wrong email or password.";
                Input.Password = "";
                return;
            }

            await PortalAuth.SignInAsync(HttpContext, token);
        }
        catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
        {
            _error = ex.Message; // "Too many sign-in attempts; try again in N s."
            Input.Password = "";
            return;
        }
        catch (HttpRequestException ex)
        {
            Logger.LogWarning(ex, "Sign-in failed: the backend did not answer the token request");
            _error = ex.StatusCode is null
                ? "The backend cannot be reached right now; try again in a moment."
                : $"The backend could not sign you in: {ex.Message}";
            return;
        }

        Navigation.NavigateTo(LocalReturnUrl(ReturnUrl));
    }

    /// <summary>Only a path on this site is followed after sign-in, never another site.</summary>
    internal static string LocalReturnUrl(string? returnUrl)
        => returnUrl is ['/', not '/' and not '\\', ..] or "/" ? returnUrl : "/";

    private sealed class LoginInput
    {
        [Required(ErrorMessage = "Enter your email.")]
        [EmailAddress(ErrorMessage = "Enter an email address.")]
        public string Email { get; set; } = "";

        [Required(ErrorMessage = "Enter your password.")]
        public string Password { get; set; } = "";
    }
}
