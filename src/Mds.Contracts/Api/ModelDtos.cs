using Mds.Contracts.Inference;

namespace Mds.Contracts.Api;

/// <summary>A model with its versions, as <c>GET /api/models/{name}</c> returns it.</summary>
public sealed record ModelDto(
    long Id,
    string Name,
    string? Description,
    int? LiveVersion,
    DateTimeOffset CreatedAt,
    IReadOnlyList<ModelVersionDto> Versions,
    IReadOnlyList<string>? Tags = null);

/// <summary><c>PUT /api/models/{name}/tags</c>: the model's tags, replacing the ones it has.</summary>
/// <param name="Tags">Lower-case words (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>, <c>:</c>; at most 32 characters, 20 tags).</param>
public sealed record TagsRequest(IReadOnlyList<string> Tags);

/// <summary>
/// One version of a model. <c>FeatureLabels</c> are the names every page and client shows for a tabular version's
/// features, from one source (<c>FeatureLabelsFrom</c>): the model's ONNX metadata (<c>model</c>), else its reference
/// dataset's header (<c>dataset</c>), else positions, <c>feature 0</c>… (<c>positions</c>); null when the inputs are
/// not tabular. <c>FeatureNames</c> stays what the ONNX metadata says (CSV columns are matched by it).
/// </summary>
public sealed record ModelVersionDto(
    long Id,
    string ModelName,
    int Version,
    string Sha256,
    long SizeBytes,
    string? Description,
    IReadOnlyList<string> Requirements,
    int? MemoryMb,
    int Replicas,
    string State,
    string? StateReason,
    bool IsLive,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs,
    IReadOnlyList<ReplicaDto> ReplicaStates,
    int? MinReplicas = null,
    int? MaxReplicas = null,
    IReadOnlyList<string>? FeatureNames = null,
    IReadOnlyList<string>? Classes = null,
    BatchingDto? Batching = null,
    ModelFileInfo? File = null,
    ImagePreprocessingDto? ImagePreprocessing = null,
    int? TargetLatencyMs = null,
    IReadOnlyList<string>? FeatureLabels = null,
    string? FeatureLabelsFrom = null);

/// <summary>
/// A version's adaptive batching (<c>PUT /api/models/{name}/versions/{v}/batching</c>; null or <c>enabled: false</c>
/// turns it off): workers gather concurrent requests into one ONNX Runtime call of up to <paramref name="MaxBatchSize"/>
/// rows, waiting at most <paramref name="MaxLatencyMicroseconds"/> for them. Only models whose inputs and outputs all
/// have a free first dimension can batch.
/// </summary>
/// <param name="Enabled">False turns batching off (the other fields are then ignored).</param>
/// <param name="MaxBatchSize">Most rows per call, 2..4096.</param>
/// <param name="MaxLatencyMicroseconds">Longest wait for a batch to fill, 0..1,000,000 µs.</param>
public sealed record BatchingDto(bool Enabled, int MaxBatchSize, int MaxLatencyMicroseconds);

/// <summary><c>PUT /api/models/{name}/versions/{v}/replicas</c>: desired replicas, and optional autoscaling bounds.</summary>
/// <param name="Replicas">Desired replicas now (1..N).</param>
/// <param name="MinReplicas">With <paramref name="MaxReplicas"/>: autoscale between these; both absent turns autoscaling off.</param>
/// <param name="MaxReplicas">Upper autoscaling bound.</param>
/// <param name="TargetLatencyMs">
/// Autoscaling: a p95 latency through the gateway above this many milliseconds adds replicas too (1..600,000); absent:
/// the autoscaler looks at concurrency only.
/// </param>
public sealed record ScaleRequest(int Replicas, int? MinReplicas = null, int? MaxReplicas = null, int? TargetLatencyMs = null);

/// <summary>
/// A change of a version's desired replicas (<c>GET /api/models/{name}/versions/{v}/scaling-events</c>, newest first):
/// by the autoscaler, with its reason, or by a user.
/// </summary>
/// <param name="At">When.</param>
/// <param name="FromReplicas">Desired replicas before.</param>
/// <param name="ToReplicas">Desired replicas after.</param>
/// <param name="Reason">Why: "outstanding 14.2 per replica > 4 for 10 s → 2 replicas", or what the user set.</param>
/// <param name="By"><c>autoscaler</c>, or the user's e-mail.</param>
public sealed record ScalingEventDto(DateTimeOffset At, int FromReplicas, int ToReplicas, string Reason, string By);

/// <summary>A replica: one model version placed on one worker.</summary>
public sealed record ReplicaDto(
    long Id,
    long WorkerId,
    string WorkerName,
    string State,
    string? Error,
    DateTimeOffset UpdatedAt);

/// <summary>Version states as shown to people: derived from the replicas.</summary>
public static class VersionStates
{
    /// <summary>No replica placed yet (or none can be: see the reason).</summary>
    public const string Pending = "Pending";
    /// <summary>Replicas are being loaded.</summary>
    public const string Loading = "Loading";
    /// <summary>At least one replica is Ready.</summary>
    public const string Ready = "Ready";
    /// <summary>Every replica failed.</summary>
    public const string Failed = "Failed";
}

/// <summary>
/// What a model file says about itself, as its exporter wrote it (ONNX <c>producer_name</c>, <c>producer_version</c>,
/// <c>doc_string</c>, <c>metadata_props</c> and the doc strings of its inputs and outputs).
/// </summary>
/// <param name="Producer">The exporting tool, e.g. <c>skl2onnx</c>.</param>
/// <param name="ProducerVersion">The exporting tool's version.</param>
/// <param name="Description">The model's doc string.</param>
/// <param name="GraphName">The main graph's name.</param>
/// <param name="Metadata">The model's metadata properties (key → value).</param>
/// <param name="DocStrings">Doc strings of inputs and outputs, by tensor name.</param>
public sealed record ModelFileInfo(
    string? Producer,
    string? ProducerVersion,
    string? Description,
    string? GraphName,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyDictionary<string, string> DocStrings);
