using System.Diagnostics;
using System.Net.Http.Headers;

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
/// A closed-loop load generator: <c>concurrency</c> clients each post the same V2 request, wait for the answer, and post
/// again, until the duration is up (requests in flight then finish and count). One connection per client.
/// </summary>
internal static class InferenceLoad
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public static async Task<LoadResult> RunAsync(
        Uri server, string path, byte[] body, int concurrency, TimeSpan duration, CancellationToken ct, AuthenticationHeaderValue? authorization = null)
    {
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        using var http = new HttpClient(handler) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = authorization;
        var latencies = new List<long>[concurrency];
        var target = new Uri(path, UriKind.Relative);
        long succeeded = 0, failed = 0;
        string? firstError = null;
        long started = Stopwatch.GetTimestamp();
        long stopAt = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        async Task ClientAsync(List<long> mine)
        {
            while (Stopwatch.GetTimestamp() < stopAt && !ct.IsCancellationRequested)
            {
                long sent = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = Json;
                    using var response = await http.PostAsync(target, content, ct).ConfigureAwait(false);
                    await response.Content.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        mine.Add(Stopwatch.GetTimestamp() - sent);
                        Interlocked.Increment(ref succeeded);
                        continue;
                    }

                    Interlocked.CompareExchange(ref firstError, $"{(int)response.StatusCode} {response.ReasonPhrase}", null);
                }
                catch (HttpRequestException e)
                {
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }

                Interlocked.Increment(ref failed);
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
