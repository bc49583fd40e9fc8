using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Components.Pages.Models;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// Try a model: the version and mode, and the request and its answer. The parts are components: the form
/// (<see cref="TryRequestForm"/>), the answer (<see cref="TryAnswer"/>), why (<see cref="TryExplanation"/>) and feedback
/// (<see cref="TryFeedback"/>); for a tabular model also a whole CSV file at once (<see cref="BatchTry"/>).
/// </summary>
public partial class TryModel
{
    private const int PreviewRows = 20;
    private const string OneRow = "row";
    private const string Batch = "batch";

    private ModelDto? _model;
    private int? _version;
    private VersionLabels _labels = VersionLabels.None;
    private DatasetPreviewDto? _preview;
    private DatasetDto? _dataset;
    private TryForm? _form;
    private ImageInput? _imageInput;
    private bool _sending;
    private InferenceOutcome? _outcome;
    private ClassifierPrediction? _classification;
    private string? _predicted;
    private IReadOnlyList<object>? _sentCells;
    private int? _answeredVersion;
    private OutlierScoresDto? _outlierScores;
    private bool _notFound;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private DatasetsClient DatasetsApi { get; set; } = default!;

    [Inject]
    private InferenceClient InferenceApi { get; set; } = default!;

    [Inject]
    private ImagesClient ImagesApi { get; set; } = default!;

    [Inject]
    private OutliersClient OutliersApi { get; set; } = default!;

    /// <summary>The model's name, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>A version to start with (<c>?version=2</c>); the live one when absent.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "version")]
    public int? StartVersion { get; set; }

    /// <summary><c>?mode=batch</c> starts with batch try (for a tabular model); one row otherwise.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "mode")]
    public string? StartMode { get; set; }

    private string _mode = OneRow;

