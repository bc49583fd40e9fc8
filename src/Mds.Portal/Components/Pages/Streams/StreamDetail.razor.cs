using System.Net;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Components.Pages.Models;
using Mds.Portal.Components.Pages.Try;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Streams;

/// <summary>
/// One stream: its state (with why it waits), subjects to copy, counters, a test message to publish (prefilled with a
/// V2 request built from the model's or pipeline's inputs), the latest outputs and errors, and enable / disable (asking
/// whether to delete the engine's streams with their messages). Refreshed every few seconds while open.
/// </summary>
public partial class StreamDetail
{
    private const int Latest = 20;
    private StreamDto? _stream;
    private IReadOnlyList<StreamMessageDto> _outputs = [];
    private IReadOnlyList<StreamMessageDto> _errors = [];
    private string? _messagesError;
    private bool _notFound;
    private bool _busy;
    private bool _publishing;
    private string? _body;
    private string? _requestId;
    private string? _exampleNote;
    private string? _published;
    private string? _publishError;
    private string? _loadedFor;

    [Inject]
    private StreamsClient StreamsApi { get; set; } = default!;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private PipelinesClient PipelinesApi { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <summary><c>models</c> or <c>pipelines</c>, from the route.</summary>
    [Parameter]
    public string Kind { get; set; } = "";

    /// <summary>The model's or pipeline's name, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Streams", href: "streams"),
        new($"{StreamText.Noun(Kind)} {Name}", href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        string key = $"{Kind}/{Name}";
        if (string.Equals(_loadedFor, key, StringComparison.Ordinal))
        {
            return;
        }

        _loadedFor = key;
        _stream = null;
        _outputs = [];
        _errors = [];
        _published = null;
        _publishError = null;
        if (Kind is not (StreamsClient.Models or StreamsClient.Pipelines))
        {
            _notFound = true;
            return;
        }

        await LoadAsync();
        if (_stream is not null)
        {
            await LoadExampleAsync();
        }
    }

    /// <inheritdoc />
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            RefreshEvery(StreamText.RefreshInterval, LoadAsync);
        }
    }

    private async Task LoadAsync()
    {
        if (Kind is not (StreamsClient.Models or StreamsClient.Pipelines))
        {
            return;
        }

        await LoadWithAsync(async stopping =>
        {
            _stream = await StreamsApi.FindAsync(Kind, Name, stopping);
            _notFound = _stream is null;
            if (_stream is not null)
            {
                await LoadMessagesAsync();
            }
        });
    }

    // Outputs and errors apart from the stream: an engine that cannot be read leaves the rest of the page working.
    private async Task LoadMessagesAsync()
    {
        try
        {
            var outputs = StreamsApi.LatestAsync(Kind, Name, errors: false, Latest, Stopping);
            var errors = StreamsApi.LatestAsync(Kind, Name, errors: true, Latest, Stopping);
            _outputs = await outputs;
            _errors = await errors;
            _messagesError = null;
        }
        catch (HttpRequestException ex) when (ex.StatusCode != HttpStatusCode.Unauthorized)
        {
            // A stream never enabled has nothing in the engine to read: only an enabled one's failure is worth saying.
            _messagesError = _stream?.Enabled == true ? ex.Message : null;
        }
    }

    // The editor starts with a V2 request for the live version's (or the pipeline's) inputs, zeros to replace.
    private async Task LoadExampleAsync()
    {
        IReadOnlyList<TensorMetadata>? inputs = null;
        try
        {
            if (Kind == StreamsClient.Models)
            {
                if (await ModelsApi.FindAsync(Name, Stopping) is { } model && ModelSummary.Headline(model) is { } version)
                {
                    inputs = version.Inputs;
                    _exampleNote = $"Built from v{version.Version}'s inputs: replace the zeros.";
                }
            }
            else if (await PipelinesApi.MetadataAsync(Name, Stopping) is { Inputs.Count: > 0 } metadata)
            {
                inputs = metadata.Inputs;
                _exampleNote = "Built from the pipeline's inputs: replace the zeros.";
            }
        }
        catch (HttpRequestException ex) when (ex.StatusCode != HttpStatusCode.Unauthorized)
        {
            _exampleNote = "Its inputs could not be read: " + ex.Message;
        }

        _body = inputs is { Count: > 0 } ? TryForm.RequestTemplate(inputs) : "{\n  \"inputs\": []\n}\n";
    }

    private async Task PublishAsync()
    {
        if (string.IsNullOrWhiteSpace(_body))
        {
            return;
        }

        _publishing = true;
        _published = null;
        _publishError = null;
        try
        {
            _published = await StreamsApi.PublishAsync(Kind, Name, _body, _requestId, Stopping);
        }
        catch (HttpRequestException ex)
        {
            _publishError = ex.StatusCode == HttpStatusCode.Forbidden ? "Your role does not allow publishing to streams." : ex.Message;
        }
        finally
        {
            _publishing = false;
        }
    }

    private Task EnableAsync()
        => ActAsync(() => StreamsApi.SetAsync(Kind, Name, enabled: true, cancellationToken: Stopping), $"Streaming enabled: {Name} consumes {_stream?.InputSubject}.");

    private async Task DisableAsync()
    {
        if (await StreamText.AskDisableAsync(Dialogs, Kind, Name) is not { } clean)
        {
            return;
        }

        await ActAsync(
            () => StreamsApi.SetAsync(Kind, Name, enabled: false, cleanOnDisable: clean, cancellationToken: Stopping),
            clean ? "Streaming disabled; its streams and their messages were deleted." : "Streaming disabled; waiting messages are kept.");
    }

    private async Task ActAsync(Func<Task<StreamDto>> action, string done)
    {
        _busy = true;
        try
        {
            _stream = await action();
            Snackbar.Add(done, Severity.Success);
            await LoadAsync();
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.StatusCode == HttpStatusCode.Forbidden ? "Your role does not allow changing streams." : ex.Message, Severity.Error);
        }
        finally
        {
            _busy = false;
        }
    }
}
