using System.Net;
using System.Text;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Datasets;

/// <summary>A version's reference dataset: what it is, its first rows; upload and delete for Researcher and Admin.</summary>
public partial class ReferenceDataset
{
    private const int PreviewRows = 25;
    private long? _maxBytes; // the backend's Mds:Registry:MaxDatasetBytes, from GET /api/config when a file is chosen

    private bool _loading = true;
    private bool _canManage;
    private DatasetDto? _dataset;
    private DatasetPreviewDto? _preview;
    private IBrowserFile? _file;
    private MudFileUpload<IBrowserFile>? _picker;
    private IReadOnlyList<string> _headers = [];
    private string? _labelColumn;
    private bool _uploading;
    private readonly UploadProgress _upload;
    private string? _uploadError;

    /// <summary>A dataset page that shows its upload's progress as it goes.</summary>
    public ReferenceDataset() => _upload = new UploadProgress(() => InvokeAsync(StateHasChanged));

    [Inject]
    private DatasetsClient DatasetsApi { get; set; } = default!;

    [Inject]
    private ConfigClient ConfigApi { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The model, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>The version, from the route.</summary>
    [Parameter]
    public int Version { get; set; }

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
        new(Name, href: $"models/{Uri.EscapeDataString(Name)}"),
        new($"v{Version} dataset", href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (AuthenticationState is not null)
        {
            var user = (await AuthenticationState).User;
            _canManage = user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Researcher);
        }

        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        _loading = _dataset is null;
        await LoadWithAsync(async _ =>
        {
            _dataset = await DatasetsApi.FindAsync(Name, Version);
            _preview = _dataset is null ? null : await DatasetsApi.PreviewAsync(Name, Version, PreviewRows);
        });
        _loading = false;
    }

    private async Task PickAsync(IBrowserFile? file)
    {
        _uploadError = null;
        _file = null;
        _headers = [];
        _labelColumn = null;
        if (file is null)
        {
            return;
        }

        if (!file.Name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            _uploadError = $"“{file.Name}” is not a .csv file.";
            return;
        }

        try
        {
            _maxBytes ??= (await ConfigApi.GetAsync()).MaxDatasetBytes;
        }
        catch (HttpRequestException)
        {
            // Unknown: the backend checks the size itself.
        }

        if (file.Size <= 0 || file.Size > _maxBytes)
        {
            _uploadError = file.Size <= 0 ? $"“{file.Name}” is empty." : $"“{file.Name}” is larger than the {Format.Bytes(_maxBytes!.Value)} the backend accepts.";
            return;
        }

        _file = file;
        _headers = await CsvHeader.ReadAsync(file, file.Size);
        // A column named like a label is the likely choice.
        _labelColumn = _headers.FirstOrDefault(h => h.Equals("label", StringComparison.OrdinalIgnoreCase) || h.Equals("target", StringComparison.OrdinalIgnoreCase) || h.Equals("class", StringComparison.OrdinalIgnoreCase));
    }

    private async Task UploadAsync()
    {
        if (_file is not { } file)
        {
            return;
        }

        _uploading = true;
        _uploadError = null;
        try
        {
            var (upload, progress) = _upload.Start(file, file.Size);
            _dataset = await DatasetsApi.UploadAsync(Name, Version, upload, _labelColumn, progress);
            Snackbar.Add($"Dataset uploaded: {_dataset.Rows} rows.", Severity.Success);
            _file = null;
            _headers = [];
            // The picker forgets the file too: its chip under "Replace it" would read as a replacement still queued.
            if (_picker is not null)
            {
                await _picker.ClearAsync();
            }

            await LoadAsync();
        }
        catch (HttpRequestException ex)
        {
            _uploadError = ex.StatusCode switch
            {
                HttpStatusCode.RequestEntityTooLarge => "The file is larger than the backend accepts.",
                HttpStatusCode.Forbidden => "Your role does not allow uploading datasets.",
                null => "The backend cannot be reached: " + ex.Message,
                _ => ex.Message,
            };
        }
        finally
        {
            _uploading = false;
        }
    }

    private async Task DeleteAsync()
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync($"Delete the dataset of {Name} v{Version}?",
            "Drift, outlier and explanation checks lose their baseline. This cannot be undone.", yesText: "Delete", cancelText: "Cancel");
        if (confirmed != true)
        {
            return;
        }

        try
        {
            await DatasetsApi.DeleteAsync(Name, Version);
            _dataset = null;
            _preview = null;
            Snackbar.Add("Dataset deleted.", Severity.Success);
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }
}
