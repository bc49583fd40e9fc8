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
}
