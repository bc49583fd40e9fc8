using System.Globalization;
using System.Net;
using System.Text;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>
/// Batch try for a tabular model: send a CSV to be scored by the chosen version and see the result a page at a time,
/// with a download of the whole CSV. A small file is scored while the upload waits; a larger one is checked every
/// second until it has succeeded or failed. The user's recent batches for the model are listed beside it.
/// </summary>
public partial class BatchTry : IAsyncDisposable
{
    private const int ListShown = 8;
    private const long MaxBytes = 64L * 1024 * 1024; // the backend's default Mds:Batch:MaxUploadBytes

    private readonly CancellationTokenSource _disposed = new();
    private CancellationTokenSource? _watch;
    private Task _watching = Task.CompletedTask;
    private string? _userName;
    private IBrowserFile? _file;
    private IReadOnlyList<string> _headers = [];
    private string? _labelColumn;
    private bool _dragging;
    private bool _uploading;
    private readonly UploadProgress _upload;
    private string? _uploadError;
    private BatchDto? _current;
    private string? _watchError;
    private IReadOnlyList<BatchDto>? _batches;
    private HttpRequestException? _listError;

    [Inject]
    private BatchesClient BatchesApi { get; set; } = default!;

    [Inject]
    private BatchUploadsClient UploadsApi { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The model to score with (or set <see cref="Pipeline"/>).</summary>
    [Parameter]
    public ModelDto? Model { get; set; }

    /// <summary>A pipeline to run each row through instead of a model (its live version; <see cref="Version"/> is ignored).</summary>
    [Parameter]
    public PipelineDto? Pipeline { get; set; }

    /// <summary>The version to score with; null for the live one.</summary>
    [Parameter]
    public int? Version { get; set; }

    /// <summary>The version whose inputs the file must fit (the chosen one, else the live one).</summary>
    [Parameter]
    public ModelVersionDto? SchemaVersion { get; set; }

    /// <summary>The version's feature names, when the model declares them.</summary>
    [Parameter]
    public IReadOnlyList<string>? FeatureNames { get; set; }

    /// <summary>How often a queued or running batch is checked.</summary>
    [Parameter]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A batch try that shows its upload's progress as it goes.</summary>
    public BatchTry() => _upload = new UploadProgress(() => InvokeAsync(StateHasChanged));

    private string ColumnsHelp
    {
        get
        {
            const string Label = "one more column, if there is one, is the label the predictions are compared with.";
            var layout = Layout;
            if (layout is { Kind: Mds.Contracts.Inference.TabularLayoutKind.Columns })
            {
                var text = layout.Columns.Where(c => c.IsText).Select(c => c.Name).ToList();
                string texts = text.Count == 0 ? "" : $"; {string.Join(", ", text)} {(text.Count == 1 ? "holds" : "hold")} text";
                return $"Comma-separated, with a header row. The columns {string.Join(", ", layout.ColumnNames)} are the model's inputs (matched by name, in any order{texts}); {Label}";
            }

            if (FeatureNames is { Count: > 0 } names)
            {
                return $"Comma-separated, with a header row. The columns {string.Join(", ", names)} are the model's features (matched by name); {Label}";
            }

            return layout is not null
                ? $"Comma-separated, with a header row. The first {layout.Columns.Count} columns are the model's features, in order; {Label}"
                : $"Comma-separated, with a header row: the model's features, then optionally a label column.";
        }
    }

    /// <summary>The model's or pipeline's name, which its batches are listed under.</summary>
    private string SubjectName => Pipeline?.Name ?? Model?.Name ?? "";

    /// <summary>The model's columns, when it is tabular (see <see cref="Mds.Contracts.Inference.TabularLayout"/>).</summary>
    private Mds.Contracts.Inference.TabularLayout? Layout => SchemaInputs is { } inputs ? Mds.Contracts.Inference.TabularLayout.Of(inputs, FeatureNames) : null;

    private IReadOnlyList<Mds.Contracts.Inference.TensorMetadata>? SchemaInputs => Pipeline is { } pipeline ? pipeline.Inputs : SchemaVersion?.Inputs;

    private string VersionCaption => Pipeline is { } pipeline
        ? pipeline.LiveVersion is { } pipelineLive ? $"Run through the pipeline's live version (v{pipelineLive})." : "Run through the pipeline once a version is live."
        : Version is { } v
        ? $"Scored by v{v}."
        : Model?.LiveVersion is { } live ? $"Scored by the live version (v{live})." : "Scored by the newest Ready version.";

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        if (AuthenticationState is not null)
        {
            _userName = (await AuthenticationState).User.Identity?.Name;
        }

        await LoadListAsync();
    }

