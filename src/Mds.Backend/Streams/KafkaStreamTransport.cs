using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Streams;

/// <summary>
/// MDS's streams on Kafka (Confluent.Kafka / librdkafka), for organisations that already run a cluster. Topics are named
/// exactly as the subjects; a resource's consumer group is <see cref="StreamResource.EngineName"/>. Kafka acknowledges
/// by committed offset per partition, not per message: see <see cref="KafkaConsumerLoop"/> for how acks, naks and
/// back-pressure map onto that, and docs/streams.md ("Kafka") for what is guaranteed. Clients are made on first use, so
/// a backend with no stream enabled never dials the cluster; an unreachable cluster is an exception from the call.
/// </summary>
public sealed partial class KafkaStreamTransport : IStreamTransport
{
    private readonly KafkaStreamingOptions _options;
    private readonly ILogger<KafkaStreamTransport> _log;
    private readonly Lazy<IProducer<string, byte[]>> _producer;
    private readonly Lazy<IAdminClient> _admin;
    private readonly ConcurrentDictionary<KafkaConsumerLoop, string> _loops = new();

    public KafkaStreamTransport(IOptions<StreamingOptions> options, ILogger<KafkaStreamTransport> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.Kafka;
        _log = log;
        _producer = new Lazy<IProducer<string, byte[]>>(BuildProducer);
        _admin = new Lazy<IAdminClient>(() => new AdminClientBuilder(ClientSettings())
            .SetLogHandler((_, m) => LogClient(_log, m)).SetErrorHandler((_, e) => LogError(_log, e)).Build());
    }

    public string Engine => StreamEngines.Kafka;

