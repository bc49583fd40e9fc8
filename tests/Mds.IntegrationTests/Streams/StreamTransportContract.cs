using System.Text;
using System.Threading.Channels;
using Mds.Backend.Streams;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Streams;

/// <summary>
/// What every stream engine under MDS must do, whichever it is (issue 14): NATS JetStream against a real nats-server,
/// Kafka against librdkafka's mock cluster. Each engine's test class derives from this one and supplies transports —
/// each a separate instance on the same engine, as two backend processes would have. Every test works on resources of
/// its own (a fresh name) and removes them at the end.
/// </summary>
public abstract class StreamTransportContract : IAsyncLifetime
{
    private readonly List<IStreamTransport> _transports = [];
    private readonly List<StreamResource> _resources = [];

    /// <summary>A new transport instance connected to the same engine as the others this test made.</summary>
    protected abstract Task<IStreamTransport> CreateTransportAsync();

    /// <summary>
    /// How many copies a subject holds after the same message is published twice with one de-duplication id: 1 on
    /// JetStream (Nats-Msg-Id within the window), 2 on Kafka (the idempotent producer de-duplicates only its own retries).
    /// </summary>
    protected virtual int CopiesAfterRepublish => 1;

    /// <summary>How long a consumer that goes away keeps its unacknowledged messages before another gets them (JetStream: the ack wait the factory configured).</summary>
    protected virtual TimeSpan RedeliveryTimeout => TimeSpan.FromSeconds(15);

    /// <summary>How long two new consumers need before both are sharing the work (Kafka: the group's rebalance).</summary>
    protected virtual TimeSpan ConsumersSettle => TimeSpan.FromSeconds(1);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        if (_transports.Count > 0)
        {
            foreach (var resource in _resources)
            {
                try
                {
                    await _transports[0].RemoveAsync(resource, CancellationToken.None);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // best effort: the engine goes away with the test class anyway
                }
            }
        }

