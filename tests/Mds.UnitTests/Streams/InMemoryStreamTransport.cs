using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Mds.Backend.Streams;

namespace Mds.UnitTests.Streams;

/// <summary>
/// A test double of <see cref="IStreamTransport"/> for the processor's unit tests: one queue per input subject,
/// max-in-flight honoured, nak redelivers after the delay with a higher delivery count, publishes recorded per subject.
/// </summary>
internal sealed class InMemoryStreamTransport : IStreamTransport
{
    private readonly ConcurrentDictionary<string, Channel<Delivery>> _inputs = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<StoredMessage>> _published = new();
    private int _acked, _naked;

    public string Engine => "memory";

    public int Acked => Volatile.Read(ref _acked);

    public int Naked => Volatile.Read(ref _naked);

    /// <summary>Set: publishing to this subject throws.</summary>
    public string? FailPublishTo { get; set; }

    public IReadOnlyList<StoredMessage> On(string subject) => _published.TryGetValue(subject, out var q) ? [.. q] : [];

    public void Send(StreamResource resource, byte[] data, Dictionary<string, string> headers, DateTimeOffset? timestamp = null) =>
        Input(resource).Writer.TryWrite(new Delivery(this, resource, data, headers, timestamp ?? DateTimeOffset.UtcNow, 1));

    public Task EnsureAsync(StreamResource resource, CancellationToken ct)
    {
        Input(resource);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(StreamResource resource, CancellationToken ct)
    {
        _inputs.TryRemove(resource.InputSubject, out _);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<StreamMessage> ConsumeAsync(StreamResource resource, int maxInFlight, [EnumeratorCancellation] CancellationToken ct)
    {
        var reader = Input(resource).Reader;
        var slots = new SemaphoreSlim(maxInFlight, maxInFlight);
        while (true)
        {
            await slots.WaitAsync(ct);
            var next = await reader.ReadAsync(ct);
            next.Slot = slots;
            yield return next;
        }
    }

    public Task PublishAsync(string subject, OutgoingMessage message, CancellationToken ct)
    {
        if (subject == FailPublishTo)
        {
            throw new InvalidOperationException("publish refused (test)");
        }

        _published.GetOrAdd(subject, _ => new ConcurrentQueue<StoredMessage>())
            .Enqueue(new StoredMessage(message.Data.ToArray(), new Dictionary<string, string>(message.Headers), DateTimeOffset.UtcNow));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<StoredMessage>> LatestAsync(string subject, int count, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<StoredMessage>>([.. On(subject).TakeLast(count)]);

    public Task<StreamBacklog> BacklogAsync(StreamResource resource, CancellationToken ct) =>
        Task.FromResult(new StreamBacklog(Input(resource).Reader.Count, 0));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Channel<Delivery> Input(StreamResource resource) => _inputs.GetOrAdd(resource.InputSubject, _ => Channel.CreateUnbounded<Delivery>());

    private sealed class Delivery(InMemoryStreamTransport owner, StreamResource resource, byte[] data, Dictionary<string, string> headers, DateTimeOffset timestamp, int count) : StreamMessage
    {
        private int _done;

        public SemaphoreSlim? Slot { get; set; }
        public override ReadOnlyMemory<byte> Data => data;
        public override IReadOnlyDictionary<string, string> Headers => headers;
        public override int DeliveryCount => count;
        public override DateTimeOffset Timestamp => timestamp;

        public override ValueTask AckAsync(CancellationToken ct)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Increment(ref owner._acked);
                Slot?.Release();
            }

            return ValueTask.CompletedTask;
        }

        public override ValueTask NakAsync(TimeSpan delay, CancellationToken ct)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Increment(ref owner._naked);
                Slot?.Release();
                _ = Task.Delay(delay, CancellationToken.None).ContinueWith(
                    _ => owner.Input(resource).Writer.TryWrite(new Delivery(owner, resource, data, headers, timestamp, count + 1)), TaskScheduler.Default);
            }

            return ValueTask.CompletedTask;
        }
    }
}
