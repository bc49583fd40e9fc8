namespace Mds.Backend.Streams;

/// <summary><c>Mds:Streaming:Kafka</c>: where the Kafka cluster is and how MDS's topics are made.</summary>
public sealed class KafkaStreamingOptions
{
    /// <summary><c>host:port[,host:port…]</c> of the cluster's brokers (librdkafka's <c>bootstrap.servers</c>).</summary>
    public string BootstrapServers { get; set; } = "127.0.0.1:9092";

    /// <summary>Partitions of each topic MDS creates: the most backends that can share one stream's work.</summary>
    public int Partitions { get; set; } = 3;

    /// <summary>Replication factor of each topic MDS creates (3 on a production cluster).</summary>
    public short ReplicationFactor { get; set; } = 1;

    /// <summary>
    /// True (default): MDS creates missing topics with the admin API. False: it never does, and relies on topics made
    /// beforehand or on the broker's <c>auto.create.topics.enable</c> (a cluster where MDS has no create rights).
    /// </summary>
    public bool CreateTopics { get; set; } = true;

    /// <summary>How long an admin or metadata request (create, delete, latest messages, backlog) may take.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Extra librdkafka properties given to every client MDS makes (producer, consumers, admin): <c>security.protocol</c>,
    /// <c>sasl.mechanism</c>, <c>sasl.username</c>, <c>sasl.password</c>, <c>ssl.ca.location</c>, …. Values are never logged.
    /// The settings MDS's guarantees rest on (idempotence, acks, manual commits, the group id) cannot be overridden here.
    /// </summary>
    public Dictionary<string, string> Settings { get; set; } = [];
}
