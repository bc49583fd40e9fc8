using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Models;

/// <summary>One model: its versions, each with its schema and replicas; refreshed every few seconds while open.</summary>
public partial class ModelDetail
{
    private readonly HashSet<int> _expanded = [];
    private bool _notFound;
    private IReadOnlyList<DriftStatusDto> _drift = [];

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private DriftClient DriftApi { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private Microsoft.Extensions.Options.IOptions<PortalOptions> Options { get; set; } = default!;

    [CascadingParameter]
    private Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState>? AuthenticationState { get; set; }

    private bool _canManage;

    private Uri Backend => Options.Value.BackendUrl;

    /// <summary>The model's name, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>The model, carried from the prerendered page into the circuit so it is not fetched twice.</summary>
    [PersistentState]
    public ModelDto? Model { get; set; }

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
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

        if (Model is null || !string.Equals(Model.Name, Name, StringComparison.Ordinal))
        {
            Model = null;
            _expanded.Clear();
            await LoadAsync();
        }
        else
        {
            ExpandHeadlineOnce();
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
        Model = await ModelsApi.FindAsync(Name, stopping);
        _notFound = Model is null;
        ExpandHeadlineOnce();
        _drift = Model is null ? [] : await DriftStatus.ReadAsync(DriftApi, stopping);
    });

    // The live (or newest) version starts open; after that the reader decides what is open.
    private void ExpandHeadlineOnce()
    {
        if (_expanded.Count == 0 && Model is not null && ModelSummary.Headline(Model) is { } headline)
        {
            _expanded.Add(headline.Version);
        }
    }

    private void SetExpanded(int version, bool open)
    {
        if (open)
        {
            _expanded.Add(version);
        }
        else
        {
            _expanded.Remove(version);
        }
    }

    private async Task SetLiveAsync(ModelVersionDto version)
        => await ActAsync(() => ModelsApi.SetLiveAsync(Name, version.Version, Stopping), $"v{version.Version} is now live.");

    private async Task RetryAsync(ModelVersionDto version)
        => await ActAsync(() => ModelsApi.RetryAsync(Name, version.Version, Stopping), $"v{version.Version}: placing it again on every eligible worker.");

    private async Task ScaleAsync(ModelVersionDto version)
    {
        var parameters = new DialogParameters<ScaleDialog>
        {
            { d => d.ModelName, Name },
            { d => d.Version, version },
        };
        var dialog = await Dialogs.ShowAsync<ScaleDialog>(null, parameters, new DialogOptions { MaxWidth = MaxWidth.Small, CloseOnEscapeKey = true });
        var result = await dialog.Result;
        if (result is { Canceled: false, Data: ScaleRequest scale })
        {
            Snackbar.Add(scale.MinReplicas is { } min
                ? $"v{version.Version}: {scale.Replicas} replicas, autoscaling {min}–{scale.MaxReplicas}."
                : $"v{version.Version}: {scale.Replicas} replicas.", Severity.Success);
            await LoadAsync();
        }
    }

    private async Task BatchingAsync(ModelVersionDto version)
    {
        var parameters = new DialogParameters<BatchingDialog>
        {
            { d => d.ModelName, Name },
            { d => d.Version, version },
        };
        var dialog = await Dialogs.ShowAsync<BatchingDialog>(null, parameters, new DialogOptions { MaxWidth = MaxWidth.Small, CloseOnEscapeKey = true });
        var result = await dialog.Result;
        if (result is { Canceled: false, Data: BatchingDto batching })
        {
            Snackbar.Add(batching.Enabled
                ? $"v{version.Version}: batching up to {batching.MaxBatchSize} rows, waiting at most {Format.Microseconds(batching.MaxLatencyMicroseconds)}."
                : $"v{version.Version}: batching off.", Severity.Success);
            await LoadAsync();
        }
    }

    private async Task EditTagsAsync()
    {
        var parameters = new DialogParameters<TagsDialog>
        {
            { d => d.ModelName, Name },
            { d => d.Tags, Model is null ? [] : ModelTags.Of(Model) },
        };
        var dialog = await Dialogs.ShowAsync<TagsDialog>(null, parameters, new DialogOptions { MaxWidth = MaxWidth.Small, CloseOnEscapeKey = true });
        var result = await dialog.Result;
        if (result is { Canceled: false, Data: ModelDto saved })
        {
            Model = saved;
            Snackbar.Add(ModelTags.Of(saved) is { Count: > 0 } tags ? $"Tags saved: {string.Join(", ", tags)}." : "Tags removed.", Severity.Success);
        }
    }

    private async Task DeleteAsync(ModelVersionDto version)
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Delete {Name} v{version.Version}?",
            version.IsLive
                ? "This is the live version: callers of the bare name will get the next version that is Ready, or errors. Its replicas are unloaded. This cannot be undone."
                : "Its replicas are unloaded and it no longer answers. This cannot be undone.",
            yesText: "Delete", cancelText: "Cancel");
        if (confirmed == true)
        {
            await ActAsync(() => ModelsApi.DeleteVersionAsync(Name, version.Version, Stopping), $"v{version.Version} deleted.");
        }
    }

    private async Task ActAsync(Func<Task> action, string done)
    {
        try
        {
            await action();
            Snackbar.Add(done, Severity.Success);
            await LoadAsync();
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }
}
