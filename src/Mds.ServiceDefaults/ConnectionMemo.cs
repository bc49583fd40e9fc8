using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Mds.ServiceDefaults;

/// <summary>
/// Hot path: what a keep-alive connection's repeated request header was worked out to, kept on the connection
/// (<see cref="IPersistentStateFeature"/>, gone with it; Kestrel keeps it per HTTP/1.1 connection and per pooled
/// HTTP/2 stream, each used by one request at a time, so no lock is needed), so a client that sends the same header on every request
/// pays one comparison per request instead of the work (the inference fast paths: a bearer credential's SHA-256 and
/// scheme). The value must depend on the header alone. A connection whose header changes (a proxy multiplexing
/// callers) stops being memoised after the first change, so it never pays a copy of each header. The header is kept
/// as long as the connection lives: use it for values whose header the process may hold that long.
/// </summary>
/// <typeparam name="T">What the header is worked out to.</typeparam>
public sealed class ConnectionMemo<T>
{
    private readonly object _key = new();

    /// <summary>
    /// <paramref name="compute"/>(<paramref name="header"/>), from this connection's memo when the connection sent the
    /// same header before.
    /// </summary>
    public T Get<TState>(HttpContext http, ReadOnlySpan<char> header, TState state, Func<ReadOnlySpan<char>, TState, T> compute)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(compute);
        var connection = http.Features.Get<IPersistentStateFeature>()?.State;
        if (connection is null)
        {
            return compute(header, state);
        }

        if (!connection.TryGetValue(_key, out var found) || found is not Entry entry)
        {
            var value = compute(header, state);
            connection[_key] = new Entry(header.ToString(), value);
            return value;
        }

        if (entry.Header is { } known && header.SequenceEqual(known))
        {
            return entry.Value;
        }

        entry.Header = null; // changed: this connection carries several headers, so none is kept
        return compute(header, state);
    }

    private sealed class Entry(string header, T value)
    {
        public string? Header { get; set; } = header;

        public T Value { get; } = value;
    }
}
