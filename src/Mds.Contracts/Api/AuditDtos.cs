using System.Text.Json;

namespace Mds.Contracts.Api;

/// <summary>One inference record in a list: <c>GET /api/records</c>.</summary>
/// <param name="Id">The record's id (use it with <c>GET /api/records/{id}</c>).</param>
/// <param name="Time">When the worker received the request.</param>
/// <param name="RequestId">The inference request id (the gateway's <c>X-Request-Id</c>, else the V2 <c>id</c>).</param>
/// <param name="ModelName">The model.</param>
/// <param name="Version">The version that answered.</param>
/// <param name="Worker">The worker that answered.</param>
/// <param name="Status">HTTP status the worker answered.</param>
/// <param name="LatencyMs">Time from the body being read to the answer, in milliseconds.</param>
/// <param name="Caller">Who called: the signed-in user or key owner through the gateway; the client's address for direct calls.</param>
/// <param name="TraceId">The W3C trace id, to find the request's trace.</param>
/// <param name="Error">The error, for a failed request.</param>
/// <param name="OutlierScore">Outlier score against the version's reference dataset, when scored.</param>
/// <param name="IsOutlier">Whether the score is past the version's threshold.</param>
/// <param name="Experiment">The experiment the gateway routed the call for; null outside experiments.</param>
/// <param name="Candidate">The experiment's candidate (name, or <c>name@version</c>) the call went to, or the mirror's.</param>
/// <param name="Mirror">Whether the call was the experiment mirror's shadow copy (its answer was recorded, not returned).</param>
public sealed record InferenceRecordSummaryDto(
    Guid Id, DateTimeOffset Time, string RequestId, string ModelName, int? Version, string Worker, int Status, double LatencyMs,
    string? Caller, string? TraceId, string? Error, double? OutlierScore, bool? IsOutlier,
    string? Experiment = null, string? Candidate = null, bool Mirror = false);

/// <summary>One inference record with its tensors and the feedback given on it: <c>GET /api/records/{id}</c>.</summary>
/// <param name="Record">The record.</param>
/// <param name="Request">The V2 request as sent (or, for a body over the size limit, its tensors' names, types and shapes with <c>truncated: true</c>).</param>
/// <param name="Response">The V2 response (likewise); absent for a failed request.</param>
/// <param name="Feedback">Feedback analysts gave on this request id.</param>
public sealed record InferenceRecordDto(InferenceRecordSummaryDto Record, JsonElement? Request, JsonElement? Response, IReadOnlyList<FeedbackDto> Feedback);

/// <summary>A page of records, newest first.</summary>
/// <param name="Records">The records.</param>
/// <param name="Skip">How many newer records were skipped.</param>
/// <param name="HasMore">Whether older records match too.</param>
/// <param name="NextCursor">
/// When <paramref name="HasMore"/>: pass it as <c>before</c> for the next (older) page, with the same filters. Paging by
/// cursor costs the same at any depth; <c>skip</c> is capped.
/// </param>
public sealed record InferenceRecordPageDto(IReadOnlyList<InferenceRecordSummaryDto> Records, int Skip, bool HasMore, string? NextCursor = null);
