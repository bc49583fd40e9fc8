using Mds.Contracts.Inference;

namespace Mds.Contracts.Api;

/// <summary>A pipeline, as <c>GET /api/pipelines/{name}</c> returns it: its versions and what each step waits for.</summary>
/// <param name="Id">The pipeline's database id.</param>
/// <param name="Name">The pipeline's name (called as <c>/v2/pipelines/{name}/infer</c> or <c>/v2/models/{name}.pipeline/infer</c>).</param>
/// <param name="LiveVersion">The version that answers calls now; null while none has gone live.</param>
/// <param name="LatestVersion">The newest version applied.</param>
/// <param name="State">Live (a version serves) or Pending (none serves yet: see <paramref name="Steps"/> and <paramref name="StateReason"/>).</param>
/// <param name="StateReason">Why it is not serving, or why the latest version waits, in one sentence.</param>
/// <param name="CreatedAt">When the first version was applied.</param>
/// <param name="Versions">Every version, newest first.</param>
/// <param name="Steps">The latest version's steps with their models' state.</param>
/// <param name="Inputs">The pipeline's inputs (derived from the steps that take <c>pipeline.inputs</c>), when their models are known.</param>
/// <param name="Outputs">The pipeline's outputs, when their models are known.</param>
public sealed record PipelineDto(
    long Id,
    string Name,
    int? LiveVersion,
    int LatestVersion,
    string State,
    string? StateReason,
    DateTimeOffset CreatedAt,
    IReadOnlyList<PipelineVersionDto> Versions,
    IReadOnlyList<PipelineStepStatusDto> Steps,
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs);

/// <summary>One version of a pipeline: the spec as applied (YAML or JSON text) and its canonical JSON.</summary>
/// <param name="Version">The version number (1, 2, …).</param>
/// <param name="State">Live, Pending (waits for its models), or Superseded.</param>
/// <param name="StateReason">Why it waits, or null.</param>
/// <param name="CreatedAt">When it was applied.</param>
/// <param name="CreatedBy">Who applied it.</param>
/// <param name="SpecText">The spec as submitted.</param>
/// <param name="SpecJson">The spec's canonical JSON.</param>
/// <param name="Steps">Its steps with their models' state.</param>
/// <param name="Graph">Its graph, for drawing.</param>
public sealed record PipelineVersionDto(
    int Version,
    string State,
    string? StateReason,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    string SpecText,
    string SpecJson,
    IReadOnlyList<PipelineStepStatusDto> Steps,
    PipelineGraphDto Graph);

/// <summary>A step of a pipeline version and whether its model can answer.</summary>
/// <param name="Name">Step name.</param>
/// <param name="Model">Model name.</param>
/// <param name="ModelVersion">The pinned model version, or null for the model's live version.</param>
/// <param name="Ready">True when the model (version) has a Ready replica.</param>
/// <param name="Waiting">What the step waits for when not ready ("model 'fraud' has no Ready replica"), else null.</param>
public sealed record PipelineStepStatusDto(string Name, string Model, int? ModelVersion, bool Ready, string? Waiting);

/// <summary>The graph of a pipeline version, for drawing: nodes are the pipeline's inputs, each step and the output; edges carry tensors.</summary>
public sealed record PipelineGraphDto(IReadOnlyList<PipelineGraphNodeDto> Nodes, IReadOnlyList<PipelineGraphEdgeDto> Edges);

/// <summary>A node of <see cref="PipelineGraphDto"/>.</summary>
/// <param name="Id">"pipeline.inputs", a step's name, or "pipeline.outputs".</param>
/// <param name="Kind">input, step or output.</param>
/// <param name="Model">The step's model (<c>name</c> or <c>name:version</c>); null for input and output.</param>
/// <param name="Condition">The step's <c>when</c>, if any.</param>
/// <param name="PerRow">True when the condition selects rows.</param>
/// <param name="JoinType">The step's <c>inputsJoinType</c> (or the output's <c>stepsJoin</c>).</param>
/// <param name="Layer">Depth in the DAG (0 for the inputs), for a left-to-right layout.</param>
public sealed record PipelineGraphNodeDto(string Id, string Kind, string? Model, string? Condition, bool PerRow, string JoinType, int Layer);

/// <summary>An edge of <see cref="PipelineGraphDto"/>: <paramref name="Tensor"/> (null: all of the source's tensors) flows from one node to another.</summary>
/// <param name="From">The source node's id.</param>
/// <param name="To">The target node's id.</param>
/// <param name="Tensor">The tensor that flows; null: all of the source's tensors.</param>
/// <param name="MappedTo">The name the target sees it under (tensorMap), if renamed.</param>
/// <param name="Kind">data (feeds the step), trigger (gates it) or condition (read by its <c>when</c>).</param>
public sealed record PipelineGraphEdgeDto(string From, string To, string? Tensor, string? MappedTo, string Kind);

