using Hangfire;
using Hangfire.PostgreSql;
using Mds.Contracts.Cluster;
using Mds.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Cluster;

/// <summary>Registers the cluster feature: backend client, registration and heartbeat, order queue, artifact cache.</summary>
internal static class ClusterExtensions
{
    public static IHostApplicationBuilder AddCluster(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ClusterOptions>()
            .BindConfiguration(ClusterOptions.Section)
            .Configure<IConfiguration>((options, configuration) => options.ConnectionString ??= configuration.GetConnectionString("Mds"))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>();

        services.AddHttpClient(BackendClient.HttpClientName, (provider, http) =>
        {
            var worker = provider.GetRequiredService<IOptions<WorkerOptions>>().Value;
            http.BaseAddress = new Uri(worker.BackendUrl.TrimEnd('/') + "/");
            // Control calls set their own short timeouts; artifact downloads may take long.
            http.Timeout = Timeout.InfiniteTimeSpan;
        }).AddHttpMessageHandler<WorkerCredential.Handler>();
        services.AddSingleton<WorkerCredential>();
        services.AddTransient<WorkerCredential.Handler>();
        services.AddSingleton<BackendClient>();
        services.AddSingleton<WorkerIdentity>();
        services.AddSingleton<ArtifactCache>();
        services.AddSingleton<OrderQueue>();
        services.AddSingleton<ClusterMembership>();
        services.AddHostedService(provider => provider.GetRequiredService<ClusterMembership>());
        services.AddSingleton<IWorkerOrders, WorkerOrders>();

        TimeSpan queuePoll = JobQueuePolling.IntervalFrom(builder.Configuration); // read now: a bad value stops the start
        // Storage only: the server is started by ClusterMembership once the backend has given this worker its queue.
        services.AddHangfire((provider, configuration) => configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(
                connection => connection.UseNpgsqlConnection(provider.GetRequiredService<IOptions<ClusterOptions>>().Value.ConnectionString),
                new PostgreSqlStorageOptions
                {
                    // Orders are picked up at once: the backend enqueues with long polling too, so LISTEN/NOTIFY wakes
                    // the fetch; the poll only covers a missed notification.
                    QueuePollInterval = queuePoll,
                    EnableLongPolling = true,
                    // The backend owns the schema and creates it before it accepts registrations. Without schema
                    // preparation, creating the storage does no I/O: a database that is away does not block
                    // registration, and Hangfire's own fetch loop retries until it is back.
                    PrepareSchemaIfNecessary = false,
                }));
        return builder;
    }
}
