namespace Mds.Backend.Pipelines;

/// <summary>
/// A pipeline spec as users write it (YAML or JSON; Seldon Core V2's field names). Either the flat form
/// (<c>name</c>, <c>steps</c>, <c>output</c>) or Seldon's resource form (<c>apiVersion</c>, <c>kind: Pipeline</c>,
/// <c>metadata.name</c>, <c>spec.steps</c>, <c>spec.output</c>) parses into this. <see cref="PipelineSpecParser"/>
/// reads it; <see cref="PipelineValidator"/> checks it and compiles it into a <see cref="PipelineGraph"/>.
/// </summary>
public sealed class PipelineSpec
{
    /// <summary>The pipeline's name (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>; not ending in <c>.pipeline</c>).</summary>
    public string Name { get; set; } = "";

    /// <summary>The steps; order does not matter (the DAG is built from references).</summary>
    public List<PipelineStepSpec> Steps { get; set; } = [];

    /// <summary>What the pipeline answers; absent: the outputs of the last step in the list.</summary>
    public PipelineOutputSpec? Output { get; set; }

    /// <summary>The whole run's time limit in ms (504 past it); absent: <c>Mds:Pipelines:DefaultTimeout</c>.</summary>
    public int? TimeoutMs { get; set; }

    /// <summary>Stream-enabled (issue M2-C); kept with the spec.</summary>
    public bool Streaming { get; set; }
}

/// <summary>One step: a call to a model.</summary>
public sealed class PipelineStepSpec
{
    /// <summary>The step's name, unique in the pipeline; not <c>pipeline</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary><c>name</c> or <c>name:version</c>; absent: the step's name.</summary>
    public string? Model { get; set; }

    /// <summary>
    /// References the step's data comes from: <c>step.outputs</c>, <c>step.outputs.tensor</c>, <c>pipeline.inputs</c>,
    /// <c>pipeline.inputs.tensor</c> (a bare <c>step</c> means <c>step.outputs</c>, as in Seldon). Absent or empty:
    /// <c>pipeline.inputs</c>.
    /// </summary>
    public List<string>? Inputs { get; set; }

    /// <summary>Reference (<c>step.outputs.tensor</c> or <c>pipeline.inputs.tensor</c>) → the model's input name.</summary>
    public Dictionary<string, string>? TensorMap { get; set; }

    /// <summary>inner (default), outer or any.</summary>
    public string? InputsJoinType { get; set; }

    /// <summary>References whose presence gates the step (their data is not sent).</summary>
    public List<string>? Triggers { get; set; }

    /// <summary>inner (default), outer or any, for <see cref="Triggers"/>.</summary>
    public string? TriggersJoinType { get; set; }

    /// <summary>A condition (see docs/pipelines.md's grammar); false: the step is skipped.</summary>
    public string? When { get; set; }

    /// <summary>Evaluate <see cref="When"/> per row (first dimension) and run the step on the selected rows only.</summary>
    public bool PerRow { get; set; }

    /// <summary>This step's time limit in ms (504 past it).</summary>
    public int? TimeoutMs { get; set; }

    /// <summary>Further attempts on a connection failure or a 503 (0..5; default 0).</summary>
    public int? Retries { get; set; }
}

/// <summary>The pipeline's answer.</summary>
public sealed class PipelineOutputSpec
{
    /// <summary>References (<c>step</c>, <c>step.outputs</c>, <c>step.outputs.tensor</c>).</summary>
    public List<string> Steps { get; set; } = [];

    /// <summary>inner (default), outer or any.</summary>
    public string? StepsJoin { get; set; }

    /// <summary>Reference (<c>step.outputs.tensor</c>) → the name the caller sees.</summary>
    public Dictionary<string, string>? TensorMap { get; set; }
}
