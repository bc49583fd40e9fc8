using Mds.Backend.Cluster;

namespace Mds.Backend.Scheduling;

/// <summary>
/// Wakes the reconcile loop now instead of at its next tick. Many requests collapse into one run. It hears
/// <see cref="ClusterChanged"/>.
/// </summary>
public sealed class ReconcileSignal : IClusterChangeListener
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Request()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // already requested
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

    /// <inheritdoc/>
    public Task OnClusterChangedAsync(CancellationToken ct)
    {
        Request();
        return Task.CompletedTask;
    }
}
