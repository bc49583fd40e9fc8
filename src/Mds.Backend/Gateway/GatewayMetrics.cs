using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace Mds.Backend.Gateway;

/// <summary>
/// The gateway's instruments, exported at <c>/metrics</c> as <c>mds_gateway_requests_total</c> and
/// <c>mds_gateway_duration_seconds</c> with labels model, version (the version that was routed to) and status
/// (<c>ok</c>, <c>invalid</c>, <c>not_found</c>, <c>unavailable</c>, <c>error</c>). Only models the routing table knows
/// become label values; any other name counts as <c>(unknown)</c>, so callers cannot create series at will.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>prometheus-net names a series <c>{meter}_{instrument}</c>: meter <c>Mds</c> gives the <c>mds_</c> prefix.</summary>
    public const string MeterName = "Mds";

    private const string UnknownModel = "(unknown)";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("gateway_requests_total", description: "Inference requests through the gateway by model, version and status.");
        _duration = meter.CreateHistogram<double>("gateway_duration_seconds", unit: "s",
            description: "Gateway inference duration in seconds, forwarding to the worker and its answer included.");
    }

    /// <summary>Counts one gateway inference that <paramref name="route"/> resolved (null: not even looked up) and its duration.</summary>
    public void Record(RouteLookup? route, int status, TimeSpan elapsed)
    {
        var tags = new TagList
        {
            { "model", route?.Model?.Name ?? UnknownModel },
            { "version", route?.Version?.Version.ToString(CultureInfo.InvariantCulture) ?? "" },
            { "status", StatusOf(status) },
        };
        _requests.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
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
