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
    private const long MaxBytes = ModelUploadsClient.MaxUploadBytes;

    private bool _loading = true;
    private bool _canManage;
    private DatasetDto? _dataset;
    private DatasetPreviewDto? _preview;
    private HttpRequestException? _error;
    private IBrowserFile? _file;
    private MudFileUpload<IBrowserFile>? _picker;
    private IReadOnlyList<string> _headers = [];
    private string? _labelColumn;
    private bool _uploading;
    private long _sent;
    private string? _uploadError;

    [Inject]
    private DatasetsClient DatasetsApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

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
        try
        {
            _dataset = await DatasetsApi.FindAsync(Name, Version);
            _preview = _dataset is null ? null : await DatasetsApi.PreviewAsync(Name, Version, PreviewRows);
            _error = null;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            Navigation.NavigateToLogin();
        }
        catch (HttpRequestException ex)
        {
            _error = ex;
        }
        finally
        {
            _loading = false;
        }
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

        if (file.Size is <= 0 or > MaxBytes)
        {
            _uploadError = file.Size <= 0 ? $"“{file.Name}” is empty." : $"“{file.Name}” is larger than the 512 MiB the backend accepts.";
            return;
        }

        _file = file;
        _headers = await ReadHeaderAsync(file);
        // A column named like a label is the likely choice.
        _labelColumn = _headers.FirstOrDefault(h => h.Equals("label", StringComparison.OrdinalIgnoreCase) || h.Equals("target", StringComparison.OrdinalIgnoreCase) || h.Equals("class", StringComparison.OrdinalIgnoreCase));
    }

    // The header row: the first line of the file's first 64 KiB, split on commas (quotes removed).
    private static async Task<IReadOnlyList<string>> ReadHeaderAsync(IBrowserFile file)
    {
        await using var stream = file.OpenReadStream(MaxBytes);
        byte[] buffer = new byte[Math.Min(64 * 1024, file.Size)];
        int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
        string text = Encoding.UTF8.GetString(buffer, 0, read).TrimStart('\uFEFF');
        string firstLine = text.Split('\n')[0].TrimEnd('\r');
        return [.. firstLine.Split(',').Select(h => h.Trim().Trim('"')).Where(h => h.Length > 0)];
    }

    private async Task UploadAsync()
    {
        if (_file is not { } file)
        {
            return;
        }

        _uploading = true;
        _sent = 0;
        _uploadError = null;
        try
        {
            var upload = new UploadFile(file.Name, file.Size, () => file.OpenReadStream(MaxBytes));
            _dataset = await DatasetsApi.UploadAsync(Name, Version, upload, _labelColumn, new Progress<long>(sent =>
            {
                _sent = sent;
                _ = InvokeAsync(StateHasChanged);
            }));
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
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            Navigation.NavigateToLogin();
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
