using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Streams;

/// <summary><c>Mds:Streaming</c>: which engine carries the streams, and its settings.</summary>
public sealed class StreamingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Streaming";

    /// <summary><see cref="StreamEngines.Nats"/> (default), <see cref="StreamEngines.Kafka"/> or <see cref="StreamEngines.None"/>.</summary>
    public string Engine { get; set; } = StreamEngines.Nats;

    /// <summary>Messages delivered to one backend and not yet acknowledged, per stream.</summary>
    [Range(1, 100_000)]
    public int MaxInFlight { get; set; } = 256;

    /// <summary>
    /// Largest input message in bytes: the input streams refuse bigger ones (JetStream <c>max_msg_size</c>). No message
    /// is bigger than the server's <c>max_payload</c> either (1 MiB unless the server raises it).
    /// </summary>
    [Range(1024, int.MaxValue)]
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary><c>Mds:Streaming:Nats</c>.</summary>
    public NatsStreamingOptions Nats { get; set; } = new();
}

/// <summary><c>Mds:Streaming:Nats</c>: the NATS JetStream engine.</summary>
public sealed class NatsStreamingOptions
{
    /// <summary>The server (<c>nats://host:port</c>; several separated by commas). <c>./mds up</c> passes its own.</summary>
    [Required]
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The server's token (<c>authorization { token }</c>), when it wants one; <c>./mds up</c> generates it. Never logged.</summary>
    public string? Token { get; set; }

    /// <summary>A delivered input not acknowledged within this long is redelivered (to any backend).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long JetStream remembers a <c>Nats-Msg-Id</c> to drop a republished message.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan DuplicateWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Bytes kept per JetStream stream (inputs waiting; outputs and errors kept for reading).</summary>
    [Range(1024 * 1024, long.MaxValue)]
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>How long a message is kept at most (an input not consumed by then is dropped).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Messages delivered and not acknowledged on one stream's consumer, over every backend sharing it (JetStream
    /// <c>max_ack_pending</c>); each backend also keeps to <see cref="StreamingOptions.MaxInFlight"/>.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxAckPending { get; set; } = 1024;

    /// <summary>How long one call to the server (publish, stream and consumer management) may take.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
