using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Mds.Backend.Streams;

/// <summary>
/// Streams on NATS JetStream. Per resource two JetStream streams — <c>{EngineName}-inputs</c> (work-queue retention:
/// an input is deleted once acknowledged, so the stream holds exactly the backlog; discard new: a full backlog refuses
/// publishers instead of dropping unprocessed inputs) and <c>{EngineName}-outputs</c> (limits, discard old) — and one
/// <c>mds-errors</c>; separate streams because <c>Nats-Msg-Id</c> de-duplication is per stream and an output carries
/// its input's request id. One durable pull consumer per resource (<c>{EngineName}</c>), shared by every backend.
/// The connection is made on first use: a backend with no stream enabled never dials NATS; an unreachable server is an
/// exception from the call, and a dropped connection is re-established by the client.
/// </summary>
public sealed partial class NatsStreamTransport : IStreamTransport
{
    /// <summary>The JetStream stream of <see cref="StreamSubjects.Errors"/>.</summary>
    public const string ErrorsStream = "mds-errors";

    // JetStream API error codes (ApiError.err_code) for objects that do not exist.
    private const int StreamNotFound = 10059, ConsumerNotFound = 10014;

    private static readonly NatsRawSerializer<byte[]> Raw = NatsRawSerializer<byte[]>.Default;
    private static readonly NatsRawSerializer<ReadOnlyMemory<byte>> RawOut = NatsRawSerializer<ReadOnlyMemory<byte>>.Default;
    private static readonly TimeSpan FetchExpires = TimeSpan.FromSeconds(5);

    private readonly StreamingOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private NatsConnection? _connection;
    private NatsJSContext? _js;
    private bool _disposed;

    public NatsStreamTransport(IOptions<StreamingOptions> options, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger<NatsStreamTransport>();
    }

    public string Engine => StreamEngines.Nats;

    /// <summary>The JetStream stream holding <paramref name="resource"/>'s inputs.</summary>
    public static string InputStream(StreamResource resource) => resource.EngineName + "-inputs";

    /// <summary>The JetStream stream holding <paramref name="resource"/>'s outputs.</summary>
    public static string OutputStream(StreamResource resource) => resource.EngineName + "-outputs";

