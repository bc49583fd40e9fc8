using Mds.Contracts.Cluster;
using Mds.Workers;
using Mds.Workers.Auth;
using Mds.Workers.Cluster;
using Mds.Workers.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mds.UnitTests.Workers;

/// <summary>
/// A real worker (the same registrations and endpoints as Program) on a loopback port, talking to a
/// <see cref="FakeBackend"/>. Its Hangfire server points at a database that is not there; orders are given by
/// calling <see cref="IWorkerOrders"/> directly, as Hangfire's activator would.
/// </summary>
internal sealed class WorkerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _cacheDirectory;

    private WorkerHost(WebApplication app, string cacheDirectory, FakeBackend backend)
    {
        _app = app;
        _cacheDirectory = cacheDirectory;
        Backend = backend;
        Http = new HttpClient { BaseAddress = new Uri(Identity.RestUrl + "/") };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", FakeBackend.CallerKey);
    }

    public FakeBackend Backend { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    public WorkerIdentity Identity => Services.GetRequiredService<WorkerIdentity>();

    public IWorkerOrders Orders => Services.GetRequiredService<IWorkerOrders>();

    public SessionRegistry Registry => Services.GetRequiredService<SessionRegistry>();

    public string CacheDirectory => _cacheDirectory;

    public static async Task<WorkerHost> StartAsync(bool backendRefusesRegistrations = false)
    {
        var backend = await FakeBackend.StartAsync();
        backend.RefuseRegistrations = backendRefusesRegistrations;
        string cache = Directory.CreateTempSubdirectory("mds-worker-cache-").FullName;
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mds:Cluster:WorkerKey"] = FakeBackend.WorkerKey,
            ["ConnectionStrings:Mds"] = "Host=127.0.0.1;Port=9;Database=absent;Timeout=1",
            ["Mds:Worker:BackendUrl"] = backend.Url,
            ["Mds:Worker:CacheDirectory"] = cache,
            ["Mds:Worker:MaxRequestBodyMb"] = "1",
        });
        builder.AddWorkerHost();
        var app = builder.Build();
        app.UseWorkerPipeline();
        app.MapInferenceApi();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            await backend.DisposeAsync();
            Directory.Delete(cache, recursive: true);
            throw;
        }

        return new WorkerHost(app, cache, backend);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Backend.DisposeAsync();
        Directory.Delete(_cacheDirectory, recursive: true);
    }

    /// <summary>Waits until <paramref name="condition"/> holds (polling), failing after a few seconds.</summary>
    public static Task EventuallyAsync(Func<bool> condition, string what) =>
        EventuallyAsync(() => Task.FromResult(condition()), what);

    /// <summary>Waits until the asynchronous <paramref name="condition"/> holds (polling), failing after a few seconds.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
            await Task.Delay(20);
        }
    }
}
