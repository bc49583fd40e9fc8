using System.Diagnostics;
using System.Net.Http.Headers;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Inference.Grpc;

namespace Mds.Bench;

/// <summary>What one load phase achieved.</summary>
/// <param name="Succeeded">Requests answered 200.</param>
/// <param name="Failed">Requests answered otherwise, or not answered.</param>
/// <param name="Elapsed">From the first request sent to the last answer.</param>
/// <param name="FirstError">The first failure, for the report.</param>
/// <param name="P50Ms">Median latency of the successful requests, in milliseconds.</param>
/// <param name="P99Ms">99th-percentile latency of the successful requests, in milliseconds.</param>
internal sealed record LoadResult(long Succeeded, long Failed, TimeSpan Elapsed, string? FirstError, double P50Ms = double.NaN, double P99Ms = double.NaN)
{
    public double RequestsPerSecond => Succeeded / Elapsed.TotalSeconds;
}

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> clients each send the same V2 request, wait for the answer, and send
/// again, until the duration is up (requests in flight then finish and count).
/// </summary>
internal static class InferenceLoad
{
    private static readonly Dictionary<string, string> NoHeaders = [];

    /// <summary>
    /// Over REST, one connection per client. The body is JSON unless <c>contentType</c> says otherwise; <c>headers</c>
    /// go on every request (the binary tensor extension's <c>Inference-Header-Content-Length</c>).
    /// </summary>
    public static async Task<LoadResult> RunAsync(
        Uri server, string path, byte[] body, int concurrency, TimeSpan duration, CancellationToken ct, AuthenticationHeaderValue? authorization = null,
        string contentType = "application/json", IReadOnlyDictionary<string, string>? headers = null)
    {
        var mediaType = new MediaTypeHeaderValue(contentType);
        using var http = Client(server, concurrency, authorization);
        var target = new Uri(path, UriKind.Relative);

        async Task<string?> SendAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = mediaType;
            foreach (var (name, value) in headers ?? NoHeaders)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            try
            {
                using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
                await response.Content.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                return response.IsSuccessStatusCode ? null : $"{(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (HttpRequestException e)
            {
                return e.Message;
            }
        }

        return await ClosedLoopAsync(concurrency, duration, SendAsync, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Over REST, one connection per client, where one unit of work is more than one request: <paramref name="exchange"/>
    /// sends what it likes on the shared client (e.g. three calls, each built from the previous answer) and answers null
    /// for a success, else what went wrong. Latency and req/s then count whole exchanges.
    /// </summary>
    public static async Task<LoadResult> RunExchangeAsync(
        Uri server, Func<HttpClient, Task<string?>> exchange, int concurrency, TimeSpan duration, CancellationToken ct, AuthenticationHeaderValue? authorization = null)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        using var http = Client(server, concurrency, authorization);

        async Task<string?> SendAsync()
        {
            try
            {
                return await exchange(http).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                return e.Message;
            }
        }

        return await ClosedLoopAsync(concurrency, duration, SendAsync, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Over gRPC (<c>ModelInfer</c>), all clients on one channel, which opens another HTTP/2 connection when one is
    /// full of streams (as a gRPC client application would be set up).
    /// </summary>
    public static async Task<LoadResult> RunGrpcAsync(Uri server, ModelInferRequest request, int concurrency, TimeSpan duration, CancellationToken ct)
    {
        using var channel = GrpcChannel.ForAddress(server, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                UseProxy = false,
                EnableMultipleHttp2Connections = true,
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            },
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);

        async Task<string?> SendAsync()
        {
            try
            {
                await client.ModelInferAsync(request, LocalCluster.GrpcAuthorization(), DateTime.UtcNow.AddSeconds(30), ct).ConfigureAwait(false);
                return null;
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled || !ct.IsCancellationRequested)
            {
                return $"{e.StatusCode} {e.Status.Detail}";
            }
        }

        return await ClosedLoopAsync(concurrency, duration, SendAsync, ct).ConfigureAwait(false);
    }

    private static HttpClient Client(Uri server, int concurrency, AuthenticationHeaderValue? authorization)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        var http = new HttpClient(handler, disposeHandler: true) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = authorization ?? LocalCluster.WorkerAuthorization; // workers need a credential too
        return http;
    }

    /// <summary><paramref name="send"/> answers null for a success, else what went wrong.</summary>
    private static async Task<LoadResult> ClosedLoopAsync(int concurrency, TimeSpan duration, Func<Task<string?>> send, CancellationToken ct)
    {
        var latencies = new List<long>[concurrency];
        long succeeded = 0, failed = 0;
        string? firstError = null;
        long started = Stopwatch.GetTimestamp();
        long stopAt = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        async Task ClientAsync(List<long> mine)
        {
            while (Stopwatch.GetTimestamp() < stopAt && !ct.IsCancellationRequested)
            {
                long sent = Stopwatch.GetTimestamp();
                if (await send().ConfigureAwait(false) is { } error)
                {
                    Interlocked.CompareExchange(ref firstError, error, null);
                    Interlocked.Increment(ref failed);
                    continue;
                }

                mine.Add(Stopwatch.GetTimestamp() - sent);
                Interlocked.Increment(ref succeeded);
            }
        }

        var clients = new Task[concurrency];
        for (int i = 0; i < concurrency; i++)
        {
            var mine = latencies[i] = [];
            clients[i] = Task.Run(() => ClientAsync(mine), ct);
        }

        await Task.WhenAll(clients).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        long[] all = [.. latencies.SelectMany(l => l)];
        Array.Sort(all);
        double Percentile(double p) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)(p * all.Length))] * 1000.0 / Stopwatch.Frequency;
        return new LoadResult(succeeded, failed, elapsed, firstError, Percentile(0.5), Percentile(0.99));
    }
}
