using System.Globalization;
using System.Net;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>
/// The run inspector: the pipeline's recent runs (or those with a request id), and one run with each step's state,
/// why, latency, rows and tensors, over the graph of the version that ran it.
/// </summary>
public partial class PipelineRuns
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private string? _loadedFor;
    private string? _openedStart;
    private string? _search;
    private IReadOnlyList<PipelineRunDto>? _runs;
    private PipelineRunDto? _run;
    private string? _runError;
    private PipelineVersionDto? _runVersion;

    [Inject]
    private PipelinesClient PipelinesApi { get; set; } = default!;

    /// <summary>The pipeline whose runs these are.</summary>
    [Parameter, EditorRequired]
    public PipelineDto Pipeline { get; set; } = default!;

    /// <summary>A run to open first (from <c>?run=</c>).</summary>
    [Parameter]
    public string? StartRequestId { get; set; }

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (!string.Equals(_loadedFor, Pipeline.Name, StringComparison.Ordinal))
        {
            _loadedFor = Pipeline.Name;
            _run = null;
            await LoadAsync();
        }

        if (!string.IsNullOrWhiteSpace(StartRequestId) && !string.Equals(_openedStart, StartRequestId, StringComparison.Ordinal))
        {
            _openedStart = StartRequestId;
            await OpenAsync(StartRequestId);
        }
    }

    /// <summary>Opens the run with <paramref name="requestId"/>.</summary>
    public async Task OpenAsync(string requestId)
    {
        _runError = null;
        try
        {
            _run = await PipelinesApi.FindRunAsync(Pipeline.Name, requestId);
            if (_run is null)
            {
                _runError = $"No run of {Pipeline.Name} has the request id {requestId} (yet: a run is recorded a moment after it answers).";
                return;
            }

            _runVersion = Pipeline.Versions.FirstOrDefault(v => v.Version == _run.Version)
                ?? await PipelinesApi.FindVersionAsync(Pipeline.Name, _run.Version);
        }
        catch (HttpRequestException ex)
        {
            _runError = ex.Message;
        }
    }

    private Task LoadAsync() => LoadWithAsync(async _ =>
    {
        _runs = await PipelinesApi.RunsAsync(Pipeline.Name, 50, null, _search);
    });

    private async Task SearchAsync()
    {
        await LoadAsync();
        if (!string.IsNullOrWhiteSpace(_search) && _runs is [var only])
        {
            await OpenAsync(only.RequestId);
        }
    }

    private async Task SearchKeyAsync(KeyboardEventArgs key)
    {
        if (key.Key == "Enter")
        {
            await SearchAsync();
        }
    }

    private Task PickAsync(TableRowClickEventArgs<PipelineRunDto> row)
        => row.Item is { } run ? OpenAsync(run.RequestId) : Task.CompletedTask;

    private PipelineGraphDto? GraphOf(PipelineRunDto run) => _runVersion is { } v && v.Version == run.Version ? v.Graph : null;

    private static Color StepColor(string state) => state switch
    {
        PipelineStepStates.Ran => Color.Success,
        PipelineStepStates.Failed => Color.Error,
        _ => Color.Default,
    };

    private static string Ms(double ms) => Format.Milliseconds(TimeSpan.FromMilliseconds(ms));

    // Tensors come as JSON text: indented when it parses, as sent when it does not.
    private static string Pretty(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return "–";
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(document.RootElement, Indented);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    private static string Rows(IReadOnlyList<int> rows) => string.Join(", ", rows.Select(r => r.ToString(CultureInfo.InvariantCulture)));
}
