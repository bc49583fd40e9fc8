using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mds.Backend.Streams;

public static class KafkaStreamSetup
{
    /// <summary>
    /// The Kafka transport (<c>Mds:Streaming:Engine</c> = <c>kafka</c>), its options from <c>Mds:Streaming:Kafka</c>.
    /// <see cref="StreamsApi.AddStreams"/> binds <see cref="StreamingOptions"/> and calls this for <c>kafka</c>.
    /// </summary>
    public static IServiceCollection AddKafkaStreamTransport(this IServiceCollection services)
    {
        services.TryAddSingleton<KafkaStreamTransport>();
        services.TryAddSingleton<IStreamTransport>(sp => sp.GetRequiredService<KafkaStreamTransport>());
        return services;
    }
}
