using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Mds.Backend.Streams;

/// <summary>
/// Per-stream instruments at <c>/metrics</c>, labelled <c>stream</c> = <c>models/{name}</c> or <c>pipelines/{name}</c>
/// (only stream-enabled resources become label values): <c>mds_stream_messages_received_total</c>,
/// <c>mds_stream_messages_published_total</c>, <c>mds_stream_errors_total</c>, <c>mds_stream_redeliveries_total</c>,
/// and the gauges <c>mds_stream_in_flight</c> (delivered to this backend, not yet acknowledged) and <c>mds_stream_lag</c>
/// (input messages not yet delivered to any backend).
/// </summary>
public sealed class StreamMetrics
{
    private readonly Counter<long> _received;
    private readonly Counter<long> _published;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _redeliveries;
    private readonly ConcurrentDictionary<string, StreamConsumer> _consumers = new(StringComparer.Ordinal);

    public StreamMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(Gateway.GatewayMetrics.MeterName);
        _received = meter.CreateCounter<long>("stream_messages_received_total", description: "Stream input messages taken by this backend (redeliveries included), by stream.");
        _published = meter.CreateCounter<long>("stream_messages_published_total", description: "Stream outputs published by this backend, by stream.");
        _errors = meter.CreateCounter<long>("stream_errors_total", description: "Stream messages sent to mds.errors by this backend, by stream.");
        _redeliveries = meter.CreateCounter<long>("stream_redeliveries_total", description: "Stream input messages delivered more than once, by stream.");
        meter.CreateObservableGauge("stream_in_flight", () => _consumers.Values.Select(c => new Measurement<long>(c.InFlight, new KeyValuePair<string, object?>("stream", c.Label))),
            description: "Stream messages delivered to this backend and not yet acknowledged, by stream.");
        meter.CreateObservableGauge("stream_lag", () => _consumers.Values.Select(c => new Measurement<long>(c.Lag, new KeyValuePair<string, object?>("stream", c.Label))),
            description: "Stream input messages not yet delivered to any backend, by stream.");
    }

    internal void Track(StreamConsumer consumer) => _consumers[consumer.Label] = consumer;

    internal void Untrack(StreamConsumer consumer) => _consumers.TryRemove(new KeyValuePair<string, StreamConsumer>(consumer.Label, consumer));

    internal void Received(string stream) => _received.Add(1, new KeyValuePair<string, object?>("stream", stream));

    internal void Published(string stream) => _published.Add(1, new KeyValuePair<string, object?>("stream", stream));

    internal void Failed(string stream) => _errors.Add(1, new KeyValuePair<string, object?>("stream", stream));

    internal void Redelivered(string stream) => _redeliveries.Add(1, new KeyValuePair<string, object?>("stream", stream));
}
