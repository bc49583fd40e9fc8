namespace Mds.Backend.Streams;

/// <summary>
/// A durable message engine under MDS's streams: NATS JetStream (<see cref="StreamEngines.Nats"/>, the default) or
/// Kafka (<see cref="StreamEngines.Kafka"/>). It knows subjects, consumers and acknowledgements; what a message means
/// (a V2 request), batching, retries and errors belong to the stream processor above it, which is the same for both.
/// One instance per backend process, shared by every stream; thread-safe.
/// </summary>
public interface IStreamTransport : IAsyncDisposable
{
    /// <summary><see cref="StreamEngines.Nats"/> or <see cref="StreamEngines.Kafka"/>.</summary>
    string Engine { get; }

    /// <summary>
    /// Creates what <paramref name="resource"/> needs, idempotently: JetStream streams for its input and output subjects
    /// and <see cref="StreamSubjects.Errors"/> (with a de-duplication window) and one durable pull consumer on the
    /// input shared by every backend; Kafka topics and the consumer group. Safe to call from several backends at once.
    /// </summary>
    Task EnsureAsync(StreamResource resource, CancellationToken ct);

    /// <summary>Deletes the resource's streams, consumer and topics (its messages with them). The errors subject stays.</summary>
    Task RemoveAsync(StreamResource resource, CancellationToken ct);

    /// <summary>
    /// Messages on the resource's input, from its shared durable consumer (JetStream) or consumer group (Kafka): each
    /// delivered to one backend at a time, redelivered when not acknowledged (by <see cref="StreamMessage.AckAsync"/>)
    /// within the engine's ack wait or after <see cref="StreamMessage.NakAsync"/>. At most <paramref name="maxInFlight"/>
    /// messages are delivered and not yet acknowledged or nak'd at once (JetStream max-ack-pending, a bounded Kafka
    /// queue): a slow consumer makes lag grow, never memory. Ends when <paramref name="ct"/> is cancelled.
    /// </summary>
    IAsyncEnumerable<StreamMessage> ConsumeAsync(StreamResource resource, int maxInFlight, CancellationToken ct);

    /// <summary>
    /// Publishes durably: returns once the engine has stored the message (JetStream publish ack; Kafka delivery report
    /// from the idempotent producer), throws otherwise. <see cref="OutgoingMessage.DeduplicationId"/> is the JetStream
    /// <c>Nats-Msg-Id</c> and the Kafka message key, so a republish after a crash is dropped by JetStream within its
    /// de-duplication window.
    /// </summary>
    Task PublishAsync(string subject, OutgoingMessage message, CancellationToken ct);

    /// <summary>
    /// The newest <paramref name="count"/> messages stored on <paramref name="subject"/> (oldest first), read without
    /// consuming them (for the portal's "latest outputs and errors"). Empty when the subject has none or does not exist.
    /// </summary>
    Task<IReadOnlyList<StoredMessage>> LatestAsync(string subject, int count, CancellationToken ct);

    /// <summary>Messages on the input not yet delivered (JetStream num_pending; Kafka: end offsets − committed offsets), and those delivered but not acknowledged.</summary>
    Task<StreamBacklog> BacklogAsync(StreamResource resource, CancellationToken ct);
}

/// <summary>The engines <c>Mds:Streaming:Engine</c> names.</summary>
public static class StreamEngines
{
    public const string Nats = "nats", Kafka = "kafka", None = "none";
}

/// <summary>A stream-enabled model or pipeline.</summary>
/// <param name="Kind"><see cref="Models"/> or <see cref="Pipelines"/>.</param>
/// <param name="Name">The model's or pipeline's name.</param>
public sealed record StreamResource(string Kind, string Name)
{
    public const string Models = "models", Pipelines = "pipelines";

    /// <summary><c>mds.models.{name}.inputs</c> / <c>mds.pipelines.{name}.inputs</c>.</summary>
    public string InputSubject => $"mds.{Kind}.{Name}.inputs";

