using Mds.Backend.Limits;

namespace Mds.Backend.Registry;

public static class RegistrySetup
{
    /// <summary>The model registry: uploads, versions, artifacts (the scheduler that places them is <c>AddScheduling</c>).</summary>
    public static IHostApplicationBuilder AddRegistry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RegistryOptions>()
            .BindConfiguration("Mds:Registry")
            .Configure(o => o.DataDirectory = builder.Configuration["Mds:DataDirectory"] ?? o.DataDirectory)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ArtifactStore>();
        builder.Services.AddSingleton<OnnxInspector>();
        builder.Services.AddHostedService<ArtifactCleanup>();
        builder.Services.AddSingleton<UploadStaging>();
        builder.Services.AddHostedService<UploadStagingSweep>();
        builder.Services.AddConcurrencyLimit<RegistryOptions>(RegistryApi.LimitPolicy, o => (o.MaxConcurrentUploads, o.MaxQueuedUploads));
        builder.Services.AddScoped<RegistryServices>();
        return builder;
    }
}
