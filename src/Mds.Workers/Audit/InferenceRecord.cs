using Mds.Contracts.Inference;

namespace Mds.Workers.Audit;

/// <summary>
/// One inference as the worker saw it, queued for the audit table. Holds the decoded request and the response as they
/// are (they are not changed after the request): encoding them to JSON happens in the writer, off the request path.
/// <see cref="Experiment"/>: the experiment, candidate and mirror flag the gateway tagged the call with (null for a call
/// outside an experiment, or from any caller but the gateway).
/// </summary>
internal sealed record InferenceRecord(
    Guid Id,
    DateTimeOffset Time,
    string RequestId,
    string ModelName,
    int? Version,
    int Status,
    double LatencyMs,
    string? Caller,
    string? TraceId,
    string? Error,
    InferenceRequest? Request,
    InferenceResponse? Response,
    Mds.Contracts.Api.ExperimentTag? Experiment = null);
