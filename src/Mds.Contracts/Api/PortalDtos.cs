using Mds.Contracts.Inference;

namespace Mds.Contracts.Api;

/// <summary><c>POST /api/feedback</c>: an analyst's verdict on one prediction.</summary>
/// <param name="ModelName">The model that answered.</param>
/// <param name="Version">The version that answered, when known (the response's <c>model_version</c>).</param>
/// <param name="RequestId">The inference request id (the V2 <c>id</c>, or the gateway's <c>X-Request-Id</c>).</param>
/// <param name="Correct">Whether the prediction was right.</param>
/// <param name="Predicted">What the model said (label or value), as text, for the record.</param>
/// <param name="TrueLabel">The right class, for classifiers.</param>
/// <param name="TrueValue">The right value, for regressors.</param>
/// <param name="Comment">Free text.</param>
public sealed record CreateFeedbackRequest(
    string ModelName, int? Version, string RequestId, bool Correct,
    string? Predicted = null, string? TrueLabel = null, double? TrueValue = null, string? Comment = null);

/// <summary>Stored feedback.</summary>
public sealed record FeedbackDto(
    long Id, string ModelName, int? Version, string RequestId, bool Correct, string? Predicted, string? TrueLabel,
    double? TrueValue, string? Comment, string Analyst, DateTimeOffset CreatedAt);

/// <summary>Accuracy from feedback in one time bucket: <c>GET /api/models/{name}/feedback/accuracy</c>.</summary>
public sealed record AccuracyPointDto(DateTimeOffset BucketStart, int Total, int Correct, double Accuracy);

/// <summary>A version's reference dataset (CSV), used later for drift, outliers and explanations.</summary>
/// <param name="ModelName">The model.</param>
/// <param name="Version">The version.</param>
/// <param name="FileName">The uploaded file's name.</param>
/// <param name="SizeBytes">The file's size.</param>
/// <param name="Rows">Data rows.</param>
/// <param name="Columns">The header's columns.</param>
/// <param name="LabelColumn">The label column, if any.</param>
/// <param name="UploadedAt">When it was uploaded.</param>
/// <param name="UploadedBy">Who uploaded it.</param>
/// <param name="TextValues">
/// For a model with text (string) columns: each text column's values as seen in the dataset, most frequent first, at
/// most 50 a column (the Try form offers them); null when the model has none or the file cannot be read.
/// </param>
public sealed record DatasetDto(
    string ModelName, int Version, string FileName, long SizeBytes, int Rows, IReadOnlyList<string> Columns,
    string? LabelColumn, DateTimeOffset UploadedAt, string? UploadedBy,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? TextValues = null);

/// <summary>The first rows of a dataset.</summary>
public sealed record DatasetPreviewDto(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, int TotalRows);

/// <summary>
/// <c>POST /api/models/inspect</c>: what an ONNX file would be registered as, without registering it. When
/// <c>StagedUntil</c> is set, the backend keeps the inspected upload until then, for the caller only: <c>POST /api/models</c>
/// with a <c>sha256</c> field equal to <c>Sha256</c> (and no file) registers it without sending it again.
/// </summary>
public sealed record ModelInspection(
    string Sha256, long SizeBytes, IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs,
    IReadOnlyList<string>? FeatureNames, IReadOnlyList<string>? Classes, DateTimeOffset? StagedUntil = null);

/// <summary>Gateway traffic of one model in one minute: <c>GET /api/stats/traffic?minutes=60</c>.</summary>
public sealed record TrafficPointDto(DateTimeOffset Minute, string Model, int Requests, int Errors, double P50Ms, double P95Ms, double P99Ms);

/// <summary>A recent failure: a failed inference through the gateway or a replica that failed to load.</summary>
public sealed record FailureDto(DateTimeOffset At, string Model, string? Version, string Kind, int? Status, string Reason);

/// <summary><c>PUT /api/users/{id}/roles</c>.</summary>
public sealed record UpdateUserRolesRequest(IReadOnlyList<string> Roles);

/// <summary>A batch prediction job over a CSV: <c>POST /api/models/{name}/batch</c>.</summary>
public sealed record BatchJobDto(
    string Id, string ModelName, int? Version, string State, int TotalRows, int DoneRows, string? Error,
    DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

/// <summary>Header names the gateway uses.</summary>
public static class MdsHeaders
{
    /// <summary>The inference request id: taken from the caller when sent, else generated; echoed on the response.</summary>
    public const string RequestId = "X-Request-Id";

    /// <summary>
    /// Set by a worker on the 404 it answers when the model (version) is not loaded there. Through the gateway that
    /// means the routing table was a moment behind an unload: the gateway tries another replica instead of passing it on.
    /// </summary>
    public const string NotLoaded = "Mds-Not-Loaded";

    /// <summary>
    /// Set by the gateway on requests it forwards to a worker: who called (the signed-in user or API key's owner), for
    /// the worker's inference records. Workers take it on trust (they are not public endpoints for identity); a record
    /// of a direct call to a worker names the client's address instead.
    /// </summary>
    public const string Caller = "Mds-Caller";

    /// <summary>
    /// On every answer routed by an experiment: <c>experiment:candidate</c>. A caller that sends it back is routed to the
    /// same candidate while the experiment lasts (sticky sessions).
    /// </summary>
    public const string Route = "Mds-Route";

    /// <summary>Sent by a caller (a user id, a session): the experiment assigns the candidate by a stable hash of it, storing nothing.</summary>
    public const string RouteKey = "Mds-Route-Key";

    /// <summary>
    /// Set by the gateway on a call it sends to a worker for an experiment: <c>experiment:candidate</c>, followed by
    /// <c>;mirror</c> for a shadow copy. The worker writes it into the inference record, and honours it only on a call
    /// authenticated with the gateway's internal token (a user's own credential cannot tag records).
    /// </summary>
    public const string Experiment = "Mds-Experiment";
}
