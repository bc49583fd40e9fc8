using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Mds.Backend.Gateway;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Experiments;

/// <summary>
/// A model's answer as bytes (pooled), kept for the call log: its predicted label and score are read from it later, off
/// the request path, by <see cref="ExperimentCallLog"/>'s writer. Owned by whoever holds it last; <see cref="Release"/> once.
/// </summary>
internal sealed class RawAnswer
{
    private byte[]? _buffer;

    public RawAnswer(byte[] buffer, int length, string? headerLength)
    {
        _buffer = buffer;
        Length = length;
        HeaderLength = headerLength;
    }

    public int Length { get; }

    /// <summary>The binary tensor extension's JSON length (<c>Inference-Header-Content-Length</c>), null for a JSON answer.</summary>
    public string? HeaderLength { get; }

    /// <summary>The predicted label and score (<see cref="ExperimentRunner.Prediction"/>); nulls when the answer cannot be decoded.</summary>
    public (string? Predicted, double? Score) Prediction()
    {
        var buffer = _buffer;
        if (buffer is null)
        {
            return (null, null);
        }

        try
        {
            var response = HeaderLength is { } h
                ? BinaryTensorData.DecodeResponse(buffer.AsMemory(0, Length), BinaryTensorData.ParseHeaderLength(h, Length))
                : V2JsonCodec.DecodeResponse(buffer.AsSpan(0, Length));
            return ExperimentRunner.Prediction(response);
        }
        catch (Exception e) when (e is InferenceProtocolException or System.Text.Json.JsonException or FormatException or ArgumentException or InvalidOperationException)
        {
            return (null, null);
        }
    }

    /// <summary>Gives the buffer back to the pool.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}

/// <summary>
/// The response body of a forwarded experiment call, passed through unchanged to the caller while the first
/// <see cref="Cap"/> bytes are copied into a pooled buffer for the call log (an answer over the cap is not kept: its
/// call is logged without a predicted label).
/// </summary>
internal sealed class ResponseCapture(Stream inner, long? contentLength) : Stream
{
    /// <summary>The most bytes of an answer kept for its predicted label.</summary>
    public const int Cap = 1024 * 1024;

    private byte[]? _buffer;
    private int _length;
    private bool _overflow;

    /// <summary>Takes what was captured (null when nothing or too much was written); the capture then holds nothing.</summary>
    public RawAnswer? Take(string? headerLength)
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is null)
        {
            return null;
        }

        if (_overflow || _length == 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }

