using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Mds.Backend.Gateway;

namespace Mds.Backend.Scheduling;

/// <summary>
/// What the autoscaler saw at its last pass, per autoscaled version, exported at <c>/metrics</c>:
/// <c>mds_autoscale_load_per_replica</c>, <c>mds_autoscale_latency_p95_seconds</c>,
/// <c>mds_autoscale_desired_replicas</c> and <c>mds_autoscale_ready_replicas</c> (model, version); and this backend's
/// own <c>mds_gateway_outstanding_requests</c> (model, version), one of the autoscaler's inputs.
/// </summary>
public sealed class AutoscaleSignals
{
    private readonly ConcurrentDictionary<long, Signal> _signals = new();

    public AutoscaleSignals(IMeterFactory meterFactory, GatewayLoad load)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(load);
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("autoscale_load_per_replica", () => Observe(s => s.LoadPerReplica), unit: "{request}",
            description: "Requests outstanding at the gateways or held at the workers (running or waiting), per Ready replica, at the autoscaler's last pass.");
        meter.CreateObservableGauge("autoscale_latency_p95_seconds", () => Observe(s => s.P95Ms is double ms ? ms / 1000 : double.NaN), unit: "s",
            description: "p95 latency through the gateways over the last report interval, at the autoscaler's last pass (NaN: no answers).");
        meter.CreateObservableGauge("autoscale_desired_replicas", () => Observe(s => s.Desired), unit: "{replica}",
            description: "Desired replicas of an autoscaled version after the autoscaler's last pass.");
        meter.CreateObservableGauge("autoscale_ready_replicas", () => Observe(s => s.Ready), unit: "{replica}",
            description: "Ready replicas of an autoscaled version at the autoscaler's last pass.");
        meter.CreateObservableGauge("gateway_outstanding_requests",
            () => load.Versions.Select(kv => new Measurement<int>(kv.Value.Outstanding, Tags(kv.Key.Model, kv.Key.Version))), unit: "{request}",
            description: "Requests outstanding through this backend's gateway now, by model and version.");
    }

    /// <summary>Records a version's signal (the reconciler, at each pass).</summary>
    public void Set(long versionId, string model, int version, AutoscaleInput input, int desired)
    {
        ArgumentNullException.ThrowIfNull(input);
        _signals[versionId] = new Signal(model, version, input.LoadPerReplica, input.P95Ms, desired, input.ReadyReplicas);
    }

    /// <summary>Forgets the versions not in <paramref name="autoscaled"/> (no longer autoscaled, or deleted).</summary>
    public void KeepOnly(IReadOnlySet<long> autoscaled)
    {
        ArgumentNullException.ThrowIfNull(autoscaled);
        foreach (var id in _signals.Keys.Where(id => !autoscaled.Contains(id)))
        {
            _signals.TryRemove(id, out _);
        }
    }

    private IEnumerable<Measurement<double>> Observe(Func<Signal, double> value) =>
        _signals.Values.Select(s => new Measurement<double>(value(s), Tags(s.Model, s.Version)));

    private static KeyValuePair<string, object?>[] Tags(string model, int version) =>
        [new("model", model), new("version", version.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private sealed record Signal(string Model, int Version, double LoadPerReplica, double? P95Ms, int Desired, int Ready);
}
