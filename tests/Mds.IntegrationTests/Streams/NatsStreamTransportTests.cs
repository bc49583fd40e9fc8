using System.Text;
using Mds.Backend.Streams;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Mds.IntegrationTests.Streams;

/// <summary>One real nats-server (JetStream, loopback, temporary state) for the NATS transport's tests.</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    public NatsServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await NatsServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

/// <summary>
/// The transport contract on NATS JetStream against a real nats-server, and what is NATS's own: inputs and outputs in
/// separate streams (an output is not dropped as a duplicate of its input), max_payload and max_msg_size refusals, a
/// lazy connection, and consumers that keep flowing across a nats-server crash.
/// </summary>
public sealed class NatsStreamTransportTests(NatsServerFixture nats) : StreamTransportContract, IClassFixture<NatsServerFixture>
{
    private static readonly TimeSpan AckWait = TimeSpan.FromSeconds(2);

    protected override Task<IStreamTransport> CreateTransportAsync() => Task.FromResult<IStreamTransport>(Transport(nats.Server.Url));

    private static NatsStreamTransport Transport(string url, int maxMessageBytes = 1024 * 1024, string? token = null) => new(
        Options.Create(new StreamingOptions { MaxMessageBytes = maxMessageBytes, Nats = { Url = url, Token = token, AckWait = AckWait, RequestTimeout = TimeSpan.FromSeconds(5) } }),
        NullLoggerFactory.Instance);

    [Fact]
    public async Task An_output_carrying_its_inputs_request_id_is_not_dropped_as_a_duplicate_of_the_input()
    {
        // Nats-Msg-Id de-duplication is per stream: inputs and outputs share request ids, so they live in different streams.
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        await transport.PublishAsync(resource.InputSubject, Message("req-1", "{\"in\":1}"), CancellationToken.None);
        await transport.PublishAsync(resource.OutputSubject, Message("req-1", "{\"out\":1}"), CancellationToken.None);
        await transport.PublishAsync(StreamSubjects.Errors, Message("req-1", "{\"err\":1}"), CancellationToken.None);

        var outputs = await transport.LatestAsync(resource.OutputSubject, 10, CancellationToken.None);
        Assert.Equal("{\"out\":1}", Encoding.UTF8.GetString(Assert.Single(outputs).Data.Span));
        Assert.Equal(new StreamBacklog(1, 0), await transport.BacklogAsync(resource, CancellationToken.None));
    }

    [Fact]
    public async Task A_message_over_the_servers_max_payload_is_refused_before_it_is_sent()
    {
        var transport = await TransportAsync();
        var resource = await ResourceAsync(transport);
        var huge = new OutgoingMessage(new byte[2 * 1024 * 1024], new Dictionary<string, string> { [StreamHeaders.RequestId] = "huge" }, "huge");

        var refused = await Assert.ThrowsAsync<StreamMessageTooLargeException>(() => transport.PublishAsync(resource.OutputSubject, huge, CancellationToken.None));
        Assert.Equal(1024 * 1024, refused.Limit);
        Assert.Empty(await transport.LatestAsync(resource.OutputSubject, 10, CancellationToken.None));
    }

