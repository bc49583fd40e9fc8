namespace Mds.Backend.Streams;

public static class NatsStreamingExtensions
{
    /// <summary>
    /// The NATS JetStream transport as the backend's <see cref="IStreamTransport"/> (one per process; it dials NATS on
    /// first use). <see cref="StreamsApi.AddStreams"/> binds <see cref="StreamingOptions"/> and calls this for <c>nats</c>.
    /// </summary>
    public static IServiceCollection AddNatsStreamTransport(this IServiceCollection services)
    {
        services.AddSingleton<NatsStreamTransport>();
        services.AddSingleton<IStreamTransport>(sp => sp.GetRequiredService<NatsStreamTransport>());
        return services;
    }
}
