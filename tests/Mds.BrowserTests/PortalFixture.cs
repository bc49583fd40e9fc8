using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// A whole MDS (database, backend, one worker, portal, a nats-server for streams — real processes on loopback) and Debian's Chromium driven by
/// Playwright (no browser download). Screenshots go to <c>.mds/test-results/screenshots/</c>.
/// </summary>
public sealed class PortalFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    /// <summary>A real nats-server (JetStream) the backend streams through; it is dialled only once a test enables a stream.</summary>
    public NatsServer Nats { get; private set; } = null!;

    public MdsCluster Cluster { get; private set; } = null!;
    public ServiceProcess Portal { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public Uri PortalUrl => Portal.Url;

    public static string ScreenshotDirectory { get; } = Path.Combine(TestEnvironment.RepoRoot, ".mds", "test-results", "screenshots");

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        Cluster = new() { InitialWorkers = 1, Nats = Nats };
        await Cluster.InitializeAsync();
        Portal = ServiceProcess.Start("portal", TestEnvironment.ServiceDll("Mds.Portal"), TestEnvironment.FreePort(), new Dictionary<string, string>
        {
            ["Mds__Portal__BackendUrl"] = Cluster.BackendUrl.ToString().TrimEnd('/'),
        });
        await Portal.WaitUntilHealthyAsync("/healthz", TimeSpan.FromSeconds(60));

        // Two cores run the whole stack and the browser: give expectations as long as actions (Playwright's default is 5 s).
        Assertions.SetDefaultExpectTimeout(60_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("MDS_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Portal is not null)
        {
            await Portal.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
    }

    /// <summary>A fresh browser context signed in as <paramref name="role"/> through the real sign-in form.</summary>
    public async Task<IPage> SignInAsync(string role)
    {
        var page = await NewPageAsync();
        await page.GotoAsync(new Uri(PortalUrl, "/login").ToString());
        await page.FillAsync("input[name='Input.Email']", MdsCluster.EmailOf(role));
        await page.FillAsync("input[name='Input.Password']", MdsCluster.Password);
        await page.ClickAsync("button[type='submit']");
        await page.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal), new PageWaitForURLOptions { Timeout = 60_000 });
        return page;
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        context.SetDefaultTimeout(60_000);
        return await context.NewPageAsync();
    }

    public string Url(string path) => new Uri(PortalUrl, path).ToString();

    /// <summary>Deploys the iris sample unless a test before this one has.</summary>
    public async Task EnsureIrisAsync()
    {
        using var client = await Cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync("/api/models/iris")).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await Cluster.DeployAsync("iris", await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        }
    }

    /// <summary>Saves a full-page screenshot named <paramref name="name"/>.png and returns its path.</summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        string path = Path.Combine(ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    /// <summary>
    /// Waits until Blazor's interactive circuit has rendered the page (MudBlazor components respond to clicks, and
    /// what is typed is no longer lost when the interactive render replaces the prerendered HTML).
    /// </summary>
    public static Task WaitForCircuitAsync(IPage page) =>
        page.WaitForSelectorAsync(".mud-layout[data-interactive=true]");

    /// <summary>
    /// Gives the file input under <paramref name="scope"/> a file once Blazor listens to it: a file set on an input that
    /// the interactive render has just put there, before its script is hooked up, is lost without a trace.
    /// </summary>
    public static async Task SetInputFileAsync(IPage page, string scope, string path)
    {
        string selector = $"{scope} input[type=file]";
        await page.WaitForFunctionAsync(
            "selector => { const input = document.querySelector(selector); return !!input && input._blazorInputFileNextFileId !== undefined; }",
            selector);
        await page.Locator(selector).SetInputFilesAsync(path);
    }

    public static string Role(string role) => role; // readability in tests: Role(Roles.Analyst)

    internal static readonly string[] AllRoles = [Roles.Admin, Roles.Researcher, Roles.Analyst];
}

[CollectionDefinition(Name)]
public sealed class PortalCollection : ICollectionFixture<PortalFixture>
{
    public const string Name = "portal";
}
