using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Components.Pages.Models;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using Plotly.Blazor;
using Plotly.Blazor.Traces;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// Try a model: a form built from the input schema, the answer shown readably, and feedback on it; for a tabular model
/// also a whole CSV file at once (<see cref="BatchTry"/>).
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
    private int? _referenceRow;
    private string? _formError;
    private bool _sending;
    private InferenceOutcome? _outcome;
    private ClassifierPrediction? _classification;
    private IList<ITrace> _probabilities = [];
    private bool? _correct;
    private string? _trueLabel;
    private double? _trueValue;
    private string? _comment;
    private bool _savingFeedback;
    private string? _feedbackError;
    private FeedbackDto? _feedbackSaved;
    private IReadOnlyList<object>? _sentCells;
    private IReadOnlyList<double>? _sentNumbers;
    private int? _answeredVersion;
    private OutlierScoresDto? _outlierScores;
    private ExplanationDto? _explanation;
    private bool _explaining;
    private string? _explainError;
    private HttpRequestException? _error;
    private bool _notFound;
    private ImageInput? _imageInput;
    private string? _imageName;
    private byte[]? _imageBytes;
    private string? _imagePreview;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private DatasetsClient DatasetsApi { get; set; } = default!;

    [Inject]
    private InferenceClient InferenceApi { get; set; } = default!;

    [Inject]
    private ImagesClient ImagesApi { get; set; } = default!;

    [Inject]
    private FeedbackClient FeedbackApi { get; set; } = default!;

    [Inject]
    private OutliersClient OutliersApi { get; set; } = default!;

    [Inject]
    private ExplanationsClient ExplanationsApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

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

    private async Task LoadAsync()
    {
        try
        {
            _model = await ModelsApi.FindAsync(Name);
            _notFound = _model is null;
            _error = null;
            if (_model is not null && _version is { } v && _model.Versions.All(x => x.Version != v))
            {
                _version = null;
            }

            await LoadVersionAsync();
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            Navigation.NavigateToLogin();
        }
        catch (HttpRequestException ex)
        {
            _error = ex;
        }
    }

    private async Task SelectVersionAsync(int? version)
    {
        _version = version;
        try
        {
            await LoadVersionAsync();
        }
        catch (HttpRequestException ex)
        {
            _error = ex;
        }
    }

    // The schema's names, the reference rows, and a fresh form for the chosen version.
    private async Task LoadVersionAsync()
    {
        _form = null;
        _preview = null;
        _dataset = null;
        _referenceRow = null;
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

    private void FillFromRow(int? row)
    {
        _referenceRow = row;
        if (row is { } r && _preview is not null && _form is not null)
        {
            _form.FillFrom(_preview.Columns, _preview.Rows[r], _dataset?.LabelColumn);
            _formError = null;
        }
    }

    private void ResetForm()
    {
        if (SchemaVersion is { } version)
        {
            _form = TryForm.Create(version.Inputs, _labels.FieldLabels);
            _form.OfferValues(_dataset?.TextValues);
        }

        _referenceRow = null;
        _formError = null;
        ClearAnswer();
    }

    private void ClearAnswer()
    {
        _outcome = null;
        _classification = null;
        _probabilities = [];
        _correct = null;
        _trueLabel = null;
        _trueValue = null;
        _comment = null;
        _feedbackError = null;
        _feedbackSaved = null;
        _sentCells = null;
        _sentNumbers = null;
        _answeredVersion = null;
        _outlierScores = null;
        _explanation = null;
        _explaining = false;
        _explainError = null;
    }

    private async Task SendAsync()
    {
        if (_form is null)
        {
            return;
        }

        if (_imageInput is not null)
        {
            await SendImageAsync();
            return;
        }

        if (!_form.TryBuildRequest(out var request, out _formError))
        {
            return;
        }

        _sending = true;
        ClearAnswer();
        StateHasChanged();
        try
        {
            _outcome = await InferenceApi.InferAsync(Name, _version, request);
            if (_outcome.Status == HttpStatusCode.Unauthorized)
            {
                Navigation.NavigateToLogin();
                return;
            }

            if (_outcome.Response is { } response)
            {
                _classification = PredictionReader.AsClassification(response, _labels.Classes, AnsweringVersion(response)?.Outputs);
                _probabilities = _classification is not { Probabilities.Count: > 0 } ? [] : BarsOf(_classification);
            }

            if (_outcome.Response is { } answer && _form.IsTabular)
            {
                _sentCells = _form.ExplainCells();
                _sentNumbers = _form.Numbers();
                _answeredVersion = int.TryParse(answer.ModelVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : _version ?? SchemaVersion?.Version;
                await ScoreOutlierAsync();
            }
        }
        finally
        {
            _sending = false;
        }
    }

    private static IList<ITrace> BarsOf(ClassifierPrediction classification) =>
    [
        new Bar
        {
            X = [.. classification.Classes.Cast<object>()],
            Y = [.. classification.Probabilities.Cast<object>()],
            Marker = new Plotly.Blazor.Traces.BarLib.Marker
            {
                Color = classification.Probabilities.Select(p => (object)(p == classification.Probabilities.Max() ? "#2563eb" : "#94a3b8")).ToList(),
            },
            HoverTemplate = "%{x}: %{y:.3f}<extra></extra>",
        },
    ];

    // Reads the chosen image once: its bytes go to the backend, and a data URL previews it (no file is stored).
    private async Task PickImageAsync(IBrowserFile? file)
    {
        ClearAnswer();
        _formError = null;
        (_imageName, _imageBytes, _imagePreview) = (null, null, null);
        if (file is null)
        {
            return;
        }

        if (file.Size > ImagesClient.MaxImageBytes)
        {
            _formError = $"The image is {Format.Bytes(file.Size)}; at most {Format.Bytes(ImagesClient.MaxImageBytes)} are accepted.";
            return;
        }

        using var buffer = new MemoryStream();
        await using (var stream = file.OpenReadStream(ImagesClient.MaxImageBytes))
        {
            await stream.CopyToAsync(buffer);
        }

        _imageName = file.Name;
        _imageBytes = buffer.ToArray();
        string type = file.ContentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ? file.ContentType : "image/png";
        _imagePreview = $"data:{type};base64,{Convert.ToBase64String(_imageBytes)}";
    }

    // An image model's answer through /infer/image, shown like a classifier's: the top classes as bars, feedback on the top one.
    private async Task SendImageAsync()
    {
        if (_imageBytes is null)
        {
            _formError = "Choose an image first.";
            return;
        }

        _sending = true;
        _formError = null;
        ClearAnswer();
        StateHasChanged();
        try
        {
            var prediction = await ImagesApi.InferAsync(Name, _version, _imageName ?? "image", _imageBytes, 5);
            var response = new InferenceResponse
            {
                ModelName = prediction.ModelName,
                ModelVersion = prediction.Version.ToString(CultureInfo.InvariantCulture),
                Id = prediction.RequestId,
                Outputs = [new InferenceTensor("predicted", TensorDatatype.Bytes, [1], new[] { prediction.Predicted })],
            };
            _outcome = new InferenceOutcome(prediction.RequestId, TimeSpan.FromMilliseconds(prediction.LatencyMs), HttpStatusCode.OK, response, null);
            if (prediction.Top.Count > 0)
            {
                _classification = new ClassifierPrediction(prediction.Predicted, [.. prediction.Top.Select(c => c.Label)], [.. prediction.Top.Select(c => c.Probability)], 0);
                _probabilities = BarsOf(_classification);
            }
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            Navigation.NavigateToLogin();
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
    private async Task ScoreOutlierAsync()
    {
        // The detector reads the numeric columns only (text columns are skipped): a model without any has no score.
        if (_dataset is null || _sentNumbers is not { Count: > 0 } numbers || _answeredVersion is not { } version)
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

    private async Task ExplainAsync()
    {
        if (_sentCells is null || _answeredVersion is not { } version)
        {
            return;
        }

        _explaining = true;
        _explainError = null;
        StateHasChanged();
        try
        {
            _explanation = await ExplanationsApi.ExplainRowAsync(Name, version, _sentCells);
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            Navigation.NavigateToLogin();
        }
        catch (HttpRequestException ex)
        {
            _explainError = "It cannot be explained: " + ex.Message;
        }
        finally
        {
            _explaining = false;
        }
    }

    private async Task SendFeedbackAsync()
    {
        if (_outcome?.Response is not { } response || _correct is not { } correct)
        {
            return;
        }

        _savingFeedback = true;
        _feedbackError = null;
        try
        {
            int? answeredBy = int.TryParse(response.ModelVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : _version;
            var feedback = new CreateFeedbackRequest(
                Name, answeredBy, _outcome.RequestId, correct, PredictionReader.Predicted(response, _labels.Classes, AnsweringVersion(response)?.Outputs),
                correct ? null : NullIfBlank(_trueLabel), correct ? null : _trueValue, NullIfBlank(_comment));
            _feedbackSaved = await FeedbackApi.CreateAsync(feedback);
        }
        catch (HttpRequestException ex)
        {
            _feedbackError = "The feedback was not saved: " + ex.Message;
        }
        finally
        {
            _savingFeedback = false;
        }
    }

    // The version that answered (the response says), else the one whose schema the form follows.
    private ModelVersionDto? AnsweringVersion(InferenceResponse response)
        => int.TryParse(response.ModelVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && _model?.Versions.FirstOrDefault(x => x.Version == v) is { } answered
            ? answered
            : SchemaVersion;

    // The seen values a text field offers for what is typed so far (all of them for nothing typed).
    private static IEnumerable<string> Offered(TryField field, string? typed) => string.IsNullOrEmpty(typed)
        ? field.Suggestions
        : field.Suggestions.Where(v => v.Contains(typed, StringComparison.OrdinalIgnoreCase));

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static string RowSummary(IReadOnlyList<string> row)
    {
        string text = string.Join(", ", row.Take(6));
        return row.Count > 6 ? text + ", …" : text;
    }

    private static string ErrorHeadline(InferenceOutcome outcome) => outcome.Status switch
    {
        HttpStatusCode.BadRequest => "The model did not accept the request",
        HttpStatusCode.NotFound => "No such model or version",
        HttpStatusCode.ServiceUnavailable => "The model cannot answer right now",
        null => "The backend cannot be reached",
        { } status => $"The call failed ({(int)status})",
    };
}
