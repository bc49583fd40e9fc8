using System.ComponentModel.DataAnnotations;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Microsoft.AspNetCore.Components;

namespace Mds.Portal.Components.Pages.Account;

/// <summary>
/// Change password, for every signed-in person: statically rendered like the sign-in page, because the backend revokes
/// the old token and answers a new one, which only a request (not a circuit) can put into the sign-in cookie.
/// </summary>
public partial class ChangePassword
{
    private string? _error;
    private bool _changed;

    [Inject]
    private AuthClient Auth { get; set; } = default!;

    [Inject]
    private ILogger<ChangePassword> Logger { get; set; } = default!;

    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm]
    private ChangePasswordInput Input { get; set; } = default!;

    /// <inheritdoc />
    protected override void OnInitialized() => Input ??= new ChangePasswordInput();

    private async Task ChangeAsync()
    {
        string? token = HttpContext.User.FindFirst(PortalClaims.AccessToken)?.Value;
        if (token is null)
        {
            _error = "Sign in again first.";
            return;
        }

        try
        {
            var renewed = await Auth.ChangePasswordAsync(token, Input.CurrentPassword, Input.NewPassword, HttpContext.RequestAborted);
            await PortalAuth.SignInAsync(HttpContext, renewed);
            _changed = true;
            _error = null;
        }
        catch (HttpRequestException ex)
        {
            if (ex.StatusCode is null)
            {
                Logger.LogWarning(ex, "Password change: the backend did not answer");
            }

            _error = ex.StatusCode == System.Net.HttpStatusCode.Unauthorized ? "Your sign-in has ended; sign in again." : ex.Message;
        }

        Input = new ChangePasswordInput();
    }

    private sealed class ChangePasswordInput
    {
        [Required(ErrorMessage = "Enter your current password.")]
        public string CurrentPassword { get; set; } = "";

        [Required(ErrorMessage = "Enter a new password.")]
        [MinLength(12, ErrorMessage = "At least 12 characters.")]
        public string NewPassword { get; set; } = "";

        [Required(ErrorMessage = "Enter the new password again.")]
        [Compare(nameof(NewPassword), ErrorMessage = "The two new passwords differ.")]
        public string ConfirmPassword { get; set; } = "";
    }
}
