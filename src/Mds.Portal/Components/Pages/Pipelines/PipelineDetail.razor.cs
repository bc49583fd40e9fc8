using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>
/// One pipeline: its graph, spec, versions, a form to try it, the run inspector and CSV batches, as tabs
/// (<c>?tab=runs&amp;run={requestId}</c> opens a run). Refreshed every few seconds while open.
/// </summary>
public partial class PipelineDetail
{
    private static readonly string[] Tabs = ["graph", "spec", "versions", "try", "runs", "batch"];

    private PipelineDto? _pipeline;
    private int? _pickedVersion;
    private bool _notFound;
    private bool _canManage;
    private int _tab;

    [Inject]
    private PipelinesClient PipelinesApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The pipeline's name, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>The tab to open: graph, spec, versions, try, runs or batch.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "tab")]
    public string? Tab { get; set; }

    /// <summary>A run to open in the Runs tab.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "run")]
    public string? RunId { get; set; }

    /// <summary>The version shown in Graph and Spec: the one picked in Versions, else the live one, else the latest.</summary>
    private PipelineVersionDto? Shown => _pipeline is null
        ? null
        : _pipeline.Versions.FirstOrDefault(v => v.Version == (_pickedVersion ?? _pipeline.LiveVersion ?? _pipeline.LatestVersion))
            ?? _pipeline.Versions.FirstOrDefault();

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Pipelines", href: "pipelines"),
        new(Name, href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (AuthenticationState is not null)
        {
            var user = (await AuthenticationState).User;
            _canManage = user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Researcher);
        }

        int index = Array.IndexOf(Tabs, Tab?.ToLowerInvariant());
        _tab = index >= 0 ? index : RunId is null ? 0 : Array.IndexOf(Tabs, "runs");
        if (_pipeline is null || !string.Equals(_pipeline.Name, Name, StringComparison.Ordinal))
        {
            _pipeline = null;
            _pickedVersion = null;
            await LoadAsync();
        }
    }

    /// <inheritdoc />
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            RefreshEvery(TimeSpan.FromSeconds(5), LoadAsync);
        }
    }

    private Task LoadAsync() => LoadWithAsync(async stopping =>
    {
        _pipeline = await PipelinesApi.FindAsync(Name, stopping);
        _notFound = _pipeline is null;
    });

    private void PickVersion(TableRowClickEventArgs<PipelineVersionDto> row)
    {
        if (row.Item is { } version)
        {
            _pickedVersion = version.Version;
            _tab = Array.IndexOf(Tabs, "graph");
        }
    }

    private async Task AppliedAsync(PipelineApplyResult result)
    {
        Snackbar.Add($"{result.Name} v{result.Version} {(result.Created ? "applied" : "unchanged")}: {result.State}.", Severity.Success);
        _pickedVersion = result.Version;
        await LoadAsync();
    }

    private async Task DeleteAsync()
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Delete the pipeline {Name}?", "All its versions go; callers of /v2/pipelines/" + Name + " get 404. Its models stay.",
            yesText: "Delete", cancelText: "Cancel");
        if (confirmed != true)
        {
            return;
        }

        try
        {
            await PipelinesApi.DeleteAsync(Name);
            Snackbar.Add($"Pipeline {Name} deleted.", Severity.Success);
            Navigation.NavigateTo("pipelines");
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }
}
