using Mds.Backend.Audit;
using Mds.Backend.Datasets;
using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Batches;

/// <summary>
/// What a batch's rows go to: the one thing that differs between a model batch and a pipeline batch. The
/// <see cref="BatchScorer"/> reads the file, builds each chunk's tabular request, waits for replicas and writes the
/// results; a target only says what input the rows become and turns one chunk's request into its outputs.
/// </summary>
public abstract class BatchTarget
{
    /// <summary>"model" or "pipeline", for messages.</summary>
    public abstract string Kind { get; }

    /// <summary>The inputs the rows become (see <see cref="TabularLayout"/>).</summary>
    public abstract IReadOnlyList<TensorMetadata> Inputs { get; }

    /// <summary>The features' names, when the target names them (the file's columns are then picked by name).</summary>
    public virtual IReadOnlyList<string>? FeatureNames => null;

    /// <summary>Class labels, for naming the columns of an output with one value per class.</summary>
    public virtual IReadOnlyList<string>? Classes => null;

    /// <summary>The outputs a chunk's response holds, as the target describes them.</summary>
    public virtual IReadOnlyList<TensorMetadata> Outputs => [];

    /// <summary>The classifier outputs among <see cref="Outputs"/> (label and probabilities), or null when the target is no classifier.</summary>
    public ClassifierOutputs? Classifier => ClassifierOutputs.Of(Outputs, Classes);

    /// <summary>An image model's input and preprocessing: the batch's file is then a zip of images, one row each.</summary>
    public (ImageInput Input, ImagePreprocessingDto Settings)? Image { get; private init; }

    /// <summary>The columns a row has, for a file with <paramref name="header"/>; null when the target is not tabular.</summary>
    public TabularLayout? LayoutFor(IReadOnlyList<string> header, string? labelColumn) => TabularCsv.LayoutOf(Inputs, FeatureNames, header, labelColumn);

    /// <summary>Scores one chunk of rows.</summary>
    /// <exception cref="ReplicaUnavailableException">Nothing can answer now (the scorer may wait and try again).</exception>
    /// <exception cref="InferenceRejectedException">The rows were refused (a 4xx).</exception>
    /// <exception cref="BatchFailedException">The target cannot score rows any more; the message says why.</exception>
    public abstract Task<InferenceResponse> InferAsync(InferenceRequest request, CancellationToken ct);

    /// <summary>The batch's target: its model version (loaded with the batch), or its pipeline's live version.</summary>
    /// <exception cref="BatchFailedException">The target is gone, not tabular, or (a pipeline) has another live version now.</exception>
    public static async Task<BatchTarget> OfAsync(Batch batch, ReplicaCaller replicas, PipelineRunner pipelines, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(replicas);
        ArgumentNullException.ThrowIfNull(pipelines);
        string caller = RecordOwnership.BatchCaller(batch.Id, batch.CreatedBy);
        if (batch.ModelVersion is { } version)
        {
            var inputs = RegistryMapping.Schema(version.InputsJson);
            if (ImageInput.Of(inputs) is { } image)
            {
                var settings = RegistryMapping.ImagePreprocessingOf(version)
                    ?? throw new BatchFailedException("the image model has no preprocessing settings (PUT …/preprocessing sets them)");
                return new ModelTarget(batch.ModelName, version, inputs, replicas, caller) { Image = (image, settings) };
            }

            if (!TabularCsv.IsTabular(version))
            {
                throw new BatchFailedException("the model is not tabular: " + TabularCsv.Rule);
            }

            return new ModelTarget(batch.ModelName, version, inputs, replicas, caller);
        }

        string name = batch.PipelineName ?? throw new BatchFailedException("the batch names neither a model version nor a pipeline");
        var route = await pipelines.FindAsync(name, ct) ?? throw new BatchFailedException($"pipeline '{name}' no longer exists");
        if (route.Graph is null || route.LiveVersion is not int live)
        {
            throw new BatchFailedException($"pipeline '{name}' is not live: {route.Reason}");
        }

        if (live != batch.Version)
        {
            throw new BatchFailedException($"pipeline '{name}' version {batch.Version} is no longer live (version {live} is); upload the file again");
        }

        if (TabularCsv.LayoutOf(route.Inputs, null) is null && TabularCsv.InputOf(route.Inputs) is null)
        {
            throw new BatchFailedException($"pipeline '{name}' version {live} is not tabular: its inputs are not {TabularCsv.Rule}");
        }

        return new PipelineTarget(name, live, route.Inputs, route.Outputs, pipelines, caller);
    }

    /// <summary>A model version: each chunk is one V2 request to a Ready replica, through the gateway's replica-call policy.</summary>
    private sealed class ModelTarget(string model, ModelVersion version, IReadOnlyList<TensorMetadata> inputs, ReplicaCaller replicas, string caller) : BatchTarget
    {
        public override string Kind => "model";

        public override IReadOnlyList<TensorMetadata> Inputs => inputs;

        public override IReadOnlyList<string>? FeatureNames => version.FeatureNames;

        public override IReadOnlyList<string>? Classes => version.Classes;

        public override IReadOnlyList<TensorMetadata> Outputs { get; } = RegistryMapping.Schema(version.OutputsJson);

        public override async Task<InferenceResponse> InferAsync(InferenceRequest request, CancellationToken ct)
        {
            var options = new ReplicaCallOptions(caller, request.Id ?? Guid.CreateVersion7().ToString("N"));
            return (await replicas.InferAsync(model, version.Version, request, options, ct)).Response;
        }
    }

    /// <summary>A pipeline: each chunk is one ordinary run of its live version, with its run record (request id = the chunk's).</summary>
    private sealed class PipelineTarget(
        string pipeline, int version, IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<TensorMetadata> outputs, PipelineRunner runner, string caller) : BatchTarget
    {
        public override string Kind => "pipeline";

        public override IReadOnlyList<TensorMetadata> Inputs => inputs;

        public override IReadOnlyList<TensorMetadata> Outputs => outputs;

        public override async Task<InferenceResponse> InferAsync(InferenceRequest request, CancellationToken ct)
        {
            var run = await runner.RunAsync(pipeline, request, request.Id ?? Guid.CreateVersion7().ToString("N"), caller, ct);
            if (run.Response is { } response)
            {
                return run.Version == version
                    ? response
                    : throw new BatchFailedException($"pipeline '{pipeline}' changed from version {version} to {run.Version} while the batch was scored; upload the file again");
            }

            string error = run.Error ?? "the pipeline failed";
            throw run.Status switch
            {
                StatusCodes.Status404NotFound => new BatchFailedException($"pipeline '{pipeline}' no longer exists"),
                StatusCodes.Status503ServiceUnavailable => new ReplicaUnavailableException(error),
                >= 400 and < 500 => new InferenceRejectedException(run.Status, error),
                _ => new BatchFailedException($"pipeline '{pipeline}' failed ({run.Status}): {error}"),
            };
        }
    }
}
