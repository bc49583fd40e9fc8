using Mds.Backend.Limits;
using Mds.Backend.Scheduling;

namespace Mds.Backend.Registry;

public static class RegistrySetup
{
    /// <summary>The model registry and the scheduler that places its versions.</summary>
    public static IHostApplicationBuilder AddRegistry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RegistryOptions>()
            .BindConfiguration("Mds:Registry")
            .Configure(o => o.DataDirectory = builder.Configuration["Mds:DataDirectory"] ?? o.DataDirectory)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ArtifactStore>();
        builder.Services.AddSingleton<OnnxInspector>();
        builder.Services.AddHostedService<ArtifactCleanup>();
        builder.Services.AddConcurrencyLimit<RegistryOptions>(RegistryApi.LimitPolicy, o => (o.MaxConcurrentUploads, o.MaxQueuedUploads));
        builder.Services.AddScoped<RegistryServices>();
        builder.Services.AddScoped<Cluster.ClusterServices>();
        builder.Services.AddSingleton<Cluster.HeartbeatMisses>();

        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration("Mds:Scheduler").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReconcileSignal>();
        builder.Services.AddSingleton<WorkerOrdersQueue>();
        builder.Services.AddScoped<Reconciler>();
        builder.Services.AddSingleton<ServingSince>();
        builder.Services.AddHostedService<ReconcileLoop>();
        builder.Services.AddReconcileSchedule();
        return builder;
    }
}
