using System.Text;
using System.Threading.Channels;
using Confluent.Kafka;

namespace Mds.Backend.Streams;

/// <summary>
/// One <see cref="KafkaStreamTransport.ConsumeAsync"/>: a group member on the resource's input topic, run on a thread of
/// its own (librdkafka's consumer is driven from one thread). Kafka has no per-message acknowledgement, so this keeps the
/// books: per partition the offsets delivered and not yet acknowledged ("outstanding": in flight, or nak'd and waiting),
/// and commits for each partition only the lowest outstanding offset (or one past the highest delivered) — never past a
/// message that is not acknowledged.
/// <list type="bullet">
/// <item>Back-pressure: outstanding messages are at most maxInFlight; a message read beyond that is put back (seek to it)
/// and its partition paused until a slot frees, so the backlog stays on the broker.</item>
/// <item>Nak: the partition is paused for the delay, then rewound to its lowest nak'd offset. Messages of that partition
/// read again on the way are skipped when this consumer already acknowledged them or still holds them; so within one
/// consumer only the nak'd message comes again. Commits stop below it meanwhile, so a consumer that takes the partition
/// over (rebalance, crash) gets the later messages again too: at-least-once.</item>
/// <item>Rebalance: a partition taken away drops its books; its unacknowledged messages go to the next owner (from the
/// last commit); their late acks and naks here do nothing.</item>
/// </list>
/// </summary>
internal sealed class KafkaConsumerLoop : IAsyncDisposable
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan CommitInterval = TimeSpan.FromMilliseconds(200);

    private readonly IConsumer<Ignore, byte[]> _consumer;
    private readonly string _topic;
    private readonly int _maxInFlight;
    private readonly ILogger _log;
    private readonly TimeProvider _clock = TimeProvider.System;
    private readonly Channel<StreamMessage> _delivered = Channel.CreateUnbounded<StreamMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();

    // Everything below is guarded by _gate: the loop thread changes it; acks, naks and BacklogAsync come from others.
    private readonly Lock _gate = new();
    private readonly Dictionary<int, PartitionBooks> _partitions = [];
    private int _outstanding;
    private bool _commitDue;
    private Task? _run;
    private int _disposed;

    public KafkaConsumerLoop(ConsumerConfig config, string topic, int maxInFlight, ILogger log)
    {
        _topic = topic;
        _maxInFlight = maxInFlight;
        _log = log;
        _consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetLogHandler((_, m) => KafkaStreamTransport.LogClient(log, m))
            .SetErrorHandler((_, e) => KafkaStreamTransport.LogError(log, e))
            .SetPartitionsAssignedHandler((_, assigned) => Assigned(assigned))
            .SetPartitionsRevokedHandler((_, revoked) => Revoked(revoked, commit: true))
            .SetPartitionsLostHandler((_, lost) => Revoked(lost, commit: false))
            .Build();
    }

    public ChannelReader<StreamMessage> Delivered => _delivered.Reader;

    public void Start()
    {
        _consumer.Subscribe(_topic);
        _run = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Per owned partition: one past the highest offset delivered (−1 when none yet), for the backlog.</summary>
    public (long Outstanding, IReadOnlyDictionary<int, long> NextOffsets) Snapshot()
    {
        lock (_gate)
        {
            return (_outstanding, _partitions.Values.Where(p => p.HighestSeen >= 0).ToDictionary(p => p.Partition, p => p.HighestSeen + 1));
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Reconcile();
                ConsumeResult<Ignore, byte[]>? result;
                try
                {
                    result = _consumer.Consume(PollTimeout);
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    // e.g. the topic is not there yet: say so and keep polling (slowly), never crash the loop
                    KafkaStreamTransport.LogError(_log, e.Error);
                    _stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(500));
                    continue;
                }

                if (result?.Message is not null)
                {
                    Received(result);
                }
            }

            Commit(force: true);
            _consumer.Close(); // leaves the group: the revoked handler commits once more, others take the partitions
            _delivered.Writer.TryComplete();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _delivered.Writer.TryComplete(e);
        }
        finally
        {
            _consumer.Dispose();
        }
    }

    /// <summary>Ends nak pauses that are due (rewinding), un-parks when a slot is free, applies pauses, commits.</summary>
    private void Reconcile()
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            foreach (var p in _partitions.Values)
            {
                if (p.RewindDue && p.PausedUntil <= now)
                {
                    p.RewindDue = false;
                    long? lowestWaiting = p.Outstanding.Where(e => !e.Value.InFlight).Select(e => (long?)e.Key).FirstOrDefault();
                    if (lowestWaiting is { } offset)
                    {
                        _consumer.Seek(new TopicPartitionOffset(_topic, p.Partition, offset));
                        p.ParkedAt = null; // the rewind is below anything parked
                    }
                }

                if (p.ParkedAt is not null && _outstanding < _maxInFlight)
                {
                    p.ParkedAt = null;
                }

                bool pause = p.ParkedAt is not null || p.RewindDue;
                if (pause != p.Paused)
                {
                    var tp = new TopicPartition(_topic, p.Partition);
                    if (pause)
                    {
                        _consumer.Pause([tp]);
                    }
                    else
                    {
                        _consumer.Resume([tp]);
                    }

                    p.Paused = pause;
                }
            }
        }

        Commit(force: false);
    }

    private void Received(ConsumeResult<Ignore, byte[]> result)
    {
        long offset = result.Offset.Value;
        KafkaStreamMessage? message = null;
        lock (_gate)
        {
            if (!_partitions.TryGetValue(result.Partition.Value, out var p))
            {
                return; // not ours (any more)
            }

            if (offset <= p.HighestSeen)
            {
                // Read again after a rewind: only a nak'd message whose delay is over is delivered again.
                if (p.Outstanding.TryGetValue(offset, out var entry) && !entry.InFlight && !p.RewindDue)
                {
                    entry.InFlight = true;
                    entry.Deliveries++;
                    message = new KafkaStreamMessage(this, p, offset, result.Message, entry.Deliveries);
                }
            }
            else if (p.Paused || _outstanding >= _maxInFlight)
            {
                // No slot (or read before a pause took effect): put it back on the broker, read it again later.
                if (p.ParkedAt is null || offset < p.ParkedAt)
                {
                    p.ParkedAt = offset;
                    _consumer.Seek(new TopicPartitionOffset(_topic, p.Partition, offset));
                }

                if (!p.Paused)
                {
                    _consumer.Pause([new TopicPartition(_topic, p.Partition)]);
                    p.Paused = true;
                }
            }
            else
            {
                p.HighestSeen = offset;
                p.Outstanding[offset] = new Entry { InFlight = true, Deliveries = 1 };
                _outstanding++;
                message = new KafkaStreamMessage(this, p, offset, result.Message, 1);
            }
        }

        if (message is not null)
        {
            _delivered.Writer.TryWrite(message);
        }
    }

    internal void Ack(PartitionBooks p, long offset)
    {
        lock (_gate)
        {
            if (!p.Revoked && p.Outstanding.Remove(offset))
            {
                _outstanding--;
                _commitDue = true;
            }
        }
    }

    internal void Nak(PartitionBooks p, long offset, TimeSpan delay)
    {
        var until = _clock.GetUtcNow() + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
        lock (_gate)
        {
            if (!p.Revoked && p.Outstanding.TryGetValue(offset, out var entry) && entry.InFlight)
            {
                entry.InFlight = false; // still outstanding: holds its slot and the commit below it
                p.RewindDue = true;
                if (until > p.PausedUntil)
                {
                    p.PausedUntil = until;
                }
            }
        }
    }

    /// <summary>Commits, for each partition, the lowest outstanding offset (or one past the highest delivered).</summary>
    private void Commit(bool force)
    {
        List<TopicPartitionOffset> offsets;
        lock (_gate)
        {
            if (!_commitDue && !force)
            {
                return;
            }

            var now = _clock.GetUtcNow();
            if (!force && now - _lastCommit < CommitInterval)
            {
                return;
            }

            _lastCommit = now;
            _commitDue = false;
            offsets = _partitions.Values.Select(p => (p, next: Committable(p))).Where(x => x.next > x.p.Committed)
                .Select(x => new TopicPartitionOffset(_topic, x.p.Partition, x.next)).ToList();
        }

        CommitOffsets(offsets);
    }

    private DateTimeOffset _lastCommit;

    private static long Committable(PartitionBooks p) => p.Outstanding.Count > 0 ? p.Outstanding.Keys.First() : p.HighestSeen + 1;

    private void CommitOffsets(List<TopicPartitionOffset> offsets)
    {
        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            _consumer.Commit(offsets);
            lock (_gate)
            {
                foreach (var o in offsets)
                {
                    if (_partitions.TryGetValue(o.Partition.Value, out var p) && o.Offset.Value > p.Committed)
                    {
                        p.Committed = o.Offset.Value;
                    }
                }
            }
        }
        catch (KafkaException e)
        {
            // a rebalance in progress, a coordinator moving: the next commit carries the same offsets
            lock (_gate)
            {
                _commitDue = true;
            }

            KafkaStreamTransport.LogError(_log, e.Error);
        }
    }

    private void Assigned(List<TopicPartition> assigned)
    {
        lock (_gate)
        {
            foreach (var tp in assigned)
            {
                _partitions[tp.Partition.Value] = new PartitionBooks(tp.Partition.Value);
            }
        }
    }

    private void Revoked(List<TopicPartitionOffset> revoked, bool commit)
    {
        List<TopicPartitionOffset> offsets = [];
        lock (_gate)
        {
            foreach (var tpo in revoked)
            {
                if (!_partitions.Remove(tpo.Partition.Value, out var p))
                {
                    continue;
                }

                p.Revoked = true;
                _outstanding -= p.Outstanding.Count;
                long next = Committable(p);
                if (commit && next > p.Committed)
                {
                    offsets.Add(new TopicPartitionOffset(_topic, p.Partition, next));
                }
            }
        }

        CommitOffsets(offsets);
    }

    public async ValueTask DisposeAsync()
    {
        // the enumeration that owns this loop and the transport's own disposal may both get here
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run;
        }

        _stop.Dispose();
    }

    internal sealed class Entry
    {
        public bool InFlight;
        public int Deliveries;
    }

    /// <summary>The books of one owned partition (a fresh one on each assignment).</summary>
    internal sealed class PartitionBooks(int partition)
    {
        public int Partition { get; } = partition;
        public long HighestSeen { get; set; } = -1;
        public long Committed { get; set; } = -1;
        public SortedDictionary<long, Entry> Outstanding { get; } = [];
        public DateTimeOffset PausedUntil { get; set; }
        public bool RewindDue { get; set; }
        public long? ParkedAt { get; set; }
        public bool Paused { get; set; }
        public bool Revoked { get; set; }
    }

    private sealed class KafkaStreamMessage : StreamMessage
    {
        private readonly KafkaConsumerLoop _loop;
        private readonly PartitionBooks _partition;
        private readonly long _offset;
        private int _settled;

        public KafkaStreamMessage(KafkaConsumerLoop loop, PartitionBooks partition, long offset, Message<Ignore, byte[]> message, int deliveries)
        {
            _loop = loop;
            _partition = partition;
            _offset = offset;
            Data = message.Value ?? [];
            Headers = ReadHeaders(message.Headers);
            Timestamp = message.Timestamp.UtcDateTime;
            DeliveryCount = deliveries;
        }

        public override ReadOnlyMemory<byte> Data { get; }

        public override IReadOnlyDictionary<string, string> Headers { get; }

        public override int DeliveryCount { get; }

        public override DateTimeOffset Timestamp { get; }

        public override ValueTask AckAsync(CancellationToken ct)
        {
            if (Interlocked.Exchange(ref _settled, 1) == 0)
            {
                _loop.Ack(_partition, _offset);
            }

            return ValueTask.CompletedTask;
        }

        public override ValueTask NakAsync(TimeSpan delay, CancellationToken ct)
        {
            if (Interlocked.Exchange(ref _settled, 1) == 0)
            {
                _loop.Nak(_partition, _offset, delay);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Kafka headers as the contract has them: names lower case, the first value of each, UTF-8.</summary>
    internal static Dictionary<string, string> ReadHeaders(Headers? headers)
    {
        var read = new Dictionary<string, string>(StringComparer.Ordinal);
        if (headers is null)
        {
            return read;
        }

        foreach (var header in headers)
        {
            read.TryAdd(header.Key.ToLowerInvariant(), Encoding.UTF8.GetString(header.GetValueBytes() ?? []));
        }

        return read;
    }
}
