using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Mds.Contracts.Api;

namespace Mds.Backend.Drift;

/// <summary>
/// The newest drift figures per version as gauges: <c>mds_drift_p_value</c> and <c>mds_drift_psi</c> (model, version,
/// feature) and <c>mds_drift_detected</c> (model, version; 1 or 0); and <c>mds_drift_runs_total</c> (model, version,
/// result: drift, no_drift, skipped).
/// </summary>
public sealed class DriftMetrics
{
    private readonly ConcurrentDictionary<(string Model, int Version), Latest> _latest = new();
    private readonly Counter<long> _runs;

    public DriftMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create("Mds");
        meter.CreateObservableGauge("drift_p_value", () => Features(f => f.PValue), description: "The newest drift report's p-value per feature.");
        meter.CreateObservableGauge("drift_psi", () => Features(f => f.Psi), description: "The newest drift report's PSI per feature.");
        meter.CreateObservableGauge("drift_detected", () => _latest.Select(l => new Measurement<int>(
            l.Value.Drifted ? 1 : 0, new("model", l.Key.Model), new("version", Text(l.Key.Version)))), description: "1 when the newest drift report found drift.");
        _runs = meter.CreateCounter<long>("drift_runs_total", description: "Drift checks by model, version and result.");
    }

    /// <summary>Takes a report as the newest of its version (unless a newer one is known).</summary>
    public void Observe(string model, int version, DateTimeOffset time, bool drifted, IReadOnlyList<FeatureDriftDto> features)
    {
        var latest = new Latest(time, drifted, features);
        _latest.AddOrUpdate((model, version), latest, (_, existing) => existing.Time > time ? existing : latest);
    }

    /// <summary>Counts a check: <c>drift</c>, <c>no_drift</c> or <c>skipped</c>.</summary>
    public void CountRun(string model, int version, string result) =>
        _runs.Add(1, new KeyValuePair<string, object?>("model", model), new("version", Text(version)), new("result", result));

    /// <summary>Forgets versions not in <paramref name="keep"/> (deleted, or their dataset removed).</summary>
    public void Retain(IReadOnlySet<(string Model, int Version)> keep)
    {
        foreach (var key in _latest.Keys.Where(k => !keep.Contains(k)).ToList())
        {
            _latest.TryRemove(key, out _);
        }
    }

    private IEnumerable<Measurement<double>> Features(Func<FeatureDriftDto, double> value) =>
        _latest.SelectMany(l => l.Value.Features.Select(f => new Measurement<double>(
            value(f), new("model", l.Key.Model), new("version", Text(l.Key.Version)), new("feature", f.Feature))));

    private static string Text(int version) => version.ToString(CultureInfo.InvariantCulture);

    private sealed record Latest(DateTimeOffset Time, bool Drifted, IReadOnlyList<FeatureDriftDto> Features);
}
