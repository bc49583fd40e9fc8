using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;

namespace Mds.Portal.Components.Pages.Workers;

/// <summary>The worker list (Admin): state, capacity and replicas of every worker, refreshed while open.</summary>
public partial class WorkerList
{
    [Inject]
    private WorkersClient WorkersApi { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    /// <summary>The workers, carried from the prerendered page into the circuit so they are not fetched twice.</summary>
    [PersistentState]
    public IReadOnlyList<WorkerDto>? Workers { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        if (Workers is null)
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

    private Task LoadAsync() => LoadWithAsync(async stopping => Workers = await WorkersApi.ListAsync(stopping));

    private static double MemoryPercent(WorkerDto worker)
        => worker.MemoryCapacityMb <= 0 ? 0 : Math.Min(100, 100.0 * worker.MemoryInUseBytes / (worker.MemoryCapacityMb * 1024.0 * 1024.0));
}
