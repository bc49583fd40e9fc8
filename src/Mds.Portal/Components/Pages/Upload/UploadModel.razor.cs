using System.Net;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Upload;

/// <summary>
/// Upload (Researcher, Admin): pick or drop an ONNX file (or a zip of one and its external-data files), see its schema as the backend reads it, fill in the
/// details, and stream the file to the backend with a progress bar; then on to the model's page.
/// </summary>
public partial class UploadModel
{
    private readonly UploadInput _input = new();
    private UploadDetailsForm? _details;
    private IReadOnlyList<string> _existingNames = [];
    private IBrowserFile? _file;
    private string? _fileError;
    private bool _dragging;
    private bool _inspecting;
    private long _inspectSent;
    private Mds.Contracts.Api.ModelInspection? _inspection;
    private bool _uploading;
    private long _uploadSent;
    private string? _uploadError;
    private DateTime _lastRender;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private ModelUploadsClient UploadsApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private ConfigClient ConfigApi { get; set; } = default!;

    // The backend's limit (GET /api/config); until known, the backend alone checks the size.
    private long? MaxBytes => _input.MaxFileBytes;

    private bool Busy => _inspecting || _uploading;

    private static IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
        new("Upload", href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        try
        {
            var config = await ConfigApi.GetAsync();
            (_input.MaxFileBytes, _input.MaxReplicas) = (config.MaxModelUploadBytes, config.MaxReplicas);
            _existingNames = [.. (await ModelsApi.ListAsync()).Select(m => m.Name).Order(StringComparer.OrdinalIgnoreCase)];
        }
        catch (HttpRequestException)
        {
            // Without the list the name field offers nothing, and without the limits the backend alone checks them; the upload still works.
        }
    }

    private async Task PickAsync(IBrowserFile? file)
    {
        _inspection = null;
        _uploadError = null;
        _file = file;
        _fileError = file is null ? null : UploadRules.FileError(file.Name, file.Size, MaxBytes);
        if (file is null || _fileError is not null)
        {
            return;
        }

        _input.FileName = file.Name;
        _input.FileSizeBytes = file.Size;
        if (string.IsNullOrWhiteSpace(_input.Name) && UploadRules.NameError(Path.GetFileNameWithoutExtension(file.Name)) is null)
        {
            _input.Name = Path.GetFileNameWithoutExtension(file.Name);
        }

        _inspecting = true;
        _inspectSent = 0;
        try
        {
            _inspection = await UploadsApi.InspectAsync(ToUploadFile(file, MaxBytes), Progress(sent => _inspectSent = sent));
        }
        catch (HttpRequestException ex)
        {
            _fileError = Describe(ex, file.Name);
        }
        finally
        {
            _inspecting = false;
        }
    }

    private async Task UploadAsync()
    {
        if (_file is null || _details is null)
        {
            return;
        }

        bool fieldsValid = await _details.ValidateAsync();
        var problems = UploadRules.Validate(_input);
        if (!fieldsValid || problems.Count > 0)
        {
            _uploadError = problems.Count > 0 ? string.Join(" ", problems) : "Correct the fields marked in red.";
            return;
        }

        _uploading = true;
        _uploadSent = 0;
        _uploadError = null;
        try
        {
            // Sent once: the inspection left the bytes staged on the backend, so only the fields go now (the file again only if they expired).
            var version = await UploadsApi.UploadAsync(_input.ToUpload(), ToUploadFile(_file, MaxBytes), _inspection, Progress(sent => _uploadSent = sent));
            // No "replicas are being placed": the message outlives the placing, and the model page shows the state as it changes.
            Snackbar.Add($"Uploaded {version.ModelName} v{version.Version}.", Severity.Success);
            Navigation.NavigateTo($"models/{Uri.EscapeDataString(version.ModelName)}");
        }
        catch (HttpRequestException ex)
        {
            _uploadError = Describe(ex, _file.Name);
        }
        finally
        {
            _uploading = false;
        }
    }

    // The browser's file is streamed through the circuit to the backend as it is sent, never read whole into memory.
    private static UploadFile ToUploadFile(IBrowserFile file, long? maxBytes)
        => new(file.Name, file.Size, () => file.OpenReadStream(maxBytes ?? long.MaxValue));

    // Progress from the upload's sending loop: kept, and shown at most ten times a second.
    private Progress<long> Progress(Action<long> keep) => new(sent =>
    {
        keep(sent);
        var now = DateTime.UtcNow;
        if (now - _lastRender > TimeSpan.FromMilliseconds(100))
        {
            _lastRender = now;
            _ = InvokeAsync(StateHasChanged);
        }
    });

    private static string Describe(HttpRequestException ex, string fileName) => ex.StatusCode switch
    {
        HttpStatusCode.RequestEntityTooLarge => $"“{fileName}” is larger than the backend accepts. {ex.Message}",
        HttpStatusCode.BadRequest => $"“{fileName}” was refused: {ex.Message}",
        HttpStatusCode.Forbidden => "Your role does not allow uploading models.",
        HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed => "This backend cannot read a model's schema before upload yet (POST /api/models/inspect is missing).",
        null => $"The backend cannot be reached: {ex.Message}",
        _ => ex.Message,
    };

    private static string Percent(long sent, long total)
        => total <= 0 ? "" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{PercentValue(sent, total):0} %");

    private static double PercentValue(long sent, long total) => total <= 0 ? 0 : Math.Min(100, 100.0 * sent / total);
}
