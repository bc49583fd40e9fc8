using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Models;

/// <summary>The model list: every model, searchable by name and tag, filtered by a tag, refreshed every few seconds while open.</summary>
public partial class ModelList
{
    private const int MaxTagsShown = 24;
    private string _search = "";
    private IReadOnlyList<DriftStatusDto> _drift = [];

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private DriftClient DriftApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    /// <summary>Only models with this tag (<c>?tag=fraud</c>); every model when absent.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "tag")]
    public string? Tag { get; set; }

    /// <summary>The models, carried from the prerendered page into the circuit so they are not fetched twice.</summary>
    [PersistentState]
    public IReadOnlyList<ModelDto>? Models { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        if (Models is null)
        {
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
        Models = await ModelsApi.ListAsync(stopping);
        _drift = await DriftStatus.ReadAsync(DriftApi, stopping);
    });

    private string? SelectedTag => string.IsNullOrWhiteSpace(Tag) ? null : ModelTags.Normalize(Tag);

    private bool MatchesSearch(ModelDto model) => ModelTags.Matches(model, _search, SelectedTag);

    private string NoMatch => (SelectedTag, string.IsNullOrWhiteSpace(_search)) switch
    {
        (null, _) => $"No model's name or tags contain “{_search}”.",
        ({ } tag, true) => $"No model is tagged “{tag}”.",
        ({ } tag, false) => $"No model tagged “{tag}” has “{_search}” in its name or tags.",
    };

    // The tag lives in the address, so a filtered list can be linked to (the model page's tags link here).
    private static string TagHref(string? tag) => tag is null ? "models" : $"models?tag={Uri.EscapeDataString(tag)}";

    private void OpenModel(TableRowClickEventArgs<ModelDto> click)
    {
        if (click.Item is { } model)
        {
            Navigation.NavigateTo(DetailHref(model));
        }
    }

    private static string DetailHref(ModelDto model) => $"models/{Uri.EscapeDataString(model.Name)}";
}
