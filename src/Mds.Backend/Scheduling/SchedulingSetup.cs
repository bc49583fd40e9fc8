using Mds.Backend.Cluster;

namespace Mds.Backend.Scheduling;

public static class SchedulingSetup
{
    /// <summary>The scheduler that places versions on workers: the reconciler, its loop and timer, the workers' order queues.</summary>
    public static IHostApplicationBuilder AddScheduling(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SchedulerOptions>().BindConfiguration("Mds:Scheduler").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReconcileSignal>();
        builder.Services.AddSingleton<IClusterChangeListener>(sp => sp.GetRequiredService<ReconcileSignal>());
        builder.Services.AddSingleton<WorkerOrdersQueue>();
        builder.Services.AddScoped<Reconciler>();
        builder.Services.AddSingleton<ServingSince>();
        builder.Services.AddHostedService<ReconcileLoop>();
        builder.Services.AddSingleton<AutoscaleSignals>();
        builder.Services.AddHostedService<GatewayLoadReporter>();
        builder.Services.AddReconcileSchedule();
        return builder;
    }
}
