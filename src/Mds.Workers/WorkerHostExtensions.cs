using Mds.Workers.Audit;
using Mds.Workers.Auth;
using Mds.Workers.Cluster;
using Mds.Workers.Grpc;
using Mds.Workers.Inference;
using Microsoft.Extensions.Options;

namespace Mds.Workers;

/// <summary>Everything the worker process consists of, registered in one call from Program.</summary>
internal static class WorkerHostExtensions
{
    public static IHostApplicationBuilder AddWorkerHost(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        if (configuration["urls"] is null && configuration["http_ports"] is null && configuration["https_ports"] is null
            && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            // Nothing says where to listen (ASPNETCORE_URLS, --urls, ASPNETCORE_HTTP_PORTS, Kestrel endpoints): use the
            // worker's port from ARCHITECTURE.md rather than ASP.NET's 5000.
            configuration.AddInMemoryCollection([new KeyValuePair<string, string?>("urls", "http://localhost:6080")]);
        }

        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>();
        builder.AddInference();
        builder.AddGrpcInference();
        builder.AddAudit();
        builder.AddCluster();
        builder.AddCallerAuthentication();
        return builder;
    }

    /// <summary>
    /// The worker's middleware, in order: errors as problem details; the inference fast path (a remembered caller's
    /// infer call skips everything below, see <see cref="InferenceFastPath"/>); routing; authentication and
    /// authorization. Called by Program and by the tests that host a worker, so both run the same pipeline.
    /// </summary>
    public static WebApplication UseWorkerPipeline(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseMiddleware<InferenceFastPath>();
        app.UseRouting(); // explicit, so that the fast path runs before endpoint matching
        app.UseCallerAuthentication();
        return app;
    }
}