        return new RawAnswer(buffer, _length, headerLength);
    }

    /// <summary>Returns the buffer if <see cref="Take"/> was never called.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    private void Copy(ReadOnlySpan<byte> data)
    {
        if (_overflow || data.IsEmpty)
        {
            return;
        }

        if (_length + data.Length > Cap)
        {
            _overflow = true;
            return;
        }

        if (_buffer is null || _buffer.Length < _length + data.Length)
        {
            int size = Math.Max(_length + data.Length, (int)Math.Min(Cap, Math.Max(contentLength ?? 0, _buffer is null ? 4096 : _buffer.Length * 2L)));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = bigger;
        }

        data.CopyTo(_buffer.AsSpan(_length));
        _length += data.Length;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Copy(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Copy(buffer);
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Copy(buffer.AsSpan(offset, count));
        return inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Copy(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }
}

/// <summary>A request as the caller sent it (body bytes and the headers that say how to read them), for a mirror copy.</summary>
/// <param name="Body">The body.</param>
/// <param name="ContentType">Its content type.</param>
/// <param name="HeaderLength">The binary tensor extension's JSON length, or null.</param>
internal sealed record RawRequest(byte[] Body, string? ContentType, string? HeaderLength)
{
    /// <summary>Decodes it (for a pipeline mirror); <see cref="InferenceProtocolException"/> when malformed.</summary>
    public InferenceRequest Decode()
    {
        var body = new ReadOnlySequence<byte>(Body);
        return HeaderLength is { } h
            ? BinaryTensorData.DecodeRequest(body, BinaryTensorData.ParseHeaderLength(h, Body.Length))
            : V2JsonCodec.DecodeRequest(body);
    }

    /// <summary>The body of the request being answered (buffered by the forwarder), read again from the start.</summary>
    public static async Task<RawRequest?> OfAsync(HttpContext http)
    {
        var body = http.Request.Body;
        if (!body.CanSeek || body.Length > int.MaxValue)
        {
            return null;
        }

        body.Position = 0;
        var bytes = new byte[body.Length];
        await body.ReadExactlyAsync(bytes);
        return new RawRequest(bytes, http.Request.ContentType, http.Request.Headers[BinaryTensorData.HeaderLengthHeader].FirstOrDefault());
    }
}

/// <summary>
/// Sends a mirror copy's bytes, unchanged, to a Ready replica of a model (picked and retried by the gateway's
/// <see cref="ReplicaCallPolicy"/>) on the forwarder's connection pool; the answer comes back as bytes.
/// </summary>
internal static class RawReplicaSend
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<(int Status, RawAnswer? Answer, string? Error)> SendAsync(
        IServiceProvider services, ExperimentCandidate target, RawRequest request, string requestId, string caller, string experimentTag, CancellationToken ct)
    {
        var routing = services.GetRequiredService<RoutingTable>();
        var policy = services.GetRequiredService<ReplicaCallPolicy>();
        var client = services.GetRequiredService<HttpMessageInvoker>();
        var keys = services.GetRequiredService<Auth.SigningKeys>();
        var traffic = services.GetRequiredService<TrafficStats>();
        long started = Stopwatch.GetTimestamp();
        int status = StatusCodes.Status500InternalServerError;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            var route = await routing.ResolveAsync(target.Name, target.Version, timeout.Token);
            if (route.Status != RouteStatus.Found)
            {
                status = StatusCodes.Status503ServiceUnavailable;
                return (status, null, route.Error ?? $"model '{target.Name}' has no ready replica");
            }

            string path = $"/v2/models/{Uri.EscapeDataString(route.Model!.Name)}/versions/{route.Version!.Version.ToString(CultureInfo.InvariantCulture)}/infer";
            string token = keys.InternalTokenFor(caller);
            var result = await policy.RunAsync<(int Status, byte[] Body, int Length, string? HeaderLength)>(route, target.Name, async (attempt, token2) =>
            {
                using var content = new ByteArrayContent(request.Body);
                content.Headers.ContentType = MediaTypeHeaderValue.TryParse(request.ContentType, out var type) ? type : new MediaTypeHeaderValue("application/json");
                using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(attempt.Replica.Url), path)) { Content = content };
                if (request.HeaderLength is { } h)
                {
                    message.Headers.TryAddWithoutValidation(BinaryTensorData.HeaderLengthHeader, h);
                }

                message.Headers.TryAddWithoutValidation(MdsHeaders.RequestId, requestId);
                message.Headers.TryAddWithoutValidation(MdsHeaders.Experiment, experimentTag);
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                GatewayForwarding.PropagateTrace(message);
                HttpResponseMessage response;
                try
                {
                    response = await client.SendAsync(message, token2);
                }
                catch (HttpRequestException e)
                {
                    return SendOutcome<(int, byte[], int, string?)>.FromError(e, e.HttpRequestError.ToString());
                }

                using (response)
                {
                    if (response.StatusCode == HttpStatusCode.NotFound && response.Headers.Contains(MdsHeaders.NotLoaded))
                    {
                        return SendOutcome<(int, byte[], int, string?)>.NotLoaded();
                    }

                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                    {
                        return SendOutcome<(int, byte[], int, string?)>.Unavailable();
                    }

                    byte[] buffer;
                    int length;
                    try
                    {
                        (buffer, length) = await ReadPooledAsync(response.Content, token2);
                    }
                    catch (HttpRequestException e)
                    {
                        return SendOutcome<(int, byte[], int, string?)>.ConnectionLost(e.HttpRequestError.ToString());
                    }

                    string? headerLength = response.Headers.TryGetValues(BinaryTensorData.HeaderLengthHeader, out var values)
                        || response.Content.Headers.TryGetValues(BinaryTensorData.HeaderLengthHeader, out values) ? values.FirstOrDefault() : null;
                    return SendOutcome<(int, byte[], int, string?)>.Answered(((int)response.StatusCode, buffer, length, headerLength));
                }
            }, input: RequestInput.Of(request.Body), ct: timeout.Token);
            if (!result.Answered)
            {
                status = result.FailureStatus;
                return (status, null, result.Failure);
            }

            var reply = result.Value;
            status = reply.Status;
            var answer = new RawAnswer(reply.Body, reply.Length, reply.HeaderLength);
            if (status is >= 200 and < 300)
            {
                return (status, answer, null);
            }

            answer.Release();
            return (status, null, $"the mirror answered {status}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            status = StatusCodes.Status504GatewayTimeout;
            return (status, null, $"no answer within {Timeout.TotalSeconds:0} s");
        }
        finally
        {
            traffic.Record(target.Name, target.Version?.ToString(CultureInfo.InvariantCulture), status, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>The whole content in a pooled buffer.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadPooledAsync(HttpContent content, CancellationToken ct)
    {
        long? declared = content.Headers.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(declared ?? 4096, 16, ResponseCapture.Cap));
        int length = 0;
        try
        {
            await using var stream = await content.ReadAsStreamAsync(ct);
            while (true)
            {
                if (length == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                int read = await stream.ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0)
                {
                    return (buffer, length);
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