    /// <summary><c>mds.models.{name}.outputs</c> / <c>mds.pipelines.{name}.outputs</c>.</summary>
    public string OutputSubject => $"mds.{Kind}.{Name}.outputs";

    /// <summary>A name for the engine's own objects (JetStream stream and durable consumer, Kafka consumer group): <c>mds-models-{name}</c>.</summary>
    public string EngineName => $"mds-{Kind}-{Name.Replace('.', '_')}";
}

/// <summary>Subjects (and Kafka topics: the same names) shared by every stream.</summary>
public static class StreamSubjects
{
    /// <summary>Failures: the request id, the resource, the reason and the original message.</summary>
    public const string Errors = "mds.errors";
}

/// <summary>Header names on stream messages (lower case: the same on NATS and Kafka).</summary>
public static class StreamHeaders
{
    /// <summary>The request id and de-duplication key; made up by the processor when a message has none.</summary>
    public const string RequestId = "mds-request-id";

    /// <summary><c>application/json</c> (V2 JSON) or <c>application/x-protobuf</c> (a <c>ModelInferRequest</c>/<c>ModelInferResponse</c>).</summary>
    public const string ContentType = "content-type";

    /// <summary>The W3C trace context, carried from an input to its outputs (the same header name as on HTTP).</summary>
    public const string TraceParent = Mds.ServiceDefaults.RequestTrace.TraceParentHeader;

    /// <summary>On a message in <see cref="StreamSubjects.Errors"/>: <c>models/{name}</c> or <c>pipelines/{name}</c>.</summary>
    public const string Resource = "mds-resource";

    /// <summary>On a message in <see cref="StreamSubjects.Errors"/>: why it failed.</summary>
    public const string Error = "mds-error";

    public const string Json = "application/json", Protobuf = "application/x-protobuf";
}

/// <summary>A message to publish.</summary>
/// <param name="Data">The body.</param>
/// <param name="Headers">Headers (names lower case); values are single strings.</param>
/// <param name="DeduplicationId">JetStream <c>Nats-Msg-Id</c>; the Kafka key. For outputs: <c>{request id}</c>; for errors: <c>{request id}.error</c>.</param>
public sealed record OutgoingMessage(ReadOnlyMemory<byte> Data, IReadOnlyDictionary<string, string> Headers, string DeduplicationId);

/// <summary>A message as stored on a subject, read without consuming it.</summary>
/// <param name="Data">The body.</param>
/// <param name="Headers">Headers (names lower case; the first value of each).</param>
/// <param name="Timestamp">When the engine stored it.</param>
public sealed record StoredMessage(ReadOnlyMemory<byte> Data, IReadOnlyDictionary<string, string> Headers, DateTimeOffset Timestamp);

/// <summary>How far behind a stream's consumer is.</summary>
/// <param name="Pending">Messages on the input not yet delivered to any backend.</param>
/// <param name="Unacknowledged">Delivered, not yet acknowledged.</param>
public sealed record StreamBacklog(long Pending, long Unacknowledged);

/// <summary>A delivered input message. Exactly one of <see cref="AckAsync"/> or <see cref="NakAsync"/> is called for it.</summary>
public abstract class StreamMessage
{
    /// <summary>The body (bounded by the engine's maximum message size).</summary>
    public abstract ReadOnlyMemory<byte> Data { get; }

    /// <summary>Headers (names lower case; the first value of each).</summary>
    public abstract IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>1 on the first delivery, more on redeliveries (a consumer that died, a nak).</summary>
    public abstract int DeliveryCount { get; }

    /// <summary>When the message was first stored by the engine.</summary>
    public abstract DateTimeOffset Timestamp { get; }

    /// <summary>Done with: call only after its output (or error) is durably published. Never redelivered after this returns.</summary>
    public abstract ValueTask AckAsync(CancellationToken ct);

    /// <summary>Not now: redeliver (to any backend) after <paramref name="delay"/>. For a model with no Ready replica.</summary>
    public abstract ValueTask NakAsync(TimeSpan delay, CancellationToken ct);
}
