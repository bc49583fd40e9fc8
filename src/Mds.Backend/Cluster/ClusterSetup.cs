namespace Mds.Backend.Cluster;

public static class ClusterSetup
{
    /// <summary>The worker fleet: registration, heartbeats, replica reports, and the cluster-changed signal.</summary>
    public static IHostApplicationBuilder AddCluster(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<ClusterServices>();
        builder.Services.AddSingleton<HeartbeatMisses>();
        builder.Services.AddSingleton<ClusterChanged>();
        return builder;
    }
}
