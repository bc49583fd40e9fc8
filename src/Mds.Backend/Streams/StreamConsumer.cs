using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Mds.Backend.Gateway;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;

namespace Mds.Backend.Streams;

/// <summary>
/// One stream-enabled model or pipeline on this backend: takes messages from its input through the transport's shared
/// durable consumer, decodes each (bounded), combines those that can share a call (<see cref="StreamBatching"/>), calls
/// the model's replicas or the pipeline as <c>stream:{name}</c>, publishes each output in its input's encoding, and
/// acknowledges a message only after its output (or error) is durably published. A message that cannot be decoded or
/// that the model refuses goes to <see cref="StreamSubjects.Errors"/> with the reason; while nothing can answer, messages
/// are handed back (nak) to come again after <see cref="StreamingOptions.RetryDelay"/>, until
/// <see cref="StreamingOptions.GiveUpAfter"/> since the engine stored them. Nothing a publisher sends ends the loop; an
/// engine failure makes it wait and start again.
/// </summary>
public sealed class StreamConsumer
{
    private static readonly TimeSpan EngineRetry = TimeSpan.FromSeconds(2);
    private readonly IStreamTransport _transport;
    private readonly IStreamInference _inference;
    private readonly StreamingOptions _options;
    private readonly StreamMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly ILogger _log;
    private readonly GrpcRequestLimits _limits = new();
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly Queue<(DateTimeOffset At, long Received, long Published)> _samples = new();
    private long _received, _published, _errors, _redeliveries, _inFlight;
    private volatile string? _engineProblem;
    private volatile string? _waitingFor;

    public StreamConsumer(StreamResource resource, IStreamTransport transport, IStreamInference inference, StreamingOptions options, StreamMetrics metrics, TimeProvider clock, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(resource);
        Resource = resource;
        _transport = transport;
        _inference = inference;
        _options = options;
        _metrics = metrics;
        _clock = clock;
        _log = log;
        Label = $"{resource.Kind}/{resource.Name}";
        Caller = "stream:" + resource.Name;
    }

    public StreamResource Resource { get; }

    /// <summary><c>models/{name}</c> or <c>pipelines/{name}</c>: the metric label and the errors' <c>mds-resource</c>.</summary>
    public string Label { get; }

    /// <summary>Who the inference records name: <c>stream:{name}</c>.</summary>
    public string Caller { get; }

    public long Received => Interlocked.Read(ref _received);
    public long Published => Interlocked.Read(ref _published);
    public long Errors => Interlocked.Read(ref _errors);
    public long Redeliveries => Interlocked.Read(ref _redeliveries);
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Input messages not yet delivered, as the engine last said (set by the processor).</summary>
    public long Lag { get; set; }

    /// <summary><see cref="StreamStates.Running"/> or <see cref="StreamStates.Waiting"/>.</summary>
    public string State => _engineProblem is null && _waitingFor is null ? StreamStates.Running : StreamStates.Waiting;

    /// <summary>Why it waits; null when running.</summary>
    public string? Reason => _engineProblem ?? _waitingFor;

    /// <summary>Messages received and outputs published per second over about the last minute.</summary>
    public (double Received, double Published) Rates()
    {
        var now = _clock.GetUtcNow();
        long received = Received, published = Published;
        lock (_samples)
        {
            _samples.Enqueue((now, received, published));
            while (_samples.Count > 2 && now - _samples.Peek().At > TimeSpan.FromMinutes(1))
            {
                _samples.Dequeue();
            }

            var (at, r, p) = _samples.Peek();
            double seconds = (now - at).TotalSeconds;
            return seconds < 0.5 ? (0, 0) : ((received - r) / seconds, (published - p) / seconds);
        }
    }