    public async Task EnsureAsync(StreamResource resource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        string[] topics = [resource.InputSubject, resource.OutputSubject, StreamSubjects.Errors];
        var existing = await ExistingTopicsAsync(ct);
        var missing = topics.Where(t => !existing.ContainsKey(t)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        if (_options.CreateTopics)
        {
            try
            {
                await _admin.Value.CreateTopicsAsync(
                    missing.Select(t => new TopicSpecification { Name = t, NumPartitions = _options.Partitions, ReplicationFactor = _options.ReplicationFactor }),
                    new CreateTopicsOptions { RequestTimeout = _options.OperationTimeout, OperationTimeout = _options.OperationTimeout });
            }
            catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
            {
                // another backend made them first
            }

            return;
        }

        // No create rights: a metadata request that names a topic lets a broker with auto.create.topics.enable make it.
        foreach (var topic in missing)
        {
            var deadline = DateTime.UtcNow + _options.OperationTimeout;
            while (true)
            {
                var found = await Task.Run(() => _admin.Value.GetMetadata(topic, _options.OperationTimeout), ct);
                if (found.Topics.Any(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError && t.Partitions.Count > 0))
                {
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException(
                        $"Kafka topic '{topic}' does not exist: Mds:Streaming:Kafka:CreateTopics is false and the broker did not create it (auto.create.topics.enable).");
                }

                await Task.Delay(200, ct);
            }
        }
    }

    public async Task RemoveAsync(StreamResource resource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var existing = await ExistingTopicsAsync(ct);
        var topics = new[] { resource.InputSubject, resource.OutputSubject }.Where(existing.ContainsKey).ToList();
        if (topics.Count > 0)
        {
            try
            {
                await _admin.Value.DeleteTopicsAsync(topics, new DeleteTopicsOptions { RequestTimeout = _options.OperationTimeout, OperationTimeout = _options.OperationTimeout });
            }
            catch (DeleteTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.UnknownTopicOrPart))
            {
                // already gone
            }
        }

        // The group's committed offsets must go too, or a topic made again under the same name would be read from the
        // old positions. A group with members still in it cannot be deleted: say so, the stream processor stops first.
        try
        {
            await _admin.Value.DeleteGroupsAsync([resource.EngineName], new DeleteGroupsOptions { RequestTimeout = _options.OperationTimeout, OperationTimeout = _options.OperationTimeout });
        }
        catch (DeleteGroupsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.GroupIdNotFound))
        {
            // no offsets were ever committed
        }
        catch (DeleteGroupsException e)
        {
            LogGroupNotDeleted(_log, resource.EngineName, e.Results.FirstOrDefault(r => r.Error.IsError)?.Error.Reason ?? e.Message);
        }
    }

    public async IAsyncEnumerable<StreamMessage> ConsumeAsync(StreamResource resource, int maxInFlight, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        var config = new ConsumerConfig(ClientSettings())
        {
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            // the local prefetch is bounded too (librdkafka's default is 64 MiB per consumer)
            QueuedMaxMessagesKbytes = 8192,
            QueuedMinMessages = Math.Max(maxInFlight, 100),
        };
        ApplySettings(config);
        config.GroupId = resource.EngineName;
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;

        var loop = new KafkaConsumerLoop(config, resource.InputSubject, maxInFlight, _log);
        _loops[loop] = resource.EngineName;
        try
        {
            loop.Start();
            var reader = loop.Delivered;
            while (true)
            {
                try
                {
                    if (!await reader.WaitToReadAsync(ct))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }

                while (reader.TryRead(out var message))
                {
                    yield return message;
                }
            }
        }
        finally
        {
            _loops.TryRemove(loop, out _);
            await loop.DisposeAsync();
        }
    }

    public async Task PublishAsync(string subject, OutgoingMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var headers = new Headers();
        foreach (var (name, value) in message.Headers)
        {
            headers.Add(name, Encoding.UTF8.GetBytes(value));
        }

        byte[] body = MemoryMarshal.TryGetArray(message.Data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : message.Data.ToArray();
        // Returns after the delivery report: stored on every in-sync replica (acks=all), or an exception.
        await _producer.Value.ProduceAsync(subject, new Message<string, byte[]> { Key = message.DeduplicationId, Value = body, Headers = headers }, ct);
    }

    public async Task<IReadOnlyList<StoredMessage>> LatestAsync(string subject, int count, CancellationToken ct)
    {
        if (count <= 0)
        {
            return [];
        }

        var existing = await ExistingTopicsAsync(ct);
        if (!existing.TryGetValue(subject, out int partitions))
        {
            return [];
        }

        return await Task.Run(() => ReadLatest(subject, partitions, count, ct), ct);
    }

    /// <summary>
    /// Reads the last <paramref name="count"/> of each partition with a throwaway consumer (assigned, never in a group,
    /// never committing), then keeps the newest by timestamp. Kafka orders only within a partition: across partitions the
    /// order is by the producer's millisecond timestamp (then partition and offset).
    /// </summary>
    private List<StoredMessage> ReadLatest(string subject, int partitions, int count, CancellationToken ct)
    {
        var config = new ConsumerConfig(ClientSettings()) { EnablePartitionEof = true };
        ApplySettings(config);
        config.GroupId = "mds-latest-" + Guid.NewGuid().ToString("N");
        config.EnableAutoCommit = false;
        using var reader = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, m) => LogClient(_log, m)).Build();
        var ends = new Dictionary<int, long>();
        var starts = new List<TopicPartitionOffset>();
        for (int p = 0; p < partitions; p++)
        {
            var marks = reader.QueryWatermarkOffsets(new TopicPartition(subject, p), _options.OperationTimeout);
            long start = Math.Max(marks.Low.Value, marks.High.Value - count);
            if (start < marks.High.Value)
            {
                starts.Add(new TopicPartitionOffset(subject, p, start));
                ends[p] = marks.High.Value;
            }
        }

        var read = new List<(StoredMessage Message, int Partition, long Offset)>();
        if (starts.Count == 0)
        {
            return [];
        }

        reader.Assign(starts);
        var deadline = DateTime.UtcNow + _options.OperationTimeout;
        while (ends.Count > 0 && DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
        {
            var result = reader.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null)
            {
                continue;
            }

            int partition = result.Partition.Value;
            if (result.Message is not null && ends.TryGetValue(partition, out long end) && result.Offset.Value < end)
            {
                var m = result.Message;
                read.Add((new StoredMessage(m.Value ?? [], KafkaConsumerLoop.ReadHeaders(m.Headers), m.Timestamp.UtcDateTime), partition, result.Offset.Value));
            }

            if (result.IsPartitionEOF || result.Offset.Value + 1 >= (ends.TryGetValue(partition, out long last) ? last : 0))
            {
                ends.Remove(partition);
            }
        }

        reader.Close();
        return read.OrderBy(r => r.Message.Timestamp).ThenBy(r => r.Partition).ThenBy(r => r.Offset)
            .TakeLast(count).Select(r => r.Message).ToList();
    }

    public async Task<StreamBacklog> BacklogAsync(StreamResource resource, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var existing = await ExistingTopicsAsync(ct);
        if (!existing.TryGetValue(resource.InputSubject, out int partitions))
        {
            return new StreamBacklog(0, 0);
        }

        // This process's consumers: what they hold, and how far they have read (past the last commit).
        long unacknowledged = 0;
        var read = new Dictionary<int, long>();
        foreach (var (loop, group) in _loops)
        {
            if (group != resource.EngineName)
            {
                continue;
            }

            var (outstanding, next) = loop.Snapshot();
            unacknowledged += outstanding;
            foreach (var (p, offset) in next)
            {
                read[p] = Math.Max(read.GetValueOrDefault(p), offset);
            }
        }

        long pending = await Task.Run(() =>
        {
            var config = new ConsumerConfig(ClientSettings());
            ApplySettings(config);
            config.GroupId = resource.EngineName; // reads the group's commits; never subscribes, so never joins it
            config.EnableAutoCommit = false;
            using var probe = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, m) => LogClient(_log, m)).Build();
            var tps = Enumerable.Range(0, partitions).Select(p => new TopicPartition(resource.InputSubject, p)).ToList();
            var committed = probe.Committed(tps, _options.OperationTimeout).ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
            long sum = 0;
            foreach (var tp in tps)
            {
                var marks = probe.QueryWatermarkOffsets(tp, _options.OperationTimeout);
                long from = Math.Max(marks.Low.Value, Math.Max(committed.GetValueOrDefault(tp.Partition.Value, -1), read.GetValueOrDefault(tp.Partition.Value, -1)));
                sum += Math.Max(0, marks.High.Value - from);
            }

            probe.Close();
            return sum;
        }, ct);
        return new StreamBacklog(pending, unacknowledged);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var loop in _loops.Keys)
        {
            await loop.DisposeAsync();
        }

        if (_producer.IsValueCreated)
        {
            await Task.Run(() => _producer.Value.Flush(_options.OperationTimeout));
            _producer.Value.Dispose();
        }

        if (_admin.IsValueCreated)
        {
            _admin.Value.Dispose();
        }
    }

    /// <summary>Topic name → partition count, from the cluster's metadata (all topics: naming one could auto-create it).</summary>
    private async Task<Dictionary<string, int>> ExistingTopicsAsync(CancellationToken ct)
    {
        var metadata = await Task.Run(() => _admin.Value.GetMetadata(_options.OperationTimeout), ct);
        return metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).ToDictionary(t => t.Topic, t => t.Partitions.Count);
    }

    private IProducer<string, byte[]> BuildProducer()
    {
        var config = new ProducerConfig(ClientSettings());
        ApplySettings(config);
        // What "published" means: the idempotent producer (no duplicates or reordering from its own retries) and acks
        // from every in-sync replica.
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        return new ProducerBuilder<string, byte[]>(config)
            .SetLogHandler((_, m) => LogClient(_log, m)).SetErrorHandler((_, e) => LogError(_log, e)).Build();
    }

    private Dictionary<string, string> ClientSettings()
    {
        if (string.IsNullOrWhiteSpace(_options.BootstrapServers))
        {
            throw new InvalidOperationException("Mds:Streaming:Kafka:BootstrapServers is not set.");
        }

        return new Dictionary<string, string> { ["bootstrap.servers"] = _options.BootstrapServers, ["client.id"] = "mds-backend" };
    }

    /// <summary>The operator's extra librdkafka settings (SASL, TLS, …); the caller sets what MDS relies on after this.</summary>
    private void ApplySettings(ClientConfig config)
    {
        foreach (var (name, value) in _options.Settings)
        {
            config.Set(name, value);
        }
    }

    /// <summary>librdkafka's own log lines (they never hold configuration values).</summary>
    internal static void LogClient(ILogger log, LogMessage message)
    {
        var level = (int)message.Level switch
        {
            <= 3 => LogLevel.Error,
            4 => LogLevel.Warning,
            5 or 6 => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        LogLibrdkafka(log, level, message.Facility, message.Message);
    }

    internal static void LogError(ILogger log, Error error) => LogKafkaError(log, error.Code, error.IsFatal, error.Reason);

    [LoggerMessage(Message = "librdkafka {Facility}: {Text}")]
    private static partial void LogLibrdkafka(ILogger log, LogLevel level, string facility, string text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka error {Code} (fatal: {Fatal}): {Reason}")]
    private static partial void LogKafkaError(ILogger log, ErrorCode code, bool fatal, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka consumer group {Group} was not deleted: {Reason}")]
    private static partial void LogGroupNotDeleted(ILogger log, string group, string reason);
}
