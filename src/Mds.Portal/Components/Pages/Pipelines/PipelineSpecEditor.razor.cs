using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>
/// Edits a pipeline spec: Validate asks the backend for a dry run, Apply makes it a version. The backend's problems
/// show in place: listed with their line numbers under the text, and those lines marked in the gutter beside it.
/// </summary>
public partial class PipelineSpecEditor
{
    private string _text = "";
    private string? _loadedText;
    private IReadOnlyList<PipelineSpecProblemDto> _problems = [];
    private string? _error;
    private bool _valid;
    private PipelineApplyResult? _checked;
    private PipelineApplyResult? _applied;
    private bool _busy;

    [Inject]
    private PipelinesClient PipelinesApi { get; set; } = default!;

    /// <summary>The spec to start from (a version's text, or a template).</summary>
    [Parameter]
    public string? Text { get; set; }

    /// <summary>True for a Researcher or Admin: the text can be changed, checked and applied.</summary>
    [Parameter]
    public bool CanEdit { get; set; }

    /// <summary>Called once a spec has been applied.</summary>
    [Parameter]
    public EventCallback<PipelineApplyResult> OnApplied { get; set; }

    private int LineCount => Math.Max(1, _text.Split('\n').Length);

    private HashSet<int> BadLines => [.. _problems.Select(p => p.Line).OfType<int>()];

    /// <inheritdoc />
    protected override void OnParametersSet()
    {
        // A new starting text (another version picked) replaces the editor's; a re-render with the same text keeps edits.
        if (!string.Equals(Text, _loadedText, StringComparison.Ordinal))
        {
            _loadedText = Text;
            _text = Text ?? "";
            Clear();
        }
    }

    private void TextChanged(string? text)
    {
        _text = text ?? "";
        _valid = false;
        _checked = null;
    }

    private string ProblemsAt(int line)
        => string.Join("\n", _problems.Where(p => p.Line == line).Select(p => p.Message));

    private void Clear()
    {
        _problems = [];
        _error = null;
        _valid = false;
        _checked = null;
        _applied = null;
    }

    private Task ValidateAsync() => SendAsync(dryRun: true);

    private Task ApplyAsync() => SendAsync(dryRun: false);

    private async Task SendAsync(bool dryRun)
    {
        _busy = true;
        Clear();
        try
        {
            var outcome = await PipelinesApi.ApplyAsync(_text, dryRun);
            _problems = outcome.Problems;
            _error = outcome.Error;
            if (outcome.Accepted)
            {
                if (dryRun)
                {
                    _valid = true;
                    _checked = outcome.Result;
                }
                else if (outcome.Result is { } applied)
                {
                    _applied = applied;
                    await OnApplied.InvokeAsync(applied);
                }
            }
        }
        catch (HttpRequestException ex)
        {
            _error = ex.StatusCode == HttpStatusCode.Forbidden ? "Your role does not allow changing pipelines." : ex.Message;
        }
        finally
        {
            _busy = false;
        }
    }
}