    /// <summary>The JetStream stream that holds <paramref name="subject"/>, or null for a subject MDS does not own.</summary>
    public static string? StreamOf(string subject)
    {
        if (subject == StreamSubjects.Errors)
            return ErrorsStream;
        foreach (var kind in (ReadOnlySpan<string>)[StreamResource.Models, StreamResource.Pipelines])
        {
            var prefix = $"mds.{kind}.";
            if (!subject.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            foreach (var (suffix, input) in (ReadOnlySpan<(string, bool)>)[(".inputs", true), (".outputs", false)])
            {
                if (subject.Length > prefix.Length + suffix.Length && subject.EndsWith(suffix, StringComparison.Ordinal))
                {
                    var resource = new StreamResource(kind, subject[prefix.Length..^suffix.Length]);
                    return input ? InputStream(resource) : OutputStream(resource);
                }
            }
        }
        return null;
    }

    public async Task EnsureAsync(StreamResource resource, CancellationToken ct)
    {
        var js = await JetStreamAsync(ct);
        var nats = _options.Nats;
        await js.CreateOrUpdateStreamAsync(new StreamConfig(InputStream(resource), [resource.InputSubject])
        {
            Retention = StreamConfigRetention.Workqueue,
            Discard = StreamConfigDiscard.New,
            Storage = StreamConfigStorage.File,
            MaxBytes = nats.MaxBytes,
            MaxAge = nats.MaxAge,
            MaxMsgSize = _options.MaxMessageBytes,
            DuplicateWindow = nats.DuplicateWindow,
            AllowDirect = true,
        }, ct);
        await js.CreateOrUpdateStreamAsync(OutputConfig(OutputStream(resource), resource.OutputSubject), ct);
        await js.CreateOrUpdateStreamAsync(OutputConfig(ErrorsStream, StreamSubjects.Errors), ct);
        await js.CreateOrUpdateConsumerAsync(InputStream(resource), new ConsumerConfig(resource.EngineName)
        {
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = nats.AckWait,
            MaxAckPending = nats.MaxAckPending,
            MaxDeliver = -1, // giving up is the processor's (GiveUpAfter), by the message's age
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            FilterSubject = resource.InputSubject,
        }, ct);
    }

    private StreamConfig OutputConfig(string name, string subject) => new(name, [subject])
    {
        Retention = StreamConfigRetention.Limits,
        Discard = StreamConfigDiscard.Old,
        Storage = StreamConfigStorage.File,
        MaxBytes = _options.Nats.MaxBytes,
        MaxAge = _options.Nats.MaxAge,
        DuplicateWindow = _options.Nats.DuplicateWindow,
        AllowDirect = true,
    };

    public async Task RemoveAsync(StreamResource resource, CancellationToken ct)
    {
        var js = await JetStreamAsync(ct);
        foreach (var stream in (string[])[InputStream(resource), OutputStream(resource)])
        {
            try
            {
                await js.DeleteStreamAsync(stream, ct); // its consumer goes with it
            }
            catch (NatsJSApiException e) when (e.Error.ErrCode == StreamNotFound)
            {
            }
        }
    }

    public async IAsyncEnumerable<StreamMessage> ConsumeAsync(StreamResource resource, int maxInFlight, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        var js = await JetStreamAsync(ct);
        // Missing stream or consumer (EnsureAsync not called, or the resource removed): an exception to the caller.
        var consumer = await js.GetConsumerAsync(InputStream(resource), resource.EngineName, ct);
        // One slot per message delivered to this backend and not yet acknowledged or nak'd: a fetch asks the server
        // for no more messages than there are free slots, so a slow processor makes the backlog grow on the server.
        var slots = new SemaphoreSlim(maxInFlight, maxInFlight);
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                yield break;
            }
            var wanted = 1;
            while (wanted < maxInFlight && slots.Wait(0))
                wanted++;
            var received = 0;
            Exception? failure = null;
            var fetch = consumer.FetchAsync(new NatsJSFetchOpts { MaxMsgs = wanted, Expires = FetchExpires }, Raw, ct).GetAsyncEnumerator(ct);
            try
            {
                while (true)
                {
                    INatsJSMsg<byte[]> msg;
                    try
                    {
                        if (!await fetch.MoveNextAsync())
                            break;
                        msg = fetch.Current;
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        yield break;
                    }
                    catch (Exception e)
                    {
                        failure = e;
                        break;
                    }
                    received++;
                    failures = 0;
                    yield return new NatsStreamMessage(msg, slots);
                }
            }
            finally
            {
                if (wanted > received)
                    slots.Release(wanted - received);
                await DisposeQuietlyAsync(fetch);
            }
            if (failure is null)
                continue;

            // A dropped connection (nats-server restarting) or a failed pull: wait, look the consumer up again, go on.
            failures++;
            LogFetchFailed(_log, failure, resource.EngineName, failures);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), ct);
                consumer = await js.GetConsumerAsync(InputStream(resource), resource.EngineName, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                yield break;
            }
            catch (NatsJSApiException e) when (e.Error.ErrCode is StreamNotFound or ConsumerNotFound)
            {
                throw new InvalidOperationException($"the stream {resource.EngineName} was removed while it was consumed", e);
            }
            catch (Exception e) when (e is NatsException or TimeoutException)
            {
                // Still unreachable: the next round waits longer.
            }
        }
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncDisposable fetch)
    {
        try
        {
            await fetch.DisposeAsync();
        }
        catch (Exception e) when (e is NatsException or OperationCanceledException or TimeoutException)
        {
        }
    }

    public async Task PublishAsync(string subject, OutgoingMessage message, CancellationToken ct)
    {
        var js = await JetStreamAsync(ct);
        var headers = new NatsHeaders();
        long headerBytes = 16 + message.DeduplicationId.Length + 14;
        foreach (var (name, value) in message.Headers)
        {
            headers[name] = value;
            headerBytes += name.Length + value.Length + 4;
        }
        long limit = _connection?.ServerInfo?.MaxPayload ?? 1024 * 1024;
        var bytes = message.Data.Length + headerBytes;
        if (bytes > limit)
        {
            throw new StreamMessageTooLargeException($"a message of {bytes} bytes is more than the NATS server takes ({limit} bytes, its max_payload)")
            {
                Bytes = bytes,
                Limit = limit,
            };
        }
        var opts = new NatsJSPubOpts { MsgId = message.DeduplicationId.Length > 0 ? message.DeduplicationId : null };
        PubAckResponse ack;
        try
        {
            ack = await js.PublishAsync(subject, message.Data, RawOut, opts, headers, ct);
        }
        catch (NatsJSDuplicateMessageException)
        {
            return; // stored already (a republish after a crash): that is what a caller wants
        }
        if (ack.Duplicate)
            return;
        ack.EnsureSuccess();
    }

    public async Task<IReadOnlyList<StoredMessage>> LatestAsync(string subject, int count, CancellationToken ct)
    {
        if (count <= 0 || StreamOf(subject) is not { } name)
            return [];
        count = Math.Min(count, 1000);
        var js = await JetStreamAsync(ct);
        INatsJSStream stream;
        try
        {
            stream = await js.GetStreamAsync(name, cancellationToken: ct);
        }
        catch (NatsJSApiException e) when (e.Error.ErrCode == StreamNotFound)
        {
            return [];
        }
        var state = stream.Info.State;
        var found = new List<StoredMessage>(Math.Min(count, (int)Math.Min(state.Messages, int.MaxValue)));
        // Newest first, one direct get per sequence; gaps (deleted or acknowledged work-queue messages) are skipped,
        // with a bound on the probes so a sparse stream does not cost a request per gap.
        var probes = count * 4 + 64;
        for (var seq = state.LastSeq; seq >= Math.Max(state.FirstSeq, 1) && found.Count < count && probes-- > 0; seq--)
        {
            var msg = await stream.GetDirectAsync(new StreamMsgGetRequest { Seq = seq }, Raw, ct);
            if (msg.Headers is { Code: >= 300 })
                continue; // 404: no message at that sequence
            found.Add(ToStored(msg));
        }
        found.Reverse();
        return found;
    }

    private static StoredMessage ToStored(NatsMsg<byte[]> msg)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var timestamp = DateTimeOffset.MinValue;
        if (msg.Headers is { } h)
        {
            foreach (var (name, values) in h)
            {
                if (name.Equals("Nats-Time-Stamp", StringComparison.OrdinalIgnoreCase))
                    timestamp = ParseTimestamp(values.ToString());
                // Nats-Stream, Nats-Subject, Nats-Sequence, Nats-Msg-Id …: the engine's, not the message's.
                if (!name.StartsWith("Nats-", StringComparison.OrdinalIgnoreCase) && values.Count > 0)
                    headers[LowerCase(name)] = values[0] ?? "";
            }
        }
        return new StoredMessage(msg.Data ?? [], headers, timestamp);
    }

    /// <summary>RFC 3339 with up to nine fractional digits (Go's); .NET parses seven.</summary>
    internal static DateTimeOffset ParseTimestamp(string value)
    {
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < value.Length && char.IsAsciiDigit(value[end]))
                end++;
            if (end - dot - 1 > 7)
                value = string.Concat(value.AsSpan(0, dot + 8), value.AsSpan(end));
        }
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.MinValue;
    }

    public async Task<StreamBacklog> BacklogAsync(StreamResource resource, CancellationToken ct)
    {
        var js = await JetStreamAsync(ct);
        try
        {
            var consumer = await js.GetConsumerAsync(InputStream(resource), resource.EngineName, ct);
            return new StreamBacklog((long)consumer.Info.NumPending, consumer.Info.NumAckPending);
        }
        catch (NatsJSApiException e) when (e.Error.ErrCode is StreamNotFound or ConsumerNotFound)
        {
            return new StreamBacklog(0, 0);
        }
    }

    /// <summary>The JetStream context, connecting on first use (and again after a failed first connect).</summary>
    private async ValueTask<NatsJSContext> JetStreamAsync(CancellationToken ct)
    {
        if (_js is { } ready)
            return ready;
        await _connectLock.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_js is { } raced)
                return raced;
            var nats = _options.Nats;
            var connection = new NatsConnection(new NatsOpts
            {
                Url = nats.Url,
                Name = "mds-backend",
                AuthOpts = string.IsNullOrEmpty(nats.Token) ? NatsAuthOpts.Default : NatsAuthOpts.Default with { Token = nats.Token },
                LoggerFactory = _loggerFactory,
                ConnectTimeout = nats.RequestTimeout,
                RequestTimeout = nats.RequestTimeout,
                CommandTimeout = nats.RequestTimeout,
                MaxReconnectRetry = -1, // once connected, reconnect for as long as it takes
            });
            try
            {
                await connection.ConnectAsync();
            }
            catch (Exception e)
            {
                await connection.DisposeAsync();
                // The URL, never the token (NatsOpts.ToString would not print it either, but say so plainly).
                throw new NatsException($"cannot connect to NATS at {RedactedUrl(nats.Url)}: {e.Message}", e);
            }
            LogConnected(_log, RedactedUrl(nats.Url), connection.ServerInfo?.Version ?? "?", connection.ServerInfo?.MaxPayload ?? 0);
            _connection = connection;
            return _js = new NatsJSContext(connection, new NatsJSOpts(connection.Opts) { });
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>The URL with any <c>user:password@</c> taken out.</summary>
    internal static string RedactedUrl(string url) =>
        string.Join(',', url.Split(',').Select(u => u.IndexOf('@', StringComparison.Ordinal) is var at and > 0 && u.IndexOf("://", StringComparison.Ordinal) is var scheme and >= 0 && scheme < at
            ? string.Concat(u.AsSpan(0, scheme + 3), "***@", u.AsSpan(at + 1))
            : u));

    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync();
        try
        {
            _disposed = true;
            if (_connection is { } connection)
                await connection.DisposeAsync();
            _connection = null;
            _js = null;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    [SuppressMessage("Globalization", "CA1308", Justification = "Header names are lower case on both engines (StreamHeaders).")]
    internal static string LowerCase(string name) => name.ToLowerInvariant();

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to NATS at {Url} (server {Version}, max_payload {MaxPayload} bytes)")]
    private static partial void LogConnected(ILogger logger, string url, string version, long maxPayload);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fetching from the stream {Stream} failed ({Failures} in a row); retrying")]
    private static partial void LogFetchFailed(ILogger logger, Exception exception, string stream, int failures);

    /// <summary>A JetStream message delivered from a resource's durable consumer; holds one of the transport's in-flight slots until acknowledged or nak'd.</summary>
    private sealed class NatsStreamMessage : StreamMessage
    {
        private readonly INatsJSMsg<byte[]> _msg;
        private readonly SemaphoreSlim _slots;
        private readonly Dictionary<string, string> _headers;
        private int _settled;

        public NatsStreamMessage(INatsJSMsg<byte[]> msg, SemaphoreSlim slots)
        {
            _msg = msg;
            _slots = slots;
            _headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (msg.Headers is { } h)
            {
                foreach (var (name, values) in h)
                {
                    if (values.Count > 0)
                        _headers[LowerCase(name)] = values[0] ?? "";
                }
            }
        }

        public override ReadOnlyMemory<byte> Data => _msg.Data ?? [];

        public override IReadOnlyDictionary<string, string> Headers => _headers;

        public override int DeliveryCount => (int)Math.Min(int.MaxValue, _msg.Metadata?.NumDelivered ?? 1);

        public override DateTimeOffset Timestamp => _msg.Metadata?.Timestamp ?? DateTimeOffset.UtcNow;

        public override async ValueTask AckAsync(CancellationToken ct)
        {
            try
            {
                // Double ack: returns once the server has recorded it, so the message is never redelivered after this.
                await _msg.AckAsync(new AckOpts { DoubleAck = true }, ct);
            }
            finally
            {
                Settle();
            }
        }

        public override async ValueTask NakAsync(TimeSpan delay, CancellationToken ct)
        {
            try
            {
                await _msg.NakAsync(delay > TimeSpan.Zero ? new AckOpts { NakDelay = delay } : null, ct);
            }
            finally
            {
                Settle();
            }
        }

        private void Settle()
        {
            if (Interlocked.Exchange(ref _settled, 1) == 0)
                _slots.Release();
        }
    }
}
