using System.Text.Json.Serialization;

namespace Mds.Contracts.Inference;

/// <summary>A count and the total time it took, in nanoseconds (the statistics extension's <c>StatisticDuration</c>).</summary>
public sealed record StatisticDuration([property: JsonPropertyName("count")] long Count, [property: JsonPropertyName("ns")] long Ns);

/// <summary>Where a model version's time went (the statistics extension's <c>InferStatistics</c>).</summary>
/// <param name="Success">Successful requests, end to end on the worker (decode excluded).</param>
/// <param name="Fail">Requests that reached the model and failed.</param>
/// <param name="Queue">Waiting between decode and run.</param>
/// <param name="ComputeInput">Preparing the inputs (included in compute_infer here: ONNX Runtime binds and runs in one call).</param>
/// <param name="ComputeInfer">Running the model, inputs bound and outputs read included.</param>
/// <param name="ComputeOutput">Reading the outputs (included in compute_infer here).</param>
public sealed record InferStatistics(
    [property: JsonPropertyName("success")] StatisticDuration Success,
    [property: JsonPropertyName("fail")] StatisticDuration Fail,
    [property: JsonPropertyName("queue")] StatisticDuration Queue,
    [property: JsonPropertyName("compute_input")] StatisticDuration ComputeInput,
    [property: JsonPropertyName("compute_infer")] StatisticDuration ComputeInfer,
    [property: JsonPropertyName("compute_output")] StatisticDuration ComputeOutput);

/// <summary>One loaded model version's statistics, as Triton's statistics extension reports them.</summary>
/// <param name="Name">The model.</param>
/// <param name="Version">The version, as text.</param>
/// <param name="LastInference">When it last answered, in milliseconds since the Unix epoch (0: never).</param>
/// <param name="InferenceCount">Rows inferred (the first dimension of the first input, summed), successful requests only.</param>
/// <param name="ExecutionCount">ONNX Runtime runs: one per request, or one per batch of requests with adaptive batching.</param>
/// <param name="InferenceStats">Where the time went.</param>
public sealed record ModelStatistics(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("last_inference")] long LastInference,
    [property: JsonPropertyName("inference_count")] long InferenceCount,
    [property: JsonPropertyName("execution_count")] long ExecutionCount,
    [property: JsonPropertyName("inference_stats")] InferStatistics InferenceStats);

/// <summary>The answer of <c>GET /v2/models/stats</c> and <c>GET /v2/models/{name}[/versions/{v}]/stats</c>.</summary>
/// <param name="ModelStats">One entry per loaded model version.</param>
public sealed record ModelStatisticsResponse([property: JsonPropertyName("model_stats")] IReadOnlyList<ModelStatistics> ModelStats);

/// <summary>
/// A loaded model version's configuration as a worker runs it (<c>GET /v2/models/{name}[/versions/{v}]/config</c>),
/// named as in Triton's model configuration so Triton tooling reads it.
/// </summary>
/// <param name="Name">The model.</param>
/// <param name="Platform">Always <c>onnxruntime_onnx</c>.</param>
/// <param name="MaxBatchSize">Most rows one run gathers; 0 when requests are not batched.</param>
/// <param name="DynamicBatching">Present when requests are batched.</param>
/// <param name="NotBatchable">Why this model cannot batch requests (no free first dimension), or null when it can.</param>
public sealed record ModelConfig(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("platform")] string Platform,
    [property: JsonPropertyName("max_batch_size")] int MaxBatchSize,
    [property: JsonPropertyName("dynamic_batching")] DynamicBatchingConfig? DynamicBatching,
    [property: JsonPropertyName("not_batchable")] string? NotBatchable);

/// <summary>Triton's <c>dynamic_batching</c> section: how long a request may wait for others.</summary>
/// <param name="MaxQueueDelayMicroseconds">The longest wait, in microseconds.</param>
public sealed record DynamicBatchingConfig([property: JsonPropertyName("max_queue_delay_microseconds")] int MaxQueueDelayMicroseconds);
