using System.Diagnostics.Metrics;

namespace Mds.Workers.Inference;

/// <summary>
/// Each loaded model's load, as gauges at <c>/metrics</c>: <c>mds_worker_model_requests_in_flight</c> (running on the
/// session, or in its batcher) and <c>mds_worker_model_requests_waiting</c> (waiting at the model's gate), labelled
/// model and version. Their sum per pod is what the Kubernetes HPA scales workers on; the same two numbers go to the
/// backend in every heartbeat, for the autoscaler. A hosted service only so that the gauges exist from the start.
/// </summary>
internal sealed class ModelLoadMetrics : IHostedService
{
    public ModelLoadMetrics(IMeterFactory meterFactory, SessionRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(registry);
        var meter = meterFactory.Create(WorkerMetrics.MeterName);
        meter.CreateObservableGauge("worker_model_requests_in_flight", () => Observe(registry, m => m.Running), unit: "{request}",
            description: "Requests running on a model's session now (or queued in its batcher), by model and version.");
        meter.CreateObservableGauge("worker_model_requests_waiting", () => Observe(registry, m => m.Waiting), unit: "{request}",
            description: "Requests waiting for their turn on a model's session (its concurrency limit is taken), by model and version.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static IEnumerable<Measurement<int>> Observe(SessionRegistry registry, Func<LoadedModel, int> value)
    {
        var models = registry.Loaded;
        var measurements = new Measurement<int>[models.Count];
        for (int i = 0; i < measurements.Length; i++)
        {
            var m = models[i];
            measurements[i] = new Measurement<int>(value(m), new KeyValuePair<string, object?>("model", m.Name), new KeyValuePair<string, object?>("version", m.VersionText));
        }

        return measurements;
    }
}
