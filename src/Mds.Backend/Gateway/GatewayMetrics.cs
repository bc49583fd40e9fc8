using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Mds.ServiceDefaults;
using Prometheus;

namespace Mds.Backend.Gateway;

/// <summary>
/// The gateway's instruments, exported at <c>/metrics</c> as <c>mds_gateway_requests_total</c> and
/// <c>mds_gateway_duration_seconds</c> with labels model, version (the version that was routed to) and status
/// (<c>ok</c>, <c>invalid</c>, <c>not_found</c>, <c>unavailable</c>, <c>error</c>). Only models the routing table knows
/// become label values; any other name counts as <c>(unknown)</c>, so callers cannot create series at will.
/// Hot path: exported to prometheus-net directly, each (model, version, status)'s labelled children bound once and
/// found again with one dictionary lookup, not through the meter adapter (which sorts, copies and looks up the tags of
/// every measurement); the System.Diagnostics.Metrics instruments stay for in-process listeners.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>prometheus-net names a series <c>{meter}_{instrument}</c>: meter <c>Mds</c> gives the <c>mds_</c> prefix.</summary>
    public const string MeterName = "Mds";

    private const string UnknownModel = "(unknown)";

    private static readonly Prometheus.Counter PromRequests = Prometheus.Metrics.CreateCounter(
        "mds_gateway_requests_total", "Inference requests through the gateway by model, version and status.", "model", "version", "status");

    private static readonly Prometheus.Histogram PromDuration = Prometheus.Metrics.CreateHistogram(
        "mds_gateway_duration_seconds", "(s) Gateway inference duration in seconds, forwarding to the worker and its answer included.",
        new HistogramConfiguration { LabelNames = ["model", "version", "status"], Buckets = MeterAdapterOptions.DefaultHistogramBuckets });

    private readonly ConcurrentDictionary<(string Model, int Version, string Status), (Prometheus.Counter.Child Requests, Prometheus.Histogram.Child Duration)> _series = new();
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        KeyValuePair<string, object?>[] native = [ServiceDefaultsExtensions.ExportedNatively];
        _requests = meter.CreateCounter<long>("gateway_requests_total", unit: null, description: "Inference requests through the gateway by model, version and status.", tags: native);
        _duration = meter.CreateHistogram<double>("gateway_duration_seconds", unit: "s",
            description: "Gateway inference duration in seconds, forwarding to the worker and its answer included.", tags: native);
    }

    /// <summary>Counts one gateway inference that <paramref name="route"/> resolved (null: not even looked up) and its duration.</summary>
    public void Record(RouteLookup? route, int status, TimeSpan elapsed)
    {
        string statusLabel = StatusOf(status);
        string model = route?.Model?.Name ?? UnknownModel;
        int version = route?.Version?.Version ?? -1; // -1: no version, the label ""
        var (requests, duration) = _series.GetOrAdd((model, version, statusLabel), static key =>
        {
            string versionLabel = key.Version < 0 ? "" : key.Version.ToString(CultureInfo.InvariantCulture);
            return (PromRequests.WithLabels(key.Model, versionLabel, key.Status), PromDuration.WithLabels(key.Model, versionLabel, key.Status));
        });
        requests.Inc();
        duration.Observe(elapsed.TotalSeconds);
        if (_requests.Enabled || _duration.Enabled)
        {
            var tags = new TagList
            {
                { "model", model },
                { "version", version < 0 ? "" : version.ToString(CultureInfo.InvariantCulture) },
                { "status", statusLabel },
            };
            _requests.Add(1, tags);
            _duration.Record(elapsed.TotalSeconds, tags);
        }
    }

    /// <summary>The status label of an HTTP status code.</summary>
    public static string StatusOf(int status) => status switch
    {
        >= 200 and < 300 => "ok",
        StatusCodes.Status404NotFound => "not_found",
        StatusCodes.Status503ServiceUnavailable => "unavailable",
        >= 400 and < 500 => "invalid",
        _ => "error",
    };
}
