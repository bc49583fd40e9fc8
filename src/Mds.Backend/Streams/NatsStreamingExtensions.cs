namespace Mds.Backend.Streams;

public static class NatsStreamingExtensions
{
    /// <summary>
    /// The NATS JetStream transport as the backend's <see cref="IStreamTransport"/> (one per process; it dials NATS on
    /// first use), with <see cref="StreamingOptions"/> bound from <c>Mds:Streaming</c>.
    /// </summary>
    public static IServiceCollection AddNatsStreamTransport(this IServiceCollection services)
    {
        services.AddOptions<StreamingOptions>().BindConfiguration(StreamingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<NatsStreamTransport>();
        services.AddSingleton<IStreamTransport>(sp => sp.GetRequiredService<NatsStreamTransport>());
        return services;
    }
}
