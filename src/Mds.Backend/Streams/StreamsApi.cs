using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static Mds.Backend.Streams.StreamSettings;

namespace Mds.Backend.Streams;

/// <summary>What <c>POST /api/streams/{kind}/{name}/messages</c> published.</summary>
/// <param name="RequestId">The message's <c>mds-request-id</c>: its output and any error carry it.</param>
/// <param name="Subject">The input subject it went to.</param>
public sealed record StreamPublished(string RequestId, string Subject);

/// <summary>
/// Streams as a resource: <c>PUT/GET /api/models/{name}/streaming</c> and <c>/api/pipelines/{name}/streaming</c>
/// enable, disable and describe a resource's stream (state, subjects, counters summed over backends);
/// <c>GET /api/streams</c> lists them; <c>POST/GET /api/streams/{kind}/{name}/messages</c> publish a test message and
/// read the latest outputs or errors. Errors are <c>{"error": …}</c>.
/// </summary>
public static class StreamsApi
{
    private const int MaxSettingBytes = 4096;
    private const int MaxShownBody = 64 * 1024;
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan EngineTimeout = StreamSettings.EngineTimeout;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IHostApplicationBuilder AddStreams(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<StreamingOptions>().BindConfiguration(StreamingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // The engine: Mds:Streaming:Engine = nats (default) | kafka | none (no transport: enabling is refused).
        switch (builder.Configuration[$"{StreamingOptions.Section}:{nameof(StreamingOptions.Engine)}"] ?? StreamEngines.Nats)
        {
            case StreamEngines.Nats:
                builder.Services.AddNatsStreamTransport();
                break;
            case StreamEngines.Kafka:
                builder.Services.AddKafkaStreamTransport();
                break;
        }

        builder.Services.AddSingleton<StreamMetrics>();
        builder.Services.AddSingleton<IStreamInference, ReplicaStreamInference>();
        builder.Services.AddSingleton<StreamProcessor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StreamProcessor>());
        return builder;
    }

    public static IEndpointRouteBuilder MapStreamsApi(this IEndpointRouteBuilder app)
    {
        foreach (var kind in new[] { StreamResource.Models, StreamResource.Pipelines })
        {
            string noun = kind == StreamResource.Models ? "Model" : "Pipeline";
            var group = app.MapGroup($"/api/{kind}/{{name}}/streaming").WithTags("Streams");
            group.MapPut("/", (string name, HttpContext http, CancellationToken ct) => PutAsync(kind, name, http, ct))
                .RequireAuthorization(Policies.Researcher).DisableAntiforgery()
                .WithName($"Set{noun}Streaming").WithSummary($"Enable or disable the {noun.ToLowerInvariant()}'s stream ({{\"enabled\": true, \"cleanOnDisable\": false}})");
            group.MapGet("/", (string name, HttpContext http, CancellationToken ct) => GetAsync(kind, name, http, ct))
                .RequireAuthorization(Policies.AnyUser)
                .WithName($"Get{noun}Streaming").WithSummary($"The {noun.ToLowerInvariant()}'s stream: state, subjects and counters summed over backends");
        }

        var streams = app.MapGroup("/api/streams").WithTags("Streams").RequireAuthorization(Policies.Researcher);
        streams.MapGet("/", ListAsync).WithName("ListStreams").WithSummary("Every model and pipeline with stream settings, with state and counters");
        streams.MapPost("/{kind}/{name}/messages", PublishAsync).DisableAntiforgery()
            .WithName("PublishStreamTestMessage").WithSummary("Publish a test message (a V2 JSON request) to the input subject");
        streams.MapGet("/{kind}/{name}/messages", LatestAsync)
            .WithName("ListStreamMessages").WithSummary("The latest outputs (subject=outputs) or errors (subject=errors) of a stream, oldest first");
        return app;
    }