    /// <summary>Shows <paramref name="batch"/>, checking on it every <see cref="PollInterval"/> while it is queued or running.</summary>
    public void Open(BatchDto? batch)
    {
        if (batch is null)
        {
            return;
        }

        StopWatching();
        _current = batch;
        _watchError = null;
        if (BatchReader.IsActive(batch))
        {
            _watch = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
            _watching = WatchAsync(batch.Id, _watch.Token);
        }

        StateHasChanged();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        await _watching;
        _watch?.Dispose();
        _disposed.Dispose();
        GC.SuppressFinalize(this);
    }

    private async Task LoadListAsync()
    {
        try
        {
            // A pipeline's batches are listed under the name it answers to as a model.
            _batches = await BatchesApi.ListAsync(Pipeline is null ? SubjectName : SubjectName + ".pipeline", _disposed.Token);
            _listError = null;
        }
        catch (HttpRequestException ex)
        {
            _listError = ex;
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            // The page closed.
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

        _uploadError = file switch
        {
            _ when !file.Name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) => $"“{file.Name}” is not a .csv file.",
            { Size: <= 0 } => $"“{file.Name}” is empty.",
            { Size: > MaxBytes } => $"“{file.Name}” is larger than the 64 MiB the backend accepts.",
            _ => null,
        };
        if (_uploadError is not null)
        {
            return;
        }

        var headers = await CsvHeader.ReadAsync(file, MaxBytes);
        // The backend matches these columns by name: a file without them is refused before it is sent.
        if (Layout is { } layout && BatchReader.MissingColumns(headers, layout, FeatureNames) is { Count: > 0 } missing)
        {
            _uploadError = $"“{file.Name}” has no column {string.Join(", ", missing)}: the model's columns are matched by name ({string.Join(", ", BatchReader.NamedColumns(layout, FeatureNames)!)}).";
            return;
        }

        _file = file;
        _headers = headers;
    }

    private async Task ScoreAsync()
    {
        if (_file is not { } file)
        {
            return;
        }

        _uploading = true;
        _uploadError = null;
        try
        {
            var (upload, progress) = _upload.Start(file, MaxBytes);
            var batch = Pipeline is { } pipeline
                ? await UploadsApi.StartPipelineAsync(pipeline.Name, upload, _labelColumn, progress, _disposed.Token)
                : await UploadsApi.StartAsync(SubjectName, Version, upload, _labelColumn, progress, _disposed.Token);
            _uploading = false;
            _file = null;
            _headers = [];
            _labelColumn = null;
            Open(batch);
            await LoadListAsync();
        }
        catch (HttpRequestException ex)
        {
            _uploadError = Describe(ex, file.Name);
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            return;
        }
        finally
        {
            _uploading = false;
        }
    }

