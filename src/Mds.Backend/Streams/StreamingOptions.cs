using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Streams;

/// <summary><c>Mds:Streaming</c>: the engine under MDS's streams and how the stream processor consumes them.</summary>
public sealed class StreamingOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Streaming";

    /// <summary><c>nats</c> (default: NATS JetStream), <c>kafka</c>, or <c>none</c> (streaming switched off: enabling a stream is refused).</summary>
    public string Engine { get; set; } = StreamEngines.Nats;

    /// <summary>NATS JetStream settings.</summary>
    public NatsStreamingOptions Nats { get; set; } = new();

    /// <summary>Kafka settings.</summary>
    public KafkaStreamingOptions Kafka { get; set; } = new();

    /// <summary>Messages delivered and not yet acknowledged, per stream per backend (JetStream max-ack-pending; a bounded Kafka queue).</summary>
    [Range(1, 100_000)]
    public int MaxInFlight { get; set; } = 256;

    /// <summary>The most messages combined into one inference call (only when the model's version has batching on, and never more rows than its max batch size).</summary>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = 64;

    /// <summary>Inference calls (or pipeline runs) in progress at once, per stream per backend.</summary>
    [Range(1, 1024)]
    public int MaxConcurrentCalls { get; set; } = 16;

    /// <summary>A message that has waited this long (since the engine stored it) for a Ready replica goes to the errors subject.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>While the model has no Ready replica, a message is handed back (nak) to be redelivered after this delay.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// While nothing can answer, the messages a backend holds (at most <see cref="MaxInFlight"/>) are kept this long,
    /// looked at every <see cref="RetryDelay"/>, before they go back to the engine (on NATS never more than half the ack
    /// wait, so nothing is redelivered while held).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan HoldWhileWaiting { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The largest input message in bytes, checked before anything is decoded; the input streams refuse bigger ones
    /// (JetStream <c>max_msg_size</c>). 1 MiB: NATS's default <c>max_payload</c>, which no message can exceed anyway
    /// unless the server raises it.
    /// </summary>
    [Range(1024, int.MaxValue)]
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>How often each backend re-reads which resources are stream-enabled (changes made on this backend apply at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often each backend writes its stream counters (summed over backends by <c>GET …/streaming</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan CounterInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <inheritdoc/>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Engine is not (StreamEngines.Nats or StreamEngines.Kafka or StreamEngines.None))
        {
            yield return new ValidationResult($"Mds:Streaming:Engine must be '{StreamEngines.Nats}', '{StreamEngines.Kafka}' or '{StreamEngines.None}', not '{Engine}'.", [nameof(Engine)]);
        }

        if (Engine == StreamEngines.Nats && !Uri.TryCreate(Nats.Url, UriKind.Absolute, out _))
        {
            yield return new ValidationResult($"Mds:Streaming:Nats:Url '{Nats.Url}' is not an absolute URL (nats://host:port).", ["Nats.Url"]);
        }

        if (Engine == StreamEngines.Kafka && string.IsNullOrWhiteSpace(Kafka.BootstrapServers))
        {
            yield return new ValidationResult("Mds:Streaming:Kafka:BootstrapServers is required when Mds:Streaming:Engine is 'kafka'.", ["Kafka.BootstrapServers"]);
        }

        foreach (var result in Check(Nats, "Nats").Concat(Check(Kafka, "Kafka")))
        {
            yield return result;
        }
    }

    private static IEnumerable<ValidationResult> Check(object section, string name)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(section, new ValidationContext(section), results, validateAllProperties: true);
        return results.Select(r => new ValidationResult($"Mds:Streaming:{name}: {r.ErrorMessage}", r.MemberNames.Select(m => $"{name}.{m}")));
    }
}

/// <summary><c>Mds:Streaming:Nats</c>.</summary>
public sealed class NatsStreamingOptions
{
    /// <summary>The NATS server (JetStream enabled; <c>nats://host:port</c>, several separated by commas). <c>./mds up</c> passes its own.</summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The server's token (<c>authorization { token }</c>), when it wants one; <c>./mds up</c> generates it. Never logged.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Messages delivered and not acknowledged on one stream's consumer, over every backend sharing it (JetStream
    /// <c>max_ack_pending</c>); each backend also keeps to <see cref="StreamingOptions.MaxInFlight"/>.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxAckPending { get; set; } = 1024;

    /// <summary>How long one call to the server (publish, stream and consumer management) may take.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a delivered message may stay unacknowledged before JetStream redelivers it (to any backend).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>JetStream's de-duplication window (<c>Nats-Msg-Id</c>) on every MDS stream.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan DuplicateWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most bytes each JetStream stream keeps (oldest discarded past it).</summary>
    [Range(1024L * 1024, long.MaxValue)]
    public long MaxBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>How long each JetStream stream keeps messages (oldest discarded past it).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);
}