    /// <summary>Consumes until <paramref name="ct"/> is cancelled; engine failures are waited out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _transport.EnsureAsync(Resource, ct);
                _engineProblem = null;
                await ConsumeAsync(ct);
                if (!ct.IsCancellationRequested)
                {
                    _engineProblem = "the engine ended the subscription; subscribing again";
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _engineProblem = $"stream engine ({_transport.Engine}): {StreamCodec.Shorten(e.Message)}";
                _log.LogWarning("Stream {Stream}: {Problem}; trying again in {Delay} s", Label, _engineProblem, EngineRetry.TotalSeconds);
            }

            try
            {
                await Task.Delay(EngineRetry, _clock, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await DrainAsync();
    }

    private async Task ConsumeAsync(CancellationToken ct)
    {
        // The transport bounds what is delivered and not acknowledged (MaxInFlight), so this channel is bounded too.
        var channel = Channel.CreateUnbounded<StreamMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var slots = new SemaphoreSlim(_options.MaxConcurrentCalls, _options.MaxConcurrentCalls);
        var reading = ReadAsync(channel.Writer, stop.Token);
        var deferred = new List<DecodedMessage>();
        try
        {
            await DispatchAsync(channel.Reader, deferred, slots, stop.Token);
        }
        finally
        {
            await stop.CancelAsync();
            await DrainAsync(); // the calls under way end (acked or nak'd) before their slots go
            try
            {
                await reading;
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                // stopping
            }

            // Whatever was taken and not started goes back at once, for this or another backend.
            foreach (var d in deferred)
            {
                await NakAsync(d.Message, TimeSpan.Zero);
            }

            while (channel.Reader.TryRead(out var left))
            {
                await NakAsync(left, TimeSpan.Zero);
            }
        }

        await reading; // an engine failure while reading surfaces here
    }

    private async Task ReadAsync(ChannelWriter<StreamMessage> writer, CancellationToken ct)
    {
        Exception? failure = null;
        try
        {
            await foreach (var message in _transport.ConsumeAsync(Resource, _options.MaxInFlight, ct))
            {
                Interlocked.Increment(ref _received);
                Interlocked.Increment(ref _inFlight);
                _metrics.Received(Label);
                if (message.DeliveryCount > 1)
                {
                    Interlocked.Increment(ref _redeliveries);
                    _metrics.Redelivered(Label);
                }

                writer.TryWrite(message);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            writer.TryComplete(failure);
        }
    }

    private async Task DispatchAsync(ChannelReader<StreamMessage> reader, List<DecodedMessage> deferred, SemaphoreSlim slots, CancellationToken ct)
    {
        while (true)
        {
            await slots.WaitAsync(ct);
            DecodedMessage? first;
            if (deferred.Count > 0)
            {
                first = deferred[0];
                deferred.RemoveAt(0);
            }
            else
            {
                first = await NextAsync(reader, ct);
            }

            if (first is null)
            {
                slots.Release();
                return;
            }

            var batch = new List<DecodedMessage>(1) { first };
            StreamTarget target;
            try
            {
                target = await _inference.TargetAsync(Resource, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                target = new StreamTarget(false, StreamCodec.Shorten(e.Message), null);
            }

            if (!target.Ready)
            {
                try
                {
                    await HoldWhileUnreadyAsync(batch, deferred, reader, target.Reason ?? "nothing can answer", ct);
                }
                finally
                {
                    slots.Release();
                }

                continue;
            }

            if (target.Batching is { MaxBatchSize: > 1 } batching)
            {
                Gather(batch, deferred, reader, batching.MaxBatchSize);
            }

            Track(RunAsync(batch, target, slots, ct));
        }
    }

    /// <summary>
    /// Nothing can answer: keeps the messages it has (no more than <see cref="StreamingOptions.MaxInFlight"/>, so the
    /// engine delivers no others meanwhile) and looks again every <see cref="StreamingOptions.RetryDelay"/>. Ready again:
    /// they go first. A message that has waited <see cref="StreamingOptions.GiveUpAfter"/> goes to errors. After
    /// <see cref="StreamingOptions.HoldWhileWaiting"/> (kept under the engine's ack wait, so nothing is redelivered while held) they go back to
    /// the engine, for this or another backend. Handing each message back at once instead would walk the whole backlog
    /// round and round (about 1,000 deliveries a second here) for as long as the model is unready.
    /// </summary>
    private async Task HoldWhileUnreadyAsync(List<DecodedMessage> held, List<DecodedMessage> deferred, ChannelReader<StreamMessage> reader, string reason, CancellationToken ct)
    {
        _waitingFor = reason;
        held.AddRange(deferred);
        deferred.Clear();
        var handBackAt = _clock.GetUtcNow() + HoldLimit;
        while (true)
        {
            while (reader.TryRead(out var message))
            {
                if (Decode(message) is { } decoded)
                {
                    held.Add(decoded);
                }
            }

            var now = _clock.GetUtcNow();
            foreach (var expired in held.Where(d => now - d.Message.Timestamp >= _options.GiveUpAfter).ToList())
            {
                held.Remove(expired);
                await FailAsync(expired.Message, expired.RequestId, $"gave up after waiting {_options.GiveUpAfter} for an answer: {reason}");
            }

            if (held.Count == 0)
            {
                return;
            }

            try
            {
                await Task.Delay(_options.RetryDelay, _clock, ct);
            }
            catch (OperationCanceledException)
            {
                deferred.InsertRange(0, held); // handed back by the consumer's clean-up
                throw;
            }

            StreamTarget target;
            try
            {
                target = await _inference.TargetAsync(Resource, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                target = new StreamTarget(false, StreamCodec.Shorten(e.Message), null);
            }

            if (target.Ready)
            {
                deferred.InsertRange(0, held);
                return;
            }

            reason = target.Reason ?? reason;
            _waitingFor = reason;
            if (_clock.GetUtcNow() >= handBackAt)
            {
                foreach (var d in held)
                {
                    await NakAsync(d.Message, TimeSpan.Zero);
                }

                return;
            }
        }
    }

    /// <summary>How long messages are held for a model that cannot answer before they go back to the engine: at most half of JetStream's ack wait.</summary>
    private TimeSpan HoldLimit => _transport.Engine == StreamEngines.Nats && _options.Nats.AckWait / 2 < _options.HoldWhileWaiting
        ? _options.Nats.AckWait / 2 : _options.HoldWhileWaiting;

    /// <summary>Adds to <paramref name="batch"/> the waiting messages that can share its call (earlier leftovers first), without waiting for more.</summary>
    private void Gather(List<DecodedMessage> batch, List<DecodedMessage> deferred, ChannelReader<StreamMessage> reader, long maxRows)
    {
        var first = batch[0];
        long rows = first.Rows;
        if (rows <= 0 || rows >= maxRows)
        {
            return;
        }

        for (int i = 0; i < deferred.Count && batch.Count < _options.MaxBatch && rows < maxRows;)
        {
            var candidate = deferred[i];
            if (rows + candidate.Rows <= maxRows && StreamBatching.Matches(first, candidate))
            {
                batch.Add(candidate);
                rows += candidate.Rows;
                deferred.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        while (batch.Count < _options.MaxBatch && rows < maxRows && reader.TryRead(out var message))
        {
            if (Decode(message) is not { } next)
            {
                continue;
            }

            if (rows + next.Rows <= maxRows && StreamBatching.Matches(first, next))
            {
                batch.Add(next);
                rows += next.Rows;
            }
            else
            {
                deferred.Add(next);
            }
        }
    }

    /// <summary>The next message that decodes (those that do not go to errors); null when the input has ended.</summary>
    private async ValueTask<DecodedMessage?> NextAsync(ChannelReader<StreamMessage> reader, CancellationToken ct)
    {
        while (await reader.WaitToReadAsync(ct))
        {
            while (reader.TryRead(out var message))
            {
                if (Decode(message) is { } decoded)
                {
                    return decoded;
                }
            }
        }

        return null;
    }

    /// <summary>Decodes <paramref name="message"/>, or sends it to errors (in the background) and returns null.</summary>
    private DecodedMessage? Decode(StreamMessage message)
    {
        string requestId = RequestIds.New();
        try
        {
            if (message.Headers.TryGetValue(StreamHeaders.RequestId, out var given) && !string.IsNullOrEmpty(given))
            {
                requestId = given;
                if (given.Length > StreamCodec.MaxRequestIdLength)
                {
                    throw new InferenceProtocolException($"{StreamHeaders.RequestId} is {given.Length} characters, more than the {StreamCodec.MaxRequestIdLength} allowed");
                }
            }

            return StreamCodec.Decode(message, requestId, _options.MaxMessageBytes, _limits);
        }
        catch (Exception e)
        {
            // Anything a publisher sends: the reason goes with the message to errors.
            Track(FailAsync(message, requestId, "invalid message: " + e.Message));
            return null;
        }
    }

    private async Task RunAsync(List<DecodedMessage> batch, StreamTarget target, SemaphoreSlim slots, CancellationToken ct)
    {
        try
        {
            await Task.Yield();
            if (batch.Count == 1)
            {
                await RunOneAsync(batch[0], ct);
            }
            else
            {
                await RunCombinedAsync(batch, ct);
            }
        }
        catch (Exception e)
        {
            // Never expected (each step handles its own failures): the messages come again after the ack wait.
            _log.LogError(e, "Stream {Stream}: unexpected failure", Label);
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task RunCombinedAsync(List<DecodedMessage> batch, CancellationToken ct)
    {
        InferenceResponse[] answers;
        try
        {
            var combined = StreamBatching.Concatenate(batch);
            var response = await _inference.InferAsync(Resource, combined, batch[0].RequestId, Caller, ct);
            answers = StreamBatching.Split(response, batch);
        }
        catch (Exception e) when (e is ModelNotFoundException or ReplicaUnavailableException || (e is OperationCanceledException && ct.IsCancellationRequested))
        {
            var handling = Handled(e, ct);
            await Task.WhenAll(batch.Select(d => handling(d)));
            return;
        }
        catch (Exception)
        {
            // One message's values may be what the model refuses (or the answer cannot be split): each on its own,
            // so only a bad one fails.
            await Task.WhenAll(batch.Select(d => RunOneAsync(d, ct)));
            return;
        }

        _waitingFor = null;
        await Task.WhenAll(batch.Select((d, i) => PublishAsync(d, answers[i])));
    }

    private async Task RunOneAsync(DecodedMessage d, CancellationToken ct)
    {
        InferenceResponse response;
        try
        {
            response = await _inference.InferAsync(Resource, d.Request, d.RequestId, Caller, ct);
        }
        catch (InferenceRejectedException e)
        {
            await FailAsync(d.Message, d.RequestId, $"refused ({e.Status}): {e.Message}");
            return;
        }
        catch (Exception e)
        {
            await Handled(e, ct)(d);
            return;
        }

        _waitingFor = null;
        await PublishAsync(d, response);
    }

    /// <summary>What becomes of a message whose call failed with <paramref name="e"/>.</summary>
    private Func<DecodedMessage, Task> Handled(Exception e, CancellationToken ct) => e switch
    {
        OperationCanceledException when ct.IsCancellationRequested => d => NakAsync(d.Message, TimeSpan.Zero),
        ModelNotFoundException or ReplicaUnavailableException => d => WaitOrGiveUpAsync([d], e.Message),
        _ => d => FailAsync(d.Message, d.RequestId, e is OperationCanceledException ? "the call timed out" : "failed: " + e.Message),
    };

    /// <summary>Nothing can answer: each message comes again after the retry delay, or goes to errors once it has waited <see cref="StreamingOptions.GiveUpAfter"/>.</summary>
    private async Task WaitOrGiveUpAsync(IReadOnlyList<DecodedMessage> batch, string reason)
    {
        _waitingFor = reason;
        var now = _clock.GetUtcNow();
        foreach (var d in batch)
        {
            if (now - d.Message.Timestamp < _options.GiveUpAfter)
            {
                await NakAsync(d.Message, _options.RetryDelay);
            }
            else
            {
                await FailAsync(d.Message, d.RequestId, $"gave up after waiting {_options.GiveUpAfter} for an answer: {reason}");
            }
        }
    }

    private async Task PublishAsync(DecodedMessage d, InferenceResponse response)
    {
        byte[] body;
        try
        {
            body = StreamCodec.EncodeResponse(d, response);
        }
        catch (Exception e)
        {
            await FailAsync(d.Message, d.RequestId, "the answer could not be encoded: " + e.Message);
            return;
        }

        var headers = StreamCodec.CopiedHeaders(d.Message.Headers, d.RequestId, StreamCodec.ContentTypeOf(d.Encoding));
        try
        {
            await _transport.PublishAsync(Resource.OutputSubject, new OutgoingMessage(body, headers, d.RequestId), CancellationToken.None);
        }
        catch (Exception e)
        {
            _log.LogWarning("Stream {Stream}: publishing an output failed ({Error}); the input comes again in {Delay}", Label, StreamCodec.Shorten(e.Message), _options.RetryDelay);
            await NakAsync(d.Message, _options.RetryDelay);
            return;
        }

        Interlocked.Increment(ref _published);
        _metrics.Published(Label);
        await AckAsync(d.Message);
    }

    /// <summary>Publishes <paramref name="message"/> as it came to the errors subject with the reason, then acknowledges it.</summary>
    private async Task FailAsync(StreamMessage message, string requestId, string reason)
    {
        try
        {
            string contentType = message.Headers.TryGetValue(StreamHeaders.ContentType, out var given) ? given : "";
            var headers = StreamCodec.CopiedHeaders(message.Headers, requestId, contentType);
            if (contentType.Length == 0)
            {
                headers.Remove(StreamHeaders.ContentType);
            }

            headers[StreamHeaders.Resource] = Label;
            headers[StreamHeaders.Error] = HeaderValue(reason);
            await _transport.PublishAsync(StreamSubjects.Errors, new OutgoingMessage(message.Data, headers, requestId + ".error"), CancellationToken.None);
        }
        catch (Exception e)
        {
            _log.LogWarning("Stream {Stream}: publishing an error failed ({Error}); the input comes again in {Delay}", Label, StreamCodec.Shorten(e.Message), _options.RetryDelay);
            await NakAsync(message, _options.RetryDelay);
            return;
        }

        Interlocked.Increment(ref _errors);
        _metrics.Failed(Label);
        await AckAsync(message);
    }

    private async Task AckAsync(StreamMessage message)
    {
        try
        {
            await message.AckAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            _log.LogWarning("Stream {Stream}: acknowledging failed ({Error}); the message will be redelivered", Label, StreamCodec.Shorten(e.Message));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task NakAsync(StreamMessage message, TimeSpan delay)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await message.NakAsync(delay, timeout.Token);
        }
        catch (Exception e)
        {
            _log.LogDebug("Stream {Stream}: nak failed ({Error}); the message comes again after the ack wait", Label, StreamCodec.Shorten(e.Message));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        _ = task.ContinueWith(t => _tasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits for the calls and publishes under way (their messages are acked or nak'd).</summary>
    private async Task DrainAsync()
    {
        while (!_tasks.IsEmpty)
        {
            try
            {
                await Task.WhenAll(_tasks.Keys.ToArray());
            }
            catch (Exception)
            {
                // each logs its own
            }
        }
    }

    /// <summary>A header value on one line (NATS headers may not hold line breaks), at most 1,000 characters.</summary>
    private static string HeaderValue(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 1000));
        foreach (char c in text)
        {
            if (sb.Length >= 1000)
            {
                break;
            }

            sb.Append(char.IsControl(c) ? ' ' : c);
        }

        return sb.ToString();
    }
}
