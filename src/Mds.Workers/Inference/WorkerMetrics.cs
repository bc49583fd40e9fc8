using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mds.Workers.Inference;

/// <summary>
/// The worker's inference instruments, exported at <c>/metrics</c> by the service defaults (names, types and labels:
/// docs/operations.md, "Metrics"): <c>mds_inference_requests_total</c> and <c>mds_inference_duration_seconds</c>
/// (model, version, status), <c>mds_inference_batch_size</c> and <c>mds_inference_queue_seconds</c> (model, version),
/// <c>mds_models_loaded</c>, <c>mds_worker_working_set_bytes</c> and <c>mds_worker_managed_heap_bytes</c>.
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

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _queue;

    public WorkerMetrics(IMeterFactory meterFactory, SessionRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(registry);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("inference_requests_total", description: "Inference requests by model, version and status.");
        _duration = meter.CreateHistogram<double>("inference_duration_seconds", unit: "s",
            description: "Inference request duration in seconds (decode excluded, except for requests whose body could not be decoded).");
        _batchSize = meter.CreateHistogram("inference_batch_size", unit: "{row}",
            description: "Rows per successful inference request (the first dimension of its first input).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchSizeBuckets });
        _queue = meter.CreateHistogram("inference_queue_seconds", unit: "s",
            description: "Time from a request's body being decoded to its run starting on the model's session.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = QueueBuckets });
        meter.CreateObservableGauge("models_loaded", () => registry.Count, description: "Replicas loaded on this worker.");
        meter.CreateObservableGauge("worker_working_set_bytes", () => Environment.WorkingSet, unit: "By",
            description: "Physical memory of the worker process (ONNX Runtime's native allocations included).");
        meter.CreateObservableGauge("worker_managed_heap_bytes", () => GC.GetTotalMemory(forceFullCollection: false), unit: "By",
            description: "Bytes allocated on the managed heap.");
    }

    /// <summary>Counts one request and its duration since <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public void RecordRequest(string? model, string? version, string status, long startTimestamp)
    {
        var tags = new TagList
        {
            { "model", model ?? UnknownModel },
            { "version", version ?? "" },
            { "status", status },
        };
        _requests.Add(1, tags);
        _duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    /// <summary>Records the wait of a request whose body was decoded at <paramref name="decodedTimestamp"/> and whose run starts now.</summary>
    public void RecordQueued(LoadedModel model, long decodedTimestamp)
    {
        _queue.Record(Stopwatch.GetElapsedTime(decodedTimestamp).TotalSeconds, new TagList { { "model", model.Name }, { "version", model.VersionText } });
    }

    /// <summary>Records the rows of a request that ran successfully on <paramref name="model"/>.</summary>
    public void RecordBatch(LoadedModel model, long rows)
    {
        _batchSize.Record(rows, new TagList { { "model", model.Name }, { "version", model.VersionText } });
    }
}
