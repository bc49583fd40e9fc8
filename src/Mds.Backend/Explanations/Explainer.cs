using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Mds.Analytics.Explanations;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Gateway;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Explanations;

/// <summary><c>Mds:Explanations</c>: the cost of an explanation.</summary>
public sealed class ExplanationOptions
{
    /// <summary>Reference rows standing for "feature unknown" (spread evenly through the dataset).</summary>
    [Range(1, 1000)]
    public int BackgroundRows { get; set; } = 50;

    /// <summary>The most rows sent to the model in one inference request.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchRows { get; set; } = 4096;

    /// <summary>The coalition budget; by default KernelSHAP's 2M + 2048 for M features.</summary>
    [Range(1, 1_000_000)]
    public int? Samples { get; set; }

    /// <summary>How long one explanation may take before it is abandoned.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Explanations run at once by this backend; more wait in the queue below, then get 429 with <c>Retry-After</c>.</summary>
    [Range(1, 1000)]
    public int MaxConcurrent { get; set; } = 4;

    /// <summary>Explanations that may wait for a slot before the rest are refused with 429.</summary>
    [Range(0, 10_000)]
    public int MaxQueued { get; set; } = 8;
}

/// <summary>An explanation could not be made; the message says why, for the caller.</summary>
public sealed class ExplanationException(string message, int status) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// KernelSHAP explanations of a tabular model's predictions: the model is called on a ready replica (through
/// <see cref="ReplicaCaller"/>) on feature coalitions of the instance and a background sample of the version's
/// reference dataset, many coalitions per request. Explains the predicted class's score for a classifier (an output
/// with several values a row), the output itself for a regressor. Coalitions are drawn from a fixed seed, so the same
/// row gets the same explanation.
/// </summary>
public sealed class Explainer(MdsDbContext db, ReferenceSamples samples, ReplicaCaller replicas, IOptions<ExplanationOptions> options, TimeProvider clock)
{
    /// <summary>The inference records of the explainer's own calls name their caller with this prefix (drift and outliers skip them).</summary>
    public const string CallerPrefix = "[explainer]";

    /// <summary>Whether a record's caller is the explainer.</summary>
    public static bool IsExplainerCall(string? caller) => caller is not null && caller.StartsWith(CallerPrefix, StringComparison.Ordinal);

    /// <summary>Explains the model's output for a row of numbers (a model without text columns).</summary>
    /// <exception cref="ExplanationException">As <see cref="ExplainAsync(ModelVersion, IReadOnlyList{string}, Guid?, int, string?, CancellationToken)"/>.</exception>
    public Task<ExplanationDto> ExplainAsync(ModelVersion version, double[] instance, Guid? recordId, int row, string? user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (instance.Any(v => !double.IsFinite(v)))
        {
            throw new ExplanationException("The row must hold finite numbers.", StatusCodes.Status400BadRequest);
        }

        return ExplainAsync(version, [.. instance.Select(v => v.ToString("R", CultureInfo.InvariantCulture))], recordId, row, user, ct);
    }

