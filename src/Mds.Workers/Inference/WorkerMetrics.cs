using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mds.ServiceDefaults;
using Prometheus;

namespace Mds.Workers.Inference;

/// <summary>
/// The worker's inference instruments, exported at <c>/metrics</c> by the service defaults (names, types and labels:
/// docs/operations.md, "Metrics"): <c>mds_inference_requests_total</c> and <c>mds_inference_duration_seconds</c>
/// (model, version, status), <c>mds_inference_batch_size</c> and <c>mds_inference_queue_seconds</c> (model, version),
/// <c>mds_models_loaded</c>, <c>mds_worker_working_set_bytes</c> and <c>mds_worker_managed_heap_bytes</c>.
/// Hot path: the four per-request series are exported to prometheus-net directly, their labelled children bound once
/// per loaded model (<see cref="ModelSeries"/>), not through the meter adapter (which sorts and copies the tags and looks
/// the series up on every measurement); the System.Diagnostics.Metrics instruments stay for in-process listeners.
/// </summary>
internal sealed class WorkerMetrics
{
    /// <summary>
    /// The meter's name. prometheus-net names a series <c>{meter}_{instrument}</c>, so the meter is <c>Mds</c> and the
    /// instruments carry the rest of the name (a meter "Mds.Workers" would export <c>mds_workers_…</c>).
    /// </summary>
    public const string MeterName = "Mds";

    /// <summary>Status tag values.</summary>
    public const string Ok = "ok", Invalid = "invalid", NotFound = "not_found", Error = "error";

    // Unknown model names are not tags: a client must not be able to create series at will.
    private const string UnknownModel = "(unknown)";

