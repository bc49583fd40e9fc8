using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Batches;
using Mds.Portal.Components;
using Mds.Portal.Jobs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MudBlazor.Services;

namespace Mds.Portal;

/// <summary>The portal's services and pipeline, so that <c>Program.cs</c> reads like a table of contents.</summary>
public static class PortalSetup
{
    /// <summary>Adds options, sign-in, the backend clients, MudBlazor and the interactive server components.</summary>
    public static IHostApplicationBuilder AddPortal(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PortalOptions>()
            .Bind(builder.Configuration.GetSection(PortalOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => o.BackendUrl.IsAbsoluteUri && o.BackendUrl.Scheme is "http" or "https",
                $"{PortalOptions.Section}:BackendUrl must be an absolute http(s) URL.")
            .ValidateOnStart();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddPortalAuth();
        builder.Services.AddBackendClients();
        builder.Services.AddHangfireProxy();
        builder.Services.AddMudServices();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        return builder;
    }

    /// <summary>Maps static assets, sign-out, the job dashboard proxy, batch result downloads and the pages.</summary>
    public static WebApplication MapPortal(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/error", createScopeForErrors: true);
            app.UseHsts(); // only on HTTPS responses; a browser then refuses plain HTTP to this host for a year
        }

        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets();
        app.MapPortalAuth();
        app.MapHangfireProxy();
        app.MapBatchResultDownload();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