    /// <summary>
    /// Explains the model's output for <paramref name="cells"/> (a cell a column, text allowed). Every column is a
    /// player, text ones included: a coalition replaces a column's value by a background row's, coded by the column's
    /// vocabulary and decoded to text when the request tensors are built.
    /// </summary>
    /// <exception cref="ExplanationException">No usable dataset (400), a bad row (400), the model refused it (400), no replica (503), too slow (504).</exception>
    public async Task<ExplanationDto> ExplainAsync(ModelVersion version, IReadOnlyList<string> cells, Guid? recordId, int row, string? user, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(cells);
        var (sample, error) = await samples.GetAsync(db, version, ct);
        if (sample is null)
        {
            throw new ExplanationException(Sentence(error!), StatusCodes.Status400BadRequest);
        }

        var codec = sample.NewCodec();
        if (codec.Encode(cells) is not { } instance)
        {
            throw new ExplanationException(
                $"The row must hold {sample.Features.Count} cells, one per column ({string.Join(", ", sample.Features)}), numbers in the numeric columns.",
                StatusCodes.Status400BadRequest);
        }

        var o = options.Value;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Timeout);
        string model = version.Model.Name;
        string caller = CallerPrefix + " " + (user ?? "anonymous");
        var layout = sample.Layout;
        try
        {
            var target = await TargetAsync(version, layout, codec.Decode(instance), caller, timeout.Token);
            async Task<double[]> Predict(double[][] rows, CancellationToken token)
            {
                var values = await PredictAsync(model, version.Version, layout, [.. rows.Select(codec.Decode)], target.Output, caller, token);
                int width = values.Length / rows.Length;
                return [.. Enumerable.Range(0, rows.Length).Select(r => values[r * width + target.Index])];
            }

            var background = sample.Spread(o.BackgroundRows);
            var explainer = await KernelShap.CreateAsync(Predict, background, o.MaxBatchRows, timeout.Token);
            var shap = await explainer.ExplainAsync(instance, o.Samples, new Random(7), timeout.Token);
            double score = sample.OutlierScore(instance);
            bool scored = !double.IsNaN(score);
            return new ExplanationDto(
                model, version.Version, recordId, row, target.Output, target.Classifier ? target.Index : null,
                target.Classifier ? target.Label : null,
                shap.BaseValue, shap.Prediction,
                [.. sample.Features.Select((f, i) => new AttributionDto(f, instance[i], shap.Attributions[i], codec.IsText(i) ? codec.Cell(i, instance[i]) : null))],
                shap.Coalitions, shap.Exact, background.Length, clock.GetUtcNow(), scored ? score : null, scored ? score > sample.Outliers!.Threshold : null,
                target.Explained);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ExplanationException($"The explanation took longer than {o.Timeout.TotalSeconds:0} s and was abandoned.", StatusCodes.Status504GatewayTimeout);
        }
        catch (ModelNotFoundException e)
        {
            throw new ExplanationException($"The model cannot be called: {e.Message}.", StatusCodes.Status404NotFound);
        }
        catch (ReplicaUnavailableException e)
        {
            throw new ExplanationException($"The model cannot be called: {e.Message}.", StatusCodes.Status503ServiceUnavailable);
        }
        catch (Exception e) when (e is InferenceRejectedException or InferenceProtocolException)
        {
            throw new ExplanationException($"The model refused the row: {e.Message}", StatusCodes.Status400BadRequest);
        }
    }

    // Which output and which value of a row are explained. A classifier (ClassifierOutputs: a label output beside
    // probabilities, however named): the probability column of the label it predicts for the instance — never the
    // label itself. Otherwise the first numeric output with several values a row (scores) at the instance's highest
    // score, else the first numeric one-value-a-row output (floating point first).
    private async Task<(string Output, int Index, bool Classifier, string? Label, string Explained)> TargetAsync(
        ModelVersion version, TabularLayout layout, string[] instance, string caller, CancellationToken ct)
    {
        var outputs = RegistryMapping.Schema(version.OutputsJson);
        if (ClassifierOutputs.Of(outputs, version.Classes) is { ProbabilityOutput: { } probabilities } classifier)
        {
            var request = new InferenceRequest
            {
                Inputs = layout.CreateInputs([instance]),
                Outputs = [new RequestedOutput(classifier.LabelOutput.Name), new RequestedOutput(probabilities.Name)],
            };
            var response = (await replicas.InferAsync(version.Model.Name, version.Version, request, Options(caller), ct)).Response;
            if (classifier.Read(response.Outputs) is [{ LabelIndex: int index } predicted, ..])
            {
                bool named = probabilities.ClassLabels is { Count: > 0 } || version.Classes is { Count: > 0 };
                return (probabilities.Name, index, true, named && index < predicted.Classes.Count ? predicted.Classes[index] : null, "probability");
            }

            throw new ExplanationException("The model answered no class probabilities to explain.", StatusCodes.Status400BadRequest);
        }

        var numeric = outputs
            .Where(t => TensorDatatypes.Parse(t.Datatype) is not (TensorDatatype.Bytes or TensorDatatype.Bool or TensorDatatype.Invalid))
            .OrderBy(t => TensorDatatypes.Parse(t.Datatype) is TensorDatatype.Fp32 or TensorDatatype.Fp64 or TensorDatatype.Fp16 or TensorDatatype.Bf16 ? 0 : 1)
            .ToList();
        if (numeric.Count == 0)
        {
            throw new ExplanationException("The model has no numeric output to explain.", StatusCodes.Status400BadRequest);
        }

        var plain = new InferenceRequest
        {
            Inputs = layout.CreateInputs([instance]),
            Outputs = [.. numeric.Select(t => new RequestedOutput(t.Name))],
        };
        var answer = (await replicas.InferAsync(version.Model.Name, version.Version, plain, Options(caller), ct)).Response;
        var answered = numeric.Select(t => (t.Name, Values: answer.Outputs.FirstOrDefault(o => o.Name == t.Name) is { } o ? TabularTensor.ToDoubles(o.Data) : null))
            .Where(x => x.Values is { Length: > 0 }).ToList();
        if (answered.FirstOrDefault(x => x.Values!.Length > 1) is { Name: not null } scores)
        {
            int best = 0;
            for (int i = 1; i < scores.Values!.Length; i++)
            {
                best = scores.Values[i] > scores.Values[best] ? i : best;
            }

            // Scores that are each in [0, 1] and sum to 1 (a softmax) are probabilities; others (logits, margins) are not.
            bool softmax = scores.Values.All(v => v is >= 0 and <= 1) && Math.Abs(scores.Values.Sum() - 1) < 1e-3;
            return (scores.Name, best, true, version.Classes is { } classes && best < classes.Count ? classes[best] : null, softmax ? "probability" : "score");
        }

        return answered.Count > 0 ? (answered[0].Name, 0, false, null, "value")
            : throw new ExplanationException("The model answered no numeric output to explain.", StatusCodes.Status400BadRequest);
    }

    private async Task<double[]> PredictAsync(
        string model, int version, TabularLayout layout, IReadOnlyList<IReadOnlyList<string>> rows, string output, string caller, CancellationToken ct)
    {
        var request = new InferenceRequest { Inputs = layout.CreateInputs(rows), Outputs = [new RequestedOutput(output)] };
        var response = (await replicas.InferAsync(model, version, request, Options(caller), ct)).Response;
        var values = response.Outputs.FirstOrDefault(o => o.Name == output) is { } tensor ? TabularTensor.ToDoubles(tensor.Data) : null;
        if (values is null || values.Length == 0 || values.Length % rows.Count != 0)
        {
            throw new ExplanationException($"The model's output '{output}' did not hold the same number of values for each of {rows.Count} rows.", StatusCodes.Status400BadRequest);
        }

        return values;
    }

    private static ReplicaCallOptions Options(string caller) => new(caller, RequestIds.New());

    private static string Sentence(string text) => char.ToUpperInvariant(text[0]) + text[1..] + ".";
}