    // Rows per request: powers of two up to the largest batch a 64 MiB body could sensibly carry.
    private static readonly long[] BatchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536];

    // Waiting before the run: from microseconds (no wait) to seconds (a long queue).
    private static readonly double[] QueueBuckets = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private static readonly KeyValuePair<string, object?>[] Native = [ServiceDefaultsExtensions.ExportedNatively];

    // prometheus-net's own series (its default registry, as /metrics exports), one set per process; buckets as before.
    private static readonly Prometheus.Counter PromRequests = Prometheus.Metrics.CreateCounter(
        "mds_inference_requests_total", "Inference requests by model, version and status.", "model", "version", "status");

    private static readonly Prometheus.Histogram PromDuration = Prometheus.Metrics.CreateHistogram(
        "mds_inference_duration_seconds", "(s) Inference request duration in seconds (decode excluded, except for requests whose body could not be decoded).",
        new HistogramConfiguration { LabelNames = ["model", "version", "status"], Buckets = MeterAdapterOptions.DefaultHistogramBuckets });

    private static readonly Prometheus.Histogram PromBatchSize = Prometheus.Metrics.CreateHistogram(
        "mds_inference_batch_size", "({row}) Rows per successful inference request (the first dimension of its first input).",
        new HistogramConfiguration { LabelNames = ["model", "version"], Buckets = [.. BatchSizeBuckets.Select(b => (double)b)] });

    private static readonly Prometheus.Histogram PromQueue = Prometheus.Metrics.CreateHistogram(
        "mds_inference_queue_seconds", "(s) Time from a request's body being decoded to its run starting on the model's session.",
        new HistogramConfiguration { LabelNames = ["model", "version"], Buckets = QueueBuckets });

    private static readonly (Prometheus.Counter.Child Requests, Prometheus.Histogram.Child Duration) UnknownNotFound =
        (PromRequests.WithLabels(UnknownModel, "", NotFound), PromDuration.WithLabels(UnknownModel, "", NotFound));

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _queue;

    public WorkerMetrics(IMeterFactory meterFactory, SessionRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(registry);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("inference_requests_total", unit: null, description: "Inference requests by model, version and status.", tags: Native);
        _duration = meter.CreateHistogram<double>("inference_duration_seconds", unit: "s",
            description: "Inference request duration in seconds (decode excluded, except for requests whose body could not be decoded).", tags: Native);
        _batchSize = meter.CreateHistogram("inference_batch_size", unit: "{row}",
            description: "Rows per successful inference request (the first dimension of its first input).", tags: Native,
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchSizeBuckets });
        _queue = meter.CreateHistogram("inference_queue_seconds", unit: "s",
            description: "Time from a request's body being decoded to its run starting on the model's session.", tags: Native,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = QueueBuckets });
        meter.CreateObservableGauge("models_loaded", () => registry.Count, description: "Replicas loaded on this worker.");
        meter.CreateObservableGauge("worker_working_set_bytes", () => Environment.WorkingSet, unit: "By",
            description: "Physical memory of the worker process (ONNX Runtime's native allocations included).");
        meter.CreateObservableGauge("worker_managed_heap_bytes", () => GC.GetTotalMemory(forceFullCollection: false), unit: "By",
            description: "Bytes allocated on the managed heap.");
    }

    /// <summary>Counts one request for a model not loaded here (status <see cref="NotFound"/>) and its duration since <paramref name="startTimestamp"/>.</summary>
    public void RecordNotFound(long startTimestamp)
    {
        double seconds = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        UnknownNotFound.Requests.Inc();
        UnknownNotFound.Duration.Observe(seconds);
        if (_requests.Enabled || _duration.Enabled)
        {
            var tags = new TagList { { "model", UnknownModel }, { "version", "" }, { "status", NotFound } };
            _requests.Add(1, tags);
            _duration.Record(seconds, tags);
        }
    }

    /// <summary>Counts one request of <paramref name="model"/> (status <see cref="Ok"/>, <see cref="Invalid"/> or <see cref="Error"/>) and its duration since <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public void RecordRequest(LoadedModel model, string status, long startTimestamp)
    {
        double seconds = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        var series = SeriesOf(model);
        var (requests, duration) = status switch
        {
            Ok => (series.OkRequests, series.OkDuration),
            Invalid => (series.InvalidRequests, series.InvalidDuration),
            _ => (series.ErrorRequests, series.ErrorDuration),
        };
        requests.Inc();
        duration.Observe(seconds);
        if (_requests.Enabled || _duration.Enabled)
        {
            var tags = new TagList { { "model", model.Name }, { "version", model.VersionText }, { "status", status } };
            _requests.Add(1, tags);
            _duration.Record(seconds, tags);
        }
    }

    /// <summary>Records the wait of a request whose body was decoded at <paramref name="decodedTimestamp"/> and whose run starts now.</summary>
    public void RecordQueued(LoadedModel model, long decodedTimestamp)
    {
        double seconds = Stopwatch.GetElapsedTime(decodedTimestamp).TotalSeconds;
        SeriesOf(model).Queue.Observe(seconds);
        if (_queue.Enabled)
        {
            _queue.Record(seconds, new TagList { { "model", model.Name }, { "version", model.VersionText } });
        }
    }

    /// <summary>Records the rows of a request that ran successfully on <paramref name="model"/>.</summary>
    public void RecordBatch(LoadedModel model, long rows)
    {
        SeriesOf(model).BatchSize.Observe(rows);
        if (_batchSize.Enabled)
        {
            _batchSize.Record(rows, new TagList { { "model", model.Name }, { "version", model.VersionText } });
        }
    }

    // Bound on a model's first request; a race binds the same children twice (WithLabels answers the existing child).
    private static ModelSeries SeriesOf(LoadedModel model) => model.MetricSeries ??= new ModelSeries(model.Name, model.VersionText);

    /// <summary>
    /// A loaded model's labelled prometheus-net children, bound once. They outlive the model (a counter that vanished
    /// and came back would read as a reset); a worker exports one set per model version it has served.
    /// </summary>
    internal sealed class ModelSeries(string model, string version)
    {
        public Prometheus.Counter.Child OkRequests { get; } = PromRequests.WithLabels(model, version, Ok);

        public Prometheus.Counter.Child InvalidRequests { get; } = PromRequests.WithLabels(model, version, Invalid);

        public Prometheus.Counter.Child ErrorRequests { get; } = PromRequests.WithLabels(model, version, Error);

        public Prometheus.Histogram.Child OkDuration { get; } = PromDuration.WithLabels(model, version, Ok);

        public Prometheus.Histogram.Child InvalidDuration { get; } = PromDuration.WithLabels(model, version, Invalid);

        public Prometheus.Histogram.Child ErrorDuration { get; } = PromDuration.WithLabels(model, version, Error);

        public Prometheus.Histogram.Child Queue { get; } = PromQueue.WithLabels(model, version);

        public Prometheus.Histogram.Child BatchSize { get; } = PromBatchSize.WithLabels(model, version);
    }
}
