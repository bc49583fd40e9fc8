namespace Mds.Workers.Inference;

/// <summary>Registers the inference feature: session registry, loader, runner, metrics and error handling.</summary>
internal static class InferenceExtensions
{
    public static IHostApplicationBuilder AddInference(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<ModelLoader>();
        services.AddSingleton<WorkerMetrics>();
        services.AddSingleton<InferenceRunner>();
        services.AddSingleton<InferenceServices>();
        services.AddHostedService<ModelLoadMetrics>();
        services.AddExceptionHandler<LastResortExceptionHandler>();
        // UseExceptionHandler() needs a fallback besides the handler above; problem details is it.
        services.AddProblemDetails();
        return builder;
    }
}