    private async Task WatchAsync(long id, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                if (!await CheckAsync(id, stopping))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Another batch was opened, or the page closed.
        }
    }

    // One look at the batch; false when there is nothing more to wait for.
    private async Task<bool> CheckAsync(long id, CancellationToken stopping)
    {
        BatchDto? batch;
        try
        {
            batch = await BatchesApi.FindAsync(id, stopping);
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            // The sign-in has ended and the page is on its way to sign in again (SignInOnUnauthorized): stop watching.
            return false;
        }
        catch (HttpRequestException ex)
        {
            await InvokeAsync(() =>
            {
                _watchError = $"The batch's progress cannot be read ({ex.Message}); trying again.";
                StateHasChanged();
            });
            return true;
        }

        stopping.ThrowIfCancellationRequested();
        bool active = batch is not null && BatchReader.IsActive(batch);
        await InvokeAsync(async () =>
        {
            _watchError = null;
            if (batch is null)
            {
                _current = null;
                Snackbar.Add("The batch no longer exists.", Severity.Warning);
            }
            else
            {
                _current = batch;
                // The list shows the same batch's state as the panel does.
                _batches = _batches?.Select(b => b.Id == batch.Id ? batch : b).ToList();
            }

            if (!active)
            {
                // Finished: the list shows its new state too.
                await LoadListAsync();
            }

            StateHasChanged();
        });
        return active;
    }

    private void StopWatching()
    {
        if (_watch is not null)
        {
            _watch.Cancel();
            _watch.Dispose();
            _watch = null;
        }
    }

    private async Task DeleteAsync(BatchDto batch)
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Delete the batch “{batch.FileName}”?",
            "Its result is removed and can no longer be downloaded. The file can be scored again.",
            yesText: "Delete", cancelText: "Cancel");
        if (confirmed != true)
        {
            return;
        }

        try
        {
            await BatchesApi.DeleteAsync(batch.Id, _disposed.Token);
            if (_current?.Id == batch.Id)
            {
                StopWatching();
                _current = null;
            }

            Snackbar.Add($"Batch “{batch.FileName}” deleted.", Severity.Success);
            await LoadListAsync();
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add("The batch was not deleted: " + ex.Message, Severity.Error);
        }
    }

    private IReadOnlyList<string> OutputNamesOf(BatchDto batch)
        => Pipeline is { } pipeline
            ? [.. pipeline.Outputs.Select(o => o.Name)]
            : Model?.Versions.FirstOrDefault(v => v.Version == batch.Version) is { } version
            ? [.. version.Outputs.Select(o => o.Name)]
            : SchemaVersion is null ? [] : [.. SchemaVersion.Outputs.Select(o => o.Name)];

    // The scoring version's label output, when it is a classifier: the column that holds each row's predicted class.
    private string? ClassColumnOf(BatchDto batch)
    {
        var version = Model?.Versions.FirstOrDefault(v => v.Version == batch.Version) ?? SchemaVersion;
        var outputs = Pipeline is { } pipeline ? pipeline.Outputs : version?.Outputs;
        return outputs is null ? null : Mds.Contracts.Inference.ClassifierOutputs.Of(outputs, version?.Classes)?.LabelOutput.Name;
    }

    private string CurrentCaption(BatchDto batch)
    {
        var parts = new List<string> { $"v{batch.Version}", BatchReader.Rows(batch.TotalRows) };
        if (BatchReader.Duration(batch) is { } took && BatchReader.HasResult(batch))
        {
            parts.Add("scored in " + Format.Milliseconds(took));
        }

        parts.Add("sent " + Format.Ago(batch.CreatedAt, Clock.GetUtcNow()));
        if (!string.Equals(batch.CreatedBy, _userName, StringComparison.OrdinalIgnoreCase))
        {
            parts.Add("by " + batch.CreatedBy);
        }

        return string.Join(" · ", parts);
    }

    private static string RowsCell(BatchDto batch) => BatchReader.IsActive(batch) || batch.State == BatchStates.Failed
        ? string.Create(CultureInfo.InvariantCulture, $"{batch.DoneRows:N0} / {batch.TotalRows:N0}")
        : batch.TotalRows.ToString("N0", CultureInfo.InvariantCulture);

    private static string Describe(HttpRequestException ex, string fileName) => ex.StatusCode switch
    {
        HttpStatusCode.BadRequest => $"“{fileName}” does not fit the model: {ex.Message}",
        HttpStatusCode.RequestEntityTooLarge => $"“{fileName}” is larger than the backend accepts. {ex.Message}",
        HttpStatusCode.NotFound => $"The model or version is not there any more: {ex.Message}",
        HttpStatusCode.Forbidden => "Your role does not allow batch predictions.",
        null => $"The backend cannot be reached: {ex.Message}",
        _ => ex.Message,
    };
}
