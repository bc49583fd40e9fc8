namespace Mds.Backend.Streams;

/// <summary>A message bigger than the engine takes (NATS <c>max_payload</c>, Kafka <c>message.max.bytes</c>): refused before it is sent.</summary>
public sealed class StreamMessageTooLargeException : InvalidOperationException
{
    public StreamMessageTooLargeException() { }

    public StreamMessageTooLargeException(string message) : base(message) { }

    public StreamMessageTooLargeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The message's size in bytes (body and headers).</summary>
    public long Bytes { get; init; }

    /// <summary>The most the engine takes.</summary>
    public long Limit { get; init; }
}