    [Fact]
    public async Task An_input_over_max_message_bytes_is_refused_by_the_stream()
    {
        await using var transport = Transport(nats.Server.Url, maxMessageBytes: 4096);
        var resource = new StreamResource(StreamResource.Models, "small-" + Guid.NewGuid().ToString("N")[..8]);
        await transport.EnsureAsync(resource, CancellationToken.None);
        try
        {
            var big = new OutgoingMessage(new byte[8192], new Dictionary<string, string> { [StreamHeaders.RequestId] = "big" }, "big");
            await Assert.ThrowsAnyAsync<Exception>(() => transport.PublishAsync(resource.InputSubject, big, CancellationToken.None));
            await transport.PublishAsync(resource.InputSubject, Message("fits", "{}"), CancellationToken.None);
            Assert.Equal(new StreamBacklog(1, 0), await transport.BacklogAsync(resource, CancellationToken.None));
        }
        finally
        {
            await transport.RemoveAsync(resource, CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_unreachable_server_is_an_exception_from_the_call_and_the_next_call_connects()
    {
        // A backend with no stream enabled never dials NATS; one whose NATS is down gets errors, not a crash.
        int port = TestEnvironment.FreePort();
        await using var transport = Transport($"nats://127.0.0.1:{port}");
        var resource = new StreamResource(StreamResource.Models, "lazy-" + Guid.NewGuid().ToString("N")[..8]);
        await Assert.ThrowsAnyAsync<NatsException>(() => transport.EnsureAsync(resource, CancellationToken.None));

        await using var server = await NatsServer.StartAsync(port);
        await transport.EnsureAsync(resource, CancellationToken.None);
        await transport.PublishAsync(resource.InputSubject, Message("after", "{}"), CancellationToken.None);
        Assert.Equal(new StreamBacklog(1, 0), await transport.BacklogAsync(resource, CancellationToken.None));
    }

    [Fact]
    public async Task A_consumer_keeps_flowing_after_the_nats_server_crashes_and_restarts_and_no_message_is_lost()
    {
        await using var server = await NatsServer.StartAsync();
        await using var transport = Transport(server.Url);
        var resource = new StreamResource(StreamResource.Models, "crash-" + Guid.NewGuid().ToString("N")[..8]);
        await transport.EnsureAsync(resource, CancellationToken.None);
        await PublishInputsAsync(transport, resource, 5);
        await using var consumer = new Consumer(transport, resource, maxInFlight: 4);
        var seen = new HashSet<string>();
        var first = await consumer.NextAsync(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException("not delivered");
        await first.AckAsync(CancellationToken.None);
        seen.Add(first.Headers[StreamHeaders.RequestId]);

        await server.KillAsync();
        await server.StartServerAsync();

        // Publishes while the client reconnects may fail: a publisher retries (the msg id makes that safe).
        for (int i = 5; i < 8; i++)
        {
            var message = Message($"id-{i}", $"{{\"n\":{i}}}");
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    await transport.PublishAsync(resource.InputSubject, message, CancellationToken.None);
                    return true;
                }
                catch (Exception e) when (e is NatsException or TimeoutException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(30), $"publish id-{i} after the restart\n{server.OutputTail}");
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (seen.Count < 8 && DateTime.UtcNow < deadline)
        {
            if (await consumer.NextAsync(TimeSpan.FromSeconds(5)) is { } message)
            {
                seen.Add(message.Headers[StreamHeaders.RequestId]);
                try
                {
                    await message.AckAsync(CancellationToken.None);
                }
                catch (Exception e) when (e is NatsException or TimeoutException)
                {
                    // acknowledged into the restart: it comes again, and the set takes it once
                }
            }
        }

        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"id-{i}").Order(), seen.Order());
        await Eventually.TrueAsync(async () => await transport.BacklogAsync(resource, CancellationToken.None) == new StreamBacklog(0, 0), TimeSpan.FromSeconds(10), "backlog drained");
    }

    [Fact]
    public async Task A_client_without_the_servers_token_is_refused_and_one_with_it_gets_in()
    {
        // ./mds up's nats-server wants the token from .mds/secrets.env: another local user cannot read or feed the streams.
        await using var server = await NatsServer.StartAsync(token: "test-nats-token-0123456789");
        var resource = new StreamResource(StreamResource.Models, "auth-" + Guid.NewGuid().ToString("N")[..8]);
        await using (var stranger = Transport(server.Url))
        {
            var refused = await Assert.ThrowsAnyAsync<NatsException>(() => stranger.EnsureAsync(resource, CancellationToken.None));
            Assert.DoesNotContain("test-nats-token", refused.ToString(), StringComparison.Ordinal);
        }

        await using var backend = Transport(server.Url, token: "test-nats-token-0123456789");
        await backend.EnsureAsync(resource, CancellationToken.None);
        await backend.PublishAsync(resource.InputSubject, Message("in", "{}"), CancellationToken.None);
        Assert.Equal(new StreamBacklog(1, 0), await backend.BacklogAsync(resource, CancellationToken.None));
    }

    [Theory]
    [InlineData("mds.errors", "mds-errors")]
    [InlineData("mds.models.iris.inputs", "mds-models-iris-inputs")]
    [InlineData("mds.models.iris.v2.outputs", "mds-models-iris_v2-outputs")]
    [InlineData("mds.pipelines.p-1.outputs", "mds-pipelines-p-1-outputs")]
    [InlineData("mds.models..outputs", null)]
    [InlineData("orders.created", null)]
    public void Subjects_map_to_their_jetstream_streams(string subject, string? stream) =>
        Assert.Equal(stream, NatsStreamTransport.StreamOf(subject));
}