    /// <summary>True when the page shows batch try: chosen, and the model takes rows of numbers.</summary>
    private bool BatchMode => _mode == Batch && _form?.IsTabular == true;

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
        new(Name, href: $"models/{Uri.EscapeDataString(Name)}"),
        new("Try", href: null, disabled: true),
    ];

    /// <summary>The version whose schema the form follows: the one chosen, else the live one, else the newest.</summary>
    private ModelVersionDto? SchemaVersion => _model is null
        ? null
        : _version is { } v ? _model.Versions.FirstOrDefault(x => x.Version == v) : ModelSummary.Headline(_model);

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        _version = StartVersion;
        _mode = string.Equals(StartMode, Batch, StringComparison.OrdinalIgnoreCase) ? Batch : OneRow;
        await LoadAsync();
    }

    private void SelectMode(string? mode) => _mode = mode ?? OneRow;

    private Task LoadAsync() => LoadWithAsync(async stopping =>
    {
        _model = await ModelsApi.FindAsync(Name, stopping);
        _notFound = _model is null;
        if (_model is not null && _version is { } v && _model.Versions.All(x => x.Version != v))
        {
            _version = null;
        }

        await LoadVersionAsync();
    });

    private async Task SelectVersionAsync(int? version)
    {
        _version = version;
        await LoadWithAsync(_ => LoadVersionAsync());
    }

    // The schema's names, the reference rows, and a fresh form for the chosen version.
    private async Task LoadVersionAsync()
    {
        _form = null;
        _preview = null;
        _dataset = null;
        ClearAnswer();
        if (SchemaVersion is not { } version)
        {
            _form = TryForm.Create([], null);
            return;
        }

        _labels = await ModelsApi.FindLabelsAsync(Name, version.Version);
        _form = TryForm.Create(version.Inputs, _labels.FieldLabels);
        _imageInput = ImageInput.Of(version.Inputs);
        if (_form.IsTabular)
        {
            try
            {
                _dataset = await DatasetsApi.FindAsync(Name, version.Version);
                _preview = _dataset is null ? null : await DatasetsApi.PreviewAsync(Name, version.Version, PreviewRows);
                _form.OfferValues(_dataset?.TextValues);
            }
            catch (HttpRequestException ex) when (ex.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden or HttpStatusCode.MethodNotAllowed)
            {
                // No dataset feature for this version: the form works without reference rows.
                _preview = null;
            }
        }
    }

    private void ResetForm()
    {
        if (SchemaVersion is { } version)
        {
            _form = TryForm.Create(version.Inputs, _labels.FieldLabels);
            _form.OfferValues(_dataset?.TextValues);
        }

        ClearAnswer();
    }

    private void ClearAnswer()
    {
        _outcome = null;
        _classification = null;
        _predicted = null;
        _sentCells = null;
        _answeredVersion = null;
        _outlierScores = null;
    }

    private async Task SendAsync(InferenceRequest request)
    {
        if (_form is null)
        {
            return;
        }

        _sending = true;
        ClearAnswer();
        StateHasChanged();
        try
        {
            _outcome = await InferenceApi.InferAsync(Name, _version, request);

            if (_outcome.Response is { } response)
            {
                var outputs = AnsweringVersion(response)?.Outputs;
                _classification = PredictionReader.AsClassification(response, _labels.Classes, outputs);
                _predicted = PredictionReader.Predicted(response, _labels.Classes, outputs);
                if (_form.IsTabular)
                {
                    _sentCells = _form.ExplainCells();
                    _answeredVersion = int.TryParse(response.ModelVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : _version ?? SchemaVersion?.Version;
                    await ScoreOutlierAsync(_form.Numbers());
                }
            }
        }
        finally
        {
            _sending = false;
        }
    }

    // An image model's answer through /infer/image, shown like a classifier's: the top classes as bars, feedback on the top one.
    private async Task SendImageAsync(ChosenImage image)
    {
        _sending = true;
        ClearAnswer();
        StateHasChanged();
        try
        {
            var prediction = await ImagesApi.InferAsync(Name, _version, image.Name, image.Bytes, 5);
            var response = new InferenceResponse
            {
                ModelName = prediction.ModelName,
                ModelVersion = prediction.Version.ToString(CultureInfo.InvariantCulture),
                Id = prediction.RequestId,
                Outputs = [new InferenceTensor("predicted", TensorDatatype.Bytes, [1], new[] { prediction.Predicted })],
            };
            _outcome = new InferenceOutcome(prediction.RequestId, TimeSpan.FromMilliseconds(prediction.LatencyMs), HttpStatusCode.OK, response, null);
            _predicted = PredictionReader.Predicted(response, _labels.Classes, AnsweringVersion(response)?.Outputs);
            if (prediction.Top.Count > 0)
            {
                _classification = new ClassifierPrediction(prediction.Predicted, [.. prediction.Top.Select(c => c.Label)], [.. prediction.Top.Select(c => c.Probability)], 0);
            }
        }
        catch (HttpRequestException ex)
        {
            _outcome = InferenceOutcome.Failed("-", TimeSpan.Zero, ex.StatusCode, ex.Message);
        }
        finally
        {
            _sending = false;
        }
    }

    // How unusual the row is next to the reference dataset; only a version with one can say, and saying nothing is fine.
    private async Task ScoreOutlierAsync(IReadOnlyList<double> numbers)
    {
        // The detector reads the numeric columns only (text columns are skipped): a model without any has no score.
        if (_dataset is null || numbers.Count == 0 || _answeredVersion is not { } version)
        {
            return;
        }

        try
        {
            _outlierScores = await OutliersApi.ScoreAsync(Name, version, new FeatureRowsDto([numbers]));
        }
        catch (HttpRequestException)
        {
            _outlierScores = null;
        }
    }

    // The version that answered (the response says), else the one whose schema the form follows.
    private ModelVersionDto? AnsweringVersion(InferenceResponse response)
        => int.TryParse(response.ModelVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && _model?.Versions.FirstOrDefault(x => x.Version == v) is { } answered
            ? answered
            : SchemaVersion;
}