    private static async Task<IResult> PutAsync(string kind, string name, HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var db = services.GetRequiredService<MdsDbContext>();
        var options = services.GetRequiredService<IOptions<StreamingOptions>>().Value;
        var processor = services.GetRequiredService<StreamProcessor>();
        if (!await ExistsAsync(db, kind, name, ct))
        {
            return NotFound(kind, name);
        }

        var (request, problem) = await ReadSettingAsync(http.Request, ct);
        if (request is null)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, problem!);
        }

        var resource = new StreamResource(kind, name);
        if (request.Enabled)
        {
            if (SwitchedOff(options) is { } off)
            {
                return ApiResults.V2Error(StatusCodes.Status409Conflict, off);
            }

            if (processor.Transport is not { } transport)
            {
                return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"no transport for the stream engine '{options.Engine}' is available in this build");
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(EngineTimeout);
                await transport.EnsureAsync(resource, timeout.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"the stream engine ({options.Engine}) could not create the stream: {StreamCodec.Shorten(e.Message)}");
            }
        }

        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        await UpsertAsync(db, kind, name, request.Enabled, CallerIdentity.Name(http.User), now, ct);
        processor.Changed();
        await processor.SyncNowAsync(ct); // this backend starts or stops its consumer before answering
        if (!request.Enabled && request.CleanOnDisable && processor.Transport is { } engine)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(EngineTimeout);
                await engine.RemoveAsync(resource, timeout.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"the stream is disabled, but the engine ({options.Engine}) could not remove it: {StreamCodec.Shorten(e.Message)}; try again");
            }
        }

        return TypedResults.Ok(await DescribeAsync(db, resource, processor, options, now, ct));
    }

    private static async Task<IResult> GetAsync(string kind, string name, HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var db = services.GetRequiredService<MdsDbContext>();
        if (!await ExistsAsync(db, kind, name, ct))
        {
            return NotFound(kind, name);
        }

        return TypedResults.Ok(await DescribeAsync(db, new StreamResource(kind, name), services.GetRequiredService<StreamProcessor>(),
            services.GetRequiredService<IOptions<StreamingOptions>>().Value, services.GetRequiredService<TimeProvider>().GetUtcNow(), ct));
    }

    private static async Task<IResult> ListAsync(MdsDbContext db, StreamProcessor processor, IOptions<StreamingOptions> options, TimeProvider clock, CancellationToken ct)
    {
        var settings = await db.Set<StreamSetting>().AsNoTracking().OrderBy(s => s.Kind).ThenBy(s => s.Name).ToListAsync(ct);
        var now = clock.GetUtcNow();
        var list = new List<StreamDto>(settings.Count);
        foreach (var s in settings)
        {
            list.Add(await DescribeAsync(db, new StreamResource(s.Kind, s.Name), processor, options.Value, now, ct, s));
        }

        return TypedResults.Ok(list);
    }

    private static async Task<IResult> PublishAsync(string kind, string name, HttpContext http, MdsDbContext db, StreamProcessor processor, IOptions<StreamingOptions> options, CancellationToken ct)
    {
        if (kind is not (StreamResource.Models or StreamResource.Pipelines) || !await ExistsAsync(db, kind, name, ct))
        {
            return NotFound(kind, name);
        }

        if (SwitchedOff(options.Value) is { } off)
        {
            return ApiResults.V2Error(StatusCodes.Status409Conflict, off);
        }

        StreamTestMessageRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<StreamTestMessageRequest>(LimitedBody(http.Request, options.Value.MaxMessageBytes + 4096L), Json, ct);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, "the body is not {\"body\": \"<V2 JSON request>\", \"requestId\": …}: " + e.Message);
        }

        if (request?.Body is not { Length: > 0 } text)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, "'body' (a V2 inference request as JSON text) is required");
        }

        byte[] data = Encoding.UTF8.GetBytes(text);
        if (data.Length > options.Value.MaxMessageBytes)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, $"'body' is larger than {options.Value.MaxMessageBytes} bytes");
        }

        try
        {
            V2JsonCodec.DecodeRequest(data);
        }
        catch (InferenceProtocolException e)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, "'body' is not a V2 inference request: " + e.Message);
        }

        string requestId = request.RequestId is { Length: > 0 } given ? given : RequestIds.New();
        if (requestId.Length > StreamCodec.MaxRequestIdLength || requestId.Any(char.IsControl))
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, $"'requestId' must be at most {StreamCodec.MaxRequestIdLength} printable characters");
        }

        if (processor.Transport is not { } transport)
        {
            return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"no transport for the stream engine '{options.Value.Engine}' is available in this build");
        }

        var resource = new StreamResource(kind, name);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [StreamHeaders.ContentType] = StreamHeaders.Json,
            [StreamHeaders.RequestId] = requestId,
        };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(EngineTimeout);
            await transport.EnsureAsync(resource, timeout.Token);
            await transport.PublishAsync(resource.InputSubject, new OutgoingMessage(data, headers, requestId), timeout.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"the stream engine ({options.Value.Engine}) did not take the message: {StreamCodec.Shorten(e.Message)}");
        }

        return TypedResults.Json(new StreamPublished(requestId, resource.InputSubject), statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> LatestAsync(string kind, string name, string? subject, int? limit, MdsDbContext db, StreamProcessor processor, CancellationToken ct)
    {
        if (kind is not (StreamResource.Models or StreamResource.Pipelines) || !await ExistsAsync(db, kind, name, ct))
        {
            return NotFound(kind, name);
        }

        subject ??= "outputs";
        if (subject is not ("outputs" or "errors"))
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, "'subject' must be 'outputs' or 'errors'");
        }

        int count = limit ?? 20;
        if (count is < 1 or > 100)
        {
            return ApiResults.V2Error(StatusCodes.Status400BadRequest, "'limit' must be between 1 and 100");
        }

        if (processor.Transport is not { } transport)
        {
            return TypedResults.Ok(new List<StreamMessageDto>());
        }

        var resource = new StreamResource(kind, name);
        string label = $"{kind}/{name}";
        IReadOnlyList<StoredMessage> stored;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(EngineTimeout);
            stored = subject == "outputs"
                ? await transport.LatestAsync(resource.OutputSubject, count, timeout.Token)
                : [.. (await transport.LatestAsync(StreamSubjects.Errors, Math.Min(count * 10, 1000), timeout.Token))
                    .Where(m => m.Headers.TryGetValue(StreamHeaders.Resource, out var r) && r == label).TakeLast(count)];
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return ApiResults.V2Error(StatusCodes.Status503ServiceUnavailable, $"the stream engine could not be read: {StreamCodec.Shorten(e.Message)}");
        }

        string subjectName = subject == "outputs" ? resource.OutputSubject : StreamSubjects.Errors;
        return TypedResults.Ok(stored.Select(m => Show(m, subjectName, isError: subject == "errors")).ToList());
    }

    private static StreamMessageDto Show(StoredMessage m, string subject, bool isError)
    {
        m.Headers.TryGetValue(StreamHeaders.RequestId, out var requestId);
        m.Headers.TryGetValue(StreamHeaders.ContentType, out var contentType);
        m.Headers.TryGetValue(StreamHeaders.Error, out var error);
        string body;
        try
        {
            var encoding = StreamCodec.EncodingOf(m.Headers, m.Data.Span);
            if (encoding == StreamEncoding.Json)
            {
                body = Encoding.UTF8.GetString(m.Data.Span[..Math.Min(m.Data.Length, MaxShownBody)]);
            }
            else if (isError)
            {
                var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                new GrpcRequestLimits().Check(new System.Buffers.ReadOnlySequence<byte>(m.Data));
                V2JsonCodec.WriteRequest(buffer, GrpcTensorCodec.Decode(ModelInferRequest.Parser.ParseFrom(m.Data.Span)));
                body = Encoding.UTF8.GetString(buffer.WrittenSpan);
            }
            else
            {
                body = JsonFormatter.Default.Format(ModelInferResponse.Parser.ParseFrom(m.Data.Span));
            }
        }
        catch (Exception)
        {
            body = $"({m.Data.Length} bytes that are not a readable V2 message)";
        }

        if (body.Length > MaxShownBody)
        {
            body = body[..MaxShownBody];
        }

        return new StreamMessageDto(requestId ?? "", subject, m.Timestamp, contentType ?? "", body, isError ? error : null);
    }

    /// <summary>The resource's stream as the API shows it: the setting, and the counters of every backend (totals over all rows; the rest from rows written in the last 30 s).</summary>
    private static async Task<StreamDto> DescribeAsync(MdsDbContext db, StreamResource resource, StreamProcessor processor, StreamingOptions options, DateTimeOffset now, CancellationToken ct, StreamSetting? setting = null)
    {
        setting ??= await db.Set<StreamSetting>().AsNoTracking().SingleOrDefaultAsync(s => s.Kind == resource.Kind && s.Name == resource.Name, ct);
        var rows = await db.Set<StreamCounter>().AsNoTracking().Where(c => c.Kind == resource.Kind && c.Name == resource.Name).ToListAsync(ct);
        var local = processor.Local(resource);
        if (local is not null)
        {
            // This backend's own row, live rather than as last written.
            rows.RemoveAll(r => r.Backend == processor.BackendId);
            var (rin, rout) = local.Rates();
            rows.Add(new StreamCounter
            {
                Kind = resource.Kind, Name = resource.Name, Backend = processor.BackendId, Received = local.Received, Published = local.Published,
                Errors = local.Errors, Redeliveries = local.Redeliveries, InFlight = local.InFlight, Lag = local.Lag,
                ReceivedPerSecond = rin, PublishedPerSecond = rout, State = local.State, Reason = local.Reason, UpdatedAt = now,
            });
        }

        var fresh = rows.Where(r => now - r.UpdatedAt <= Fresh).ToList();
        var counters = new StreamCountersDto(
            rows.Sum(r => r.Received), rows.Sum(r => r.Published), rows.Sum(r => r.Errors), rows.Sum(r => r.Redeliveries),
            fresh.Sum(r => r.InFlight), fresh.Count == 0 ? 0 : fresh.Max(r => r.Lag),
            fresh.Sum(r => r.ReceivedPerSecond), fresh.Sum(r => r.PublishedPerSecond));

        bool enabled = setting?.Enabled == true;
        string state;
        string? reason;
        if (!enabled)
        {
            (state, reason) = (StreamStates.Disabled, null);
        }
        else if (SwitchedOff(options) is { } off)
        {
            (state, reason) = (StreamStates.Waiting, off);
        }
        else if (fresh.Count == 0)
        {
            (state, reason) = (StreamStates.Waiting, "no backend is consuming it yet");
        }
        else if (fresh.FirstOrDefault(r => r.State != StreamStates.Running) is { } waiting)
        {
            (state, reason) = (StreamStates.Waiting, waiting.Reason);
        }
        else
        {
            (state, reason) = (StreamStates.Running, null);
        }

        return new StreamDto(resource.Kind, resource.Name, enabled, options.Engine, state, reason,
            resource.InputSubject, resource.OutputSubject, StreamSubjects.Errors, counters);
    }

    private static Task<bool> ExistsAsync(MdsDbContext db, string kind, string name, CancellationToken ct) => kind == StreamResource.Models
        ? db.Models.AnyAsync(m => m.Name == name, ct)
        : db.Set<Pipeline>().AnyAsync(p => p.Name == name, ct);

    private static IResult NotFound(string kind, string name) => ApiResults.V2Error(StatusCodes.Status404NotFound,
        kind switch
        {
            StreamResource.Models => $"model '{name}' not found",
            StreamResource.Pipelines => $"pipeline '{name}' not found",
            _ => $"'{kind}' is neither 'models' nor 'pipelines'",
        });

    /// <summary>Reads <c>{"enabled": bool, "cleanOnDisable": bool}</c>: <c>enabled</c> required, nothing else allowed.</summary>
    private static async Task<(StreamingRequest? Request, string? Problem)> ReadSettingAsync(HttpRequest request, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(LimitedBody(request, MaxSettingBytes), default, ct);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            return (null, "the body is not JSON {\"enabled\": true|false, \"cleanOnDisable\": true|false}: " + e.Message);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, "the body must be a JSON object {\"enabled\": true|false, \"cleanOnDisable\": true|false}");
            }

            bool? enabled = null;
            bool clean = false;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                bool isBool = p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False;
                if (p.NameEquals("enabled") || string.Equals(p.Name, "enabled", StringComparison.OrdinalIgnoreCase))
                {
                    if (!isBool)
                    {
                        return (null, "'enabled' must be true or false");
                    }

                    enabled = p.Value.GetBoolean();
                }
                else if (string.Equals(p.Name, "cleanOnDisable", StringComparison.OrdinalIgnoreCase))
                {
                    if (!isBool)
                    {
                        return (null, "'cleanOnDisable' must be true or false");
                    }

                    clean = p.Value.GetBoolean();
                }
                else
                {
                    return (null, $"unknown field '{StreamCodec.Shorten(p.Name)}' (known: enabled, cleanOnDisable)");
                }
            }

            return enabled is bool e ? (new StreamingRequest(e, clean), null) : (null, "'enabled' (true or false) is required");
        }
    }

    /// <summary>The request body, failing with <see cref="InvalidDataException"/> past <paramref name="limit"/> bytes.</summary>
    private static Stream LimitedBody(HttpRequest request, long limit)
    {
        if (request.ContentLength > limit)
        {
            throw new InvalidDataException($"the body is larger than {limit} bytes");
        }

        return new LimitedStream(request.Body, limit);
    }

    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Count(await inner.ReadAsync(buffer, cancellationToken));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            _read += n;
            return _read > limit ? throw new InvalidDataException($"the body is larger than {limit} bytes") : n;
        }
    }
}