/// <summary>The answer to <c>POST /api/pipelines</c>: the version that the spec is now, and whether it was new.</summary>
/// <param name="Created">False when the same spec was applied again (no new version).</param>
/// <param name="Name">The pipeline's name.</param>
/// <param name="Version">The version the spec is now.</param>
/// <param name="State">The version's state.</param>
/// <param name="StateReason">Why it is not live, or null.</param>
public sealed record PipelineApplyResult(string Name, int Version, bool Created, string State, string? StateReason);

/// <summary>A validation failure of a pipeline spec: <c>400</c> with each problem, the first also as <c>error</c>/detail.</summary>
/// <param name="Error">The first problem, in one sentence.</param>
/// <param name="Problems">Every problem found, each with the place in the spec it concerns.</param>
public sealed record PipelineSpecErrorDto(string Error, IReadOnlyList<PipelineSpecProblemDto> Problems);

/// <summary>One problem of a spec.</summary>
/// <param name="Path">Where, as a path into the spec (<c>steps[1].inputs[0]</c>, <c>output.steps[0]</c>, <c>steps[2].when</c>).</param>
/// <param name="Message">What is wrong.</param>
/// <param name="Line">The 1-based line in the submitted text, when known.</param>
public sealed record PipelineSpecProblemDto(string Path, string Message, int? Line = null);

/// <summary>A run of a pipeline (<c>GET /api/pipelines/{name}/runs</c> lists these without step tensors).</summary>
/// <param name="Id">The run's id.</param>
/// <param name="Time">When it started.</param>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Version">The pipeline version that ran.</param>
/// <param name="RequestId">The run's request id.</param>
/// <param name="Caller">Who called, when known.</param>
/// <param name="Status">The HTTP status the caller got.</param>
/// <param name="LatencyMs">The whole run's latency.</param>
/// <param name="Error">The error the caller got, if any.</param>
/// <param name="Steps">Each step: ran, skipped or failed, with latency and (in the single-run view) its tensors.</param>
/// <param name="Request">The V2 request, as JSON (single-run view only).</param>
/// <param name="Response">The V2 response, as JSON (single-run view only).</param>
public sealed record PipelineRunDto(
    Guid Id,
    DateTimeOffset Time,
    string Pipeline,
    int Version,
    string RequestId,
    string? Caller,
    int Status,
    double LatencyMs,
    string? Error,
    IReadOnlyList<PipelineRunStepDto> Steps,
    string? Request = null,
    string? Response = null);

/// <summary>One step of a run.</summary>
/// <param name="Name">The step's name.</param>
/// <param name="Model">The step's model.</param>
/// <param name="ModelVersion">The model version that answered, when known.</param>
/// <param name="State">ran, skipped or failed.</param>
/// <param name="Why">Why it was skipped (condition false, inputs absent) or why it failed.</param>
/// <param name="StartedMs">When the step started, in ms after the run started.</param>
/// <param name="LatencyMs">The step's latency.</param>
/// <param name="RequestId">The request id of the step's inference record (<c>{run request id}.{step}</c>).</param>
/// <param name="Rows">With <c>perRow</c>: the rows (of the pipeline's input) this step ran on.</param>
/// <param name="Inputs">The V2 inputs the step sent, as JSON (single-run view only).</param>
/// <param name="Outputs">The V2 outputs it got, as JSON (single-run view only).</param>
public sealed record PipelineRunStepDto(
    string Name,
    string Model,
    int? ModelVersion,
    string State,
    string? Why,
    double? StartedMs,
    double? LatencyMs,
    string? RequestId,
    IReadOnlyList<int>? Rows,
    string? Inputs = null,
    string? Outputs = null);

/// <summary>Pipeline and run states as the API spells them.</summary>
public static class PipelineStates
{
    /// <summary>A version answers calls.</summary>
    public const string Live = "Live";
    /// <summary>Waiting for its steps' models to have Ready replicas.</summary>
    public const string Pending = "Pending";
    /// <summary>A newer version went live.</summary>
    public const string Superseded = "Superseded";
}

/// <summary>What happened to a step in a run.</summary>
public static class PipelineStepStates
{
    /// <summary>The step's model answered.</summary>
    public const string Ran = "ran";
    /// <summary>The step did not run: its condition was false, or its inputs or triggers were absent.</summary>
    public const string Skipped = "skipped";
    /// <summary>The step's call failed (its error fails the run).</summary>
    public const string Failed = "failed";
    /// <summary>The run ended before the step could start.</summary>
    public const string NotRun = "not run";
}
