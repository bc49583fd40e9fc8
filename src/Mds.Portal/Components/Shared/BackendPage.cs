using System.Net;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mds.Portal.Components.Shared;

/// <summary>
/// What every page that shows backend data shares: its load kept in one place (the failure to show, a refresh on an
/// interval while the page is open, a token that stops with the page). A 401 needs nothing here:
/// <see cref="Auth.SignInOnUnauthorized"/> has already sent the browser to sign in.
/// </summary>
public abstract class BackendPage : ComponentBase, IAsyncDisposable
{
    private readonly RefreshTimer _refresh = new();
    private bool _refreshing;
    private Task _recovery = Task.CompletedTask;

    /// <summary>Where the page finds <see cref="PortalOptions.BackendRetryInterval"/> (optional: 5 s without it).</summary>
    [Inject]
    private IServiceProvider Services { get; set; } = default!;

    /// <summary>The last load's failure, shown with a way to try again; null once a load succeeds.</summary>
    protected HttpRequestException? Error { get; set; }

    /// <summary>Cancelled when the page goes away: the token for every backend call the page makes.</summary>
    protected CancellationToken Stopping => _refresh.Stopping;

    /// <summary>
    /// Runs <paramref name="load"/> and keeps its failure in <see cref="Error"/> (cleared as it starts). A refused
    /// sign-in (401) is not shown, since the page is on its way to the sign-in page, and a load cut off because the
    /// page closed is ignored. True when the load succeeded.
    /// </summary>
    protected async Task<bool> LoadWithAsync(Func<CancellationToken, Task> load)
    {
        ArgumentNullException.ThrowIfNull(load);
        // Cleared first, so a part of the load that keeps its own failure in Error (a second call) is not overwritten.
        Error = null;
        try
        {
            await load(Stopping);
            return true;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            return false;
        }
        catch (HttpRequestException ex)
        {
            Error = ex;
            if (Unreachable(ex) && !_refreshing && _recovery.IsCompleted)
            {
                _recovery = RecoverAsync(load);
            }

            return false;
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
            return false;
        }
    }

    // The backend did not answer, or a proxy / the backend itself said it cannot serve now: worth trying again unasked.
    private static bool Unreachable(HttpRequestException ex) => ex.StatusCode is null
        or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    // Loads again every BackendRetryInterval until a load succeeds, the user's Try again already did, a refresh took
    // over, or the page closed: the page recovers by itself once the backend is back (a restart, say).
    private async Task RecoverAsync(Func<CancellationToken, Task> load)
    {
        var interval = Services.GetService<IOptions<PortalOptions>>()?.Value.BackendRetryInterval ?? TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                await Task.Delay(interval, Stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (Error is null || _refreshing || Stopping.IsCancellationRequested)
            {
                return;
            }

            bool loaded = false;
            await InvokeAsync(async () =>
            {
                loaded = await LoadWithAsync(load);
                if (!Stopping.IsCancellationRequested)
                {
                    StateHasChanged();
                }
            });
            if (loaded || Error is null || !Unreachable(Error))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Calls <paramref name="refresh"/> every <paramref name="interval"/> until the page goes away, rendering after
    /// each; call it once, from the first <see cref="ComponentBase.OnAfterRender(bool)"/>.
    /// </summary>
    protected void RefreshEvery(TimeSpan interval, Func<Task> refresh)
    {
        ArgumentNullException.ThrowIfNull(refresh);
        _refreshing = true;
        _refresh.Start(interval, _ => InvokeAsync(async () =>
        {
            await refresh();
            if (!Stopping.IsCancellationRequested)
            {
                StateHasChanged();
            }
        }));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore();
        await _refresh.DisposeAsync(); // also ends a recovery: it waits on the same token
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a page holds beyond its refresh (a page that holds nothing more does not override it).</summary>
    protected virtual ValueTask DisposeAsyncCore() => ValueTask.CompletedTask;
}
