using System.Net;
using System.Security.Claims;
using Bunit;
using Bunit.TestDoubles;
using Mds.Contracts.Api;
using Mds.Portal;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Workers;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace Mds.UnitTests.Portal;

/// <summary>
/// The portal's one answer to a backend 401 (<see cref="SignInOnUnauthorized"/> on the typed clients' HttpClient) and
/// its one page load (<see cref="Mds.Portal.Components.Shared.BackendPage"/>), on a real page over the real clients.
/// </summary>
public class SignInOnUnauthorizedTests
{
    private const string WorkersPath = "/api/workers";

    private static BunitContext Context(FakeBackend backend, bool signedIn = true, TimeSpan? retry = null)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        var auth = ctx.AddAuthorization().SetAuthorized("admin@test.local");
        if (signedIn)
        {
            auth.SetClaims(new Claim(PortalClaims.AccessToken, "revoked-token"));
        }

        ctx.Services.AddSingleton(TimeProvider.System);
        ctx.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(new PortalOptions { BackendUrl = FakeBackend.BaseAddress, BackendRetryInterval = retry ?? TimeSpan.FromSeconds(5) }));
        ctx.Services.AddScoped<BackendToken>();
        // The same chain AddBackendClients builds: the handler in front of the wire.
        ctx.Services.AddScoped(s => new WorkersClient(
            new HttpClient(new SignInOnUnauthorized { InnerHandler = backend }) { BaseAddress = FakeBackend.BaseAddress },
            s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new UsersClient(
            new HttpClient(new SignInOnUnauthorized { InnerHandler = backend }) { BaseAddress = FakeBackend.BaseAddress },
            s.GetRequiredService<BackendToken>()));
        return ctx;
    }

    [Fact]
    public async Task A_revoked_token_refused_by_the_backend_sends_the_page_to_sign_in_and_back()
    {
        var backend = new FakeBackend().On(HttpMethod.Get, WorkersPath, _ => FakeBackend.Problem(HttpStatusCode.Unauthorized, "The token has been revoked."));
        await using var ctx = Context(backend);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("workers");

        var page = ctx.Render<WorkerList>();

        page.WaitForAssertion(() => Assert.Equal("http://localhost/login?ReturnUrl=%2Fworkers", navigation.Uri));
        Assert.True(Assert.IsType<BunitNavigationManager>(navigation).History.First().Options.ForceLoad);
        // The page says nothing of the 401: it is on its way to the sign-in page.
        Assert.Empty(page.FindAll("[data-testid=backend-error]"));
    }

    [Fact]
    public async Task A_401_for_a_request_without_the_sign_ins_token_leaves_the_page_where_it_is()
    {
        var backend = new FakeBackend().On(HttpMethod.Get, WorkersPath, _ => FakeBackend.Problem(HttpStatusCode.Unauthorized, "Sign in first."));
        await using var ctx = Context(backend, signedIn: false);
        var navigation = ctx.Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("workers");

        var page = ctx.Render<WorkerList>();

        page.WaitForAssertion(() => Assert.Equal(1, backend.Count(HttpMethod.Get, WorkersPath)));
        Assert.Equal("http://localhost/workers", navigation.Uri);
    }

    [Fact]
    public async Task A_failed_load_shows_the_backends_reason_and_try_again_loads_the_page()
    {
        int calls = 0;
        var backend = new FakeBackend().On(HttpMethod.Get, WorkersPath, _ => Interlocked.Increment(ref calls) == 1
            ? FakeBackend.Problem(HttpStatusCode.ServiceUnavailable, "The database is starting.")
            : FakeBackend.Json(Array.Empty<WorkerDto>()));
        await using var ctx = Context(backend);

        var page = ctx.Render<WorkerList>();

        page.WaitForAssertion(() => Assert.Contains("The database is starting.", page.Find("[data-testid=backend-error]").TextContent, StringComparison.Ordinal));
        await page.Find("[data-testid=backend-error] button").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=backend-error]")));
        page.WaitForElement("[data-testid=workers-empty]");
        Assert.Equal(2, backend.Count(HttpMethod.Get, WorkersPath));
    }

    /// <summary>
    /// Threat: after a backend restart every open page stays on "cannot be reached" until someone presses Try again. A
    /// page without its own refresh (the user list) loads again on its own while the backend cannot be reached, and
    /// shows its data as soon as the backend answers.
    /// </summary>
    [Fact]
    public async Task A_page_whose_backend_was_unreachable_recovers_on_its_own_once_the_backend_answers()
    {
        int calls = 0;
        var backend = new FakeBackend().On(HttpMethod.Get, "/api/users", _ => Interlocked.Increment(ref calls) switch
        {
            1 => throw new HttpRequestException("Connection refused (127.0.0.1:5080)"),
            2 => FakeBackend.Problem(HttpStatusCode.ServiceUnavailable, "The backend is starting."),
            _ => FakeBackend.Json(new[] { new UserDto("u1", "someone@test.local", ["Analyst"]) }),
        });
        await using var ctx = Context(backend, retry: TimeSpan.FromMilliseconds(100));

        var page = ctx.Render<Mds.Portal.Components.Pages.Admin.UserList>();

        page.WaitForAssertion(() => Assert.Contains("someone@test.local", page.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Empty(page.FindAll("[data-testid=backend-error]"));
        Assert.Equal(3, backend.Count(HttpMethod.Get, "/api/users"));
    }
}