        foreach (var transport in _transports)
        {
            await transport.DisposeAsync();
        }
    }

    [Fact]
    public async Task Published_input_is_delivered_with_its_body_and_headers_once()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        for (int i = 0; i < 3; i++)
        {
            await transport.PublishAsync(resource.InputSubject, Message($"id-{i}", $"{{\"n\":{i}}}", ("x-tenant", "acme")), CancellationToken.None);
        }

        await using var consumer = new Consumer(transport, resource, maxInFlight: 16);
        var seen = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var message = await consumer.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException($"message {i} not delivered");
            Assert.Equal(1, message.DeliveryCount);
            Assert.Equal("acme", message.Headers["x-tenant"]);
            Assert.Equal(StreamHeaders.Json, message.Headers[StreamHeaders.ContentType]);
            string id = message.Headers[StreamHeaders.RequestId];
            Assert.Equal($"{{\"n\":{id["id-".Length..]}}}", Encoding.UTF8.GetString(message.Data.Span));
            seen.Add(id);
            await message.AckAsync(CancellationToken.None);
        }

        Assert.Equal(["id-0", "id-1", "id-2"], seen.Order());
        Assert.Null(await consumer.NextAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Acknowledged_messages_are_not_delivered_again_to_a_later_consumer()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await PublishInputsAsync(transport, resource, 5);
        await using (var first = new Consumer(transport, resource, maxInFlight: 16))
        {
            for (int i = 0; i < 5; i++)
            {
                await (await first.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException($"message {i} not delivered")).AckAsync(CancellationToken.None);
            }
        }

        var other = await TransportAsync();
        await using var later = new Consumer(other, resource, maxInFlight: 16);
        Assert.Null(await later.NextAsync(TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task A_message_its_consumer_never_acknowledged_goes_to_another_consumer()
    {
        // A backend that dies holding a message: the message must not be lost.
        var dying = await TransportAsync();
        var resource = await ResourceAsync(dying);
        await PublishInputsAsync(dying, resource, 1);
        await using (var consumer = new Consumer(dying, resource, maxInFlight: 16))
        {
            Assert.NotNull(await consumer.NextAsync(TimeSpan.FromSeconds(20)));
        }

        await dying.DisposeAsync();
        _transports.Remove(dying);

        var survivor = await TransportAsync();
        await using var taker = new Consumer(survivor, resource, maxInFlight: 16);
        var again = await taker.NextAsync(RedeliveryTimeout) ?? throw new TimeoutException("the unacknowledged message was not redelivered");
        Assert.Equal("id-0", again.Headers[StreamHeaders.RequestId]);
        await again.AckAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_nak_redelivers_the_message_after_its_delay_with_a_higher_delivery_count()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await PublishInputsAsync(transport, resource, 1);
        await using var consumer = new Consumer(transport, resource, maxInFlight: 16);
        var first = await consumer.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException("not delivered");
        await first.NakAsync(TimeSpan.FromMilliseconds(500), CancellationToken.None);

        var second = await consumer.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException("not redelivered after the nak");
        Assert.Equal(("id-0", 2), (second.Headers[StreamHeaders.RequestId], second.DeliveryCount));
        await second.AckAsync(CancellationToken.None);
    }

    [Fact]
    public async Task No_more_than_max_in_flight_messages_are_delivered_unacknowledged()
    {
        // Back-pressure: a slow model makes the backlog grow on the engine, not in the backend's memory.
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await PublishInputsAsync(transport, resource, 10);
        await using var consumer = new Consumer(transport, resource, maxInFlight: 3);
        var held = new List<StreamMessage>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await consumer.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException($"message {i} not delivered"));
        }

        Assert.Null(await consumer.NextAsync(TimeSpan.FromSeconds(2)));
        await held[0].AckAsync(CancellationToken.None);
        Assert.NotNull(await consumer.NextAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Two_consumers_split_the_work_and_every_message_is_handled()
    {
        var a = await TransportAsync();
        var b = await TransportAsync();
        var resource = await ResourceAsync(a);
        await b.EnsureAsync(resource, CancellationToken.None);
        var handled = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        int byA = 0, byB = 0;
        await using var consumerA = new Consumer(a, resource, maxInFlight: 8);
        await using var consumerB = new Consumer(b, resource, maxInFlight: 8);
        await Task.Delay(ConsumersSettle);
        await PublishInputsAsync(a, resource, 200);

        async Task DrainAsync(Consumer consumer, Action counted)
        {
            while (await consumer.NextAsync(TimeSpan.FromSeconds(3)) is { } message)
            {
                await Task.Delay(2); // a model's work: gives the other consumer its share
                handled.AddOrUpdate(message.Headers[StreamHeaders.RequestId], 1, (_, n) => n + 1);
                counted();
                await message.AckAsync(CancellationToken.None);
            }
        }

        await Task.WhenAll(DrainAsync(consumerA, () => Interlocked.Increment(ref byA)), DrainAsync(consumerB, () => Interlocked.Increment(ref byB)));
        Assert.Equal(200, handled.Count);
        Assert.True(byA > 0 && byB > 0, $"one consumer did all the work: {byA} and {byB}");
    }

    [Fact]
    public async Task A_republished_output_with_the_same_deduplication_id_is_stored_as_the_engine_promises()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await transport.PublishAsync(resource.OutputSubject, Message("same", "{\"copy\":1}"), CancellationToken.None);
        await transport.PublishAsync(resource.OutputSubject, Message("same", "{\"copy\":2}"), CancellationToken.None);
        await transport.PublishAsync(resource.OutputSubject, Message("other", "{\"copy\":3}"), CancellationToken.None);

        var stored = await transport.LatestAsync(resource.OutputSubject, 10, CancellationToken.None);
        Assert.Equal(CopiesAfterRepublish, stored.Count(m => m.Headers[StreamHeaders.RequestId] == "same"));
        Assert.Single(stored, m => m.Headers[StreamHeaders.RequestId] == "other");
    }

    [Fact]
    public async Task Latest_gives_the_newest_messages_oldest_first_without_consuming_them()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        for (int i = 0; i < 5; i++)
        {
            await transport.PublishAsync(resource.OutputSubject, Message($"out-{i}", $"{{\"n\":{i}}}"), CancellationToken.None);
        }

        var latest = await transport.LatestAsync(resource.OutputSubject, 3, CancellationToken.None);
        Assert.Equal(["out-2", "out-3", "out-4"], latest.Select(m => m.Headers[StreamHeaders.RequestId]));
        Assert.Equal("{\"n\":4}", Encoding.UTF8.GetString(latest[^1].Data.Span));
        Assert.Equal(5, (await transport.LatestAsync(resource.OutputSubject, 100, CancellationToken.None)).Count);
        Assert.Empty(await transport.LatestAsync("mds.models.never-made.outputs", 10, CancellationToken.None));
    }

    [Fact]
    public async Task Backlog_counts_messages_waiting_and_messages_held()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await PublishInputsAsync(transport, resource, 5);
        await Eventually.TrueAsync(async () => (await transport.BacklogAsync(resource, CancellationToken.None)).Pending == 5, TimeSpan.FromSeconds(10), "5 pending");

        await using var consumer = new Consumer(transport, resource, maxInFlight: 2);
        for (int i = 0; i < 2; i++)
        {
            Assert.NotNull(await consumer.NextAsync(TimeSpan.FromSeconds(20)));
        }

        StreamBacklog? backlog = null;
        await Eventually.TrueAsync(async () =>
        {
            backlog = await transport.BacklogAsync(resource, CancellationToken.None);
            return backlog.Unacknowledged == 2 && backlog.Pending == 3;
        }, TimeSpan.FromSeconds(10), $"3 pending and 2 held (last: {backlog})");
    }

    [Fact]
    public virtual async Task Errors_subject_takes_messages_and_remove_deletes_a_resources_messages()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        var failure = new OutgoingMessage(Encoding.UTF8.GetBytes("not json"), new Dictionary<string, string>
        {
            [StreamHeaders.RequestId] = "bad-" + resource.Name,
            [StreamHeaders.Resource] = "models/" + resource.Name,
            [StreamHeaders.Error] = "the body is not a V2 request",
        }, "bad-" + resource.Name + ".error");
        await transport.PublishAsync(StreamSubjects.Errors, failure, CancellationToken.None);
        var errors = await transport.LatestAsync(StreamSubjects.Errors, 50, CancellationToken.None);
        Assert.Contains(errors, m => m.Headers[StreamHeaders.Resource] == "models/" + resource.Name && m.Headers[StreamHeaders.Error] == "the body is not a V2 request");

        await PublishInputsAsync(transport, resource, 3);
        await transport.PublishAsync(resource.OutputSubject, Message("out", "{}"), CancellationToken.None);
        await transport.RemoveAsync(resource, CancellationToken.None);
        await transport.EnsureAsync(resource, CancellationToken.None);
        Assert.Equal(new StreamBacklog(0, 0), await transport.BacklogAsync(resource, CancellationToken.None));
        Assert.Empty(await transport.LatestAsync(resource.OutputSubject, 10, CancellationToken.None));
    }

    /// <summary>A transport made by the engine's factory and disposed after the test.</summary>
    protected async Task<IStreamTransport> TransportAsync()
    {
        var transport = await CreateTransportAsync();
        _transports.Add(transport);
        return transport;
    }

    /// <summary>A model resource of this test's own, created on the engine.</summary>
    protected async Task<StreamResource> ResourceAsync(IStreamTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var resource = new StreamResource(StreamResource.Models, "contract-" + Guid.NewGuid().ToString("N")[..10]);
        _resources.Add(resource);
        await transport.EnsureAsync(resource, CancellationToken.None);
        return resource;
    }

    protected static OutgoingMessage Message(string requestId, string json, params (string Name, string Value)[] headers)
    {
        var all = new Dictionary<string, string> { [StreamHeaders.RequestId] = requestId, [StreamHeaders.ContentType] = StreamHeaders.Json };
        foreach (var (name, value) in headers)
        {
            all[name] = value;
        }

        return new OutgoingMessage(Encoding.UTF8.GetBytes(json), all, requestId);
    }

    protected static async Task PublishInputsAsync(IStreamTransport transport, StreamResource resource, int count)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(resource);
        for (int i = 0; i < count; i++)
        {
            await transport.PublishAsync(resource.InputSubject, Message($"id-{i}", $"{{\"n\":{i}}}"), CancellationToken.None);
        }
    }

    /// <summary>Reads a transport's deliveries in the background, so a test can wait for the next one with a timeout.</summary>
    protected sealed class Consumer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Channel<StreamMessage> _delivered = Channel.CreateUnbounded<StreamMessage>();
        private readonly Task _pump;
        private Exception? _failure;

        public Consumer(IStreamTransport transport, StreamResource resource, int maxInFlight)
        {
            _pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var message in transport.ConsumeAsync(resource, maxInFlight, _stop.Token))
                    {
                        await _delivered.Writer.WriteAsync(message);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    // stopped by the test
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _failure = e;
                }
                finally
                {
                    _delivered.Writer.TryComplete();
                }
            });
        }

        /// <summary>The next delivery, or null when none comes within <paramref name="timeout"/>; rethrows what broke the consumer.</summary>
        public async Task<StreamMessage?> NextAsync(TimeSpan timeout)
        {
            using var wait = new CancellationTokenSource(timeout);
            try
            {
                return await _delivered.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                return null;
            }
            catch (ChannelClosedException)
            {
                throw new InvalidOperationException("the consumer stopped", _failure);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _pump;
            _stop.Dispose();
        }
    }
}
