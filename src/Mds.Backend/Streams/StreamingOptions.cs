namespace Mds.Backend.Streams;

/// <summary>
/// <c>Mds:Streaming</c>: which engine carries MDS's streams and how to reach it. (This file holds only the Kafka
/// transport's member; the stream processor's settings join it.)
/// </summary>
public sealed class StreamingOptions
{
    public const string Section = "Mds:Streaming";

    /// <summary><c>Mds:Streaming:Kafka</c>: the Kafka transport's settings.</summary>
    public KafkaStreamingOptions Kafka { get; set; } = new();
}
