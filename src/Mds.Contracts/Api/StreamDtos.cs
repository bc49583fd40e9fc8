namespace Mds.Contracts.Api;

/// <summary><c>PUT /api/models/{name}/streaming</c> and <c>PUT /api/pipelines/{name}/streaming</c>.</summary>
/// <param name="Enabled">Feed the resource from its input subject (true) or stop (false).</param>
/// <param name="CleanOnDisable">When disabling: also delete the engine's streams, consumer and topics, with their messages (Seldon's <c>cleanTopicsOnDelete</c>).</param>
public sealed record StreamingRequest(bool Enabled, bool CleanOnDisable = false);

/// <summary>A model's or pipeline's stream: <c>GET …/streaming</c>, <c>GET /api/streams</c>.</summary>
/// <param name="Kind"><c>models</c> or <c>pipelines</c>.</param>
/// <param name="Name">The model or pipeline.</param>
/// <param name="Enabled">Whether it is stream-enabled.</param>
/// <param name="Engine"><c>nats</c>, <c>kafka</c> or <c>none</c> (streaming switched off in this deployment).</param>
/// <param name="State"><see cref="StreamStates"/>.</param>
/// <param name="Reason">Why it is not Running; null when it is.</param>
/// <param name="InputSubject"><c>mds.models.{name}.inputs</c> (the Kafka topic has the same name).</param>
/// <param name="OutputSubject"><c>mds.models.{name}.outputs</c>.</param>
/// <param name="ErrorSubject"><c>mds.errors</c>.</param>
/// <param name="Counters">Totals and rates, summed over the backends consuming it.</param>
public sealed record StreamDto(
    string Kind, string Name, bool Enabled, string Engine, string State, string? Reason,
    string InputSubject, string OutputSubject, string ErrorSubject, StreamCountersDto Counters);

/// <summary>A stream's counters.</summary>
/// <param name="Received">Input messages taken (redeliveries included).</param>
/// <param name="Published">Outputs published.</param>
/// <param name="Errors">Messages sent to the errors subject.</param>
/// <param name="Redeliveries">Input messages delivered more than once.</param>
/// <param name="InFlight">Delivered and not yet acknowledged.</param>
/// <param name="Lag">Input messages not yet delivered.</param>
/// <param name="ReceivedPerSecond">Over the last minute.</param>
/// <param name="PublishedPerSecond">Over the last minute.</param>
public sealed record StreamCountersDto(
    long Received, long Published, long Errors, long Redeliveries, long InFlight, long Lag, double ReceivedPerSecond, double PublishedPerSecond);

/// <summary>States of a stream.</summary>
public static class StreamStates
{
    /// <summary>Consuming.</summary>
    public const string Running = "Running";

    /// <summary>Enabled, but messages wait: the model has no Ready replica, or the engine is unreachable (the reason says which).</summary>
    public const string Waiting = "Waiting";

    /// <summary>Not stream-enabled.</summary>
    public const string Disabled = "Disabled";
}

/// <summary><c>POST /api/streams/{kind}/{name}/messages</c>: publish a test message to the input subject.</summary>
/// <param name="Body">A V2 inference request as JSON.</param>
/// <param name="RequestId">The <c>mds-request-id</c>; made up when null.</param>
public sealed record StreamTestMessageRequest(string Body, string? RequestId = null);

/// <summary>A recent output or error of a stream, as the portal shows it (<c>GET /api/streams/{kind}/{name}/messages?subject=outputs|errors</c>).</summary>
/// <param name="RequestId">The <c>mds-request-id</c>.</param>
/// <param name="Subject">Where it was published.</param>
/// <param name="At">When it was stored.</param>
/// <param name="ContentType">Its content type.</param>
/// <param name="Body">The body as text (JSON as is; protobuf converted to V2 JSON); cut at 64 KiB.</param>
/// <param name="Error">For an error: the reason.</param>
public sealed record StreamMessageDto(string RequestId, string Subject, DateTimeOffset At, string ContentType, string Body, string? Error);
