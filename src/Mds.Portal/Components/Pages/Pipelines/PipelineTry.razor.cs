using System.Net;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Components.Pages.Try;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>
/// One request through a pipeline: the form is the models' <see cref="TryForm"/>, built from the pipeline's V2
/// metadata (<c>GET /v2/pipelines/{name}</c>; the pipeline's own inputs when that is not there).
/// </summary>
public partial class PipelineTry
{
    private string? _loadedFor;
    private TryForm? _form;
    private string? _formError;
    private string? _metadataError;
    private bool _sending;
    private InferenceOutcome? _outcome;

    [Inject]
    private PipelinesClient PipelinesApi { get; set; } = default!;

    [Inject]
    private InferenceClient InferenceApi { get; set; } = default!;

    /// <summary>The pipeline to run.</summary>
    [Parameter, EditorRequired]
    public PipelineDto Pipeline { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        // The page refreshes the pipeline every few seconds: the form is built once per pipeline, not per refresh.
        if (string.Equals(_loadedFor, Pipeline.Name, StringComparison.Ordinal))
        {
            return;
        }

        _loadedFor = Pipeline.Name;
        _outcome = null;
        IReadOnlyList<TensorMetadata> inputs = Pipeline.Inputs;
        try
        {
            if (await PipelinesApi.MetadataAsync(Pipeline.Name) is { Inputs.Count: > 0 } metadata)
            {
                inputs = metadata.Inputs;
            }

            _metadataError = null;
        }
        catch (HttpRequestException ex)
        {
            _metadataError = $"The pipeline's metadata cannot be read ({ex.Message}); the form follows its steps' inputs.";
        }

        _form = TryForm.Create(inputs, null);
    }

    private string InspectHref(string requestId)
        => $"pipelines/{Uri.EscapeDataString(Pipeline.Name)}?tab=runs&run={Uri.EscapeDataString(requestId)}";

    private async Task SendAsync()
    {
        if (_form is null)
        {
            return;
        }

        if (!_form.TryBuildRequest(out var request, out _formError))
        {
            return;
        }

        _sending = true;
        _outcome = null;
        try
        {
            _outcome = await InferenceApi.InferPipelineAsync(Pipeline.Name, request);
        }
        finally
        {
            _sending = false;
        }
    }
}
