namespace Mds.Backend.Cluster;

/// <summary>Something that must hear at once when this backend changed what the cluster should run or can answer.</summary>
public interface IClusterChangeListener
{
    /// <summary>Called after the change was committed; the caller waits for it (a listener that only wakes a loop returns at once).</summary>
    Task OnClusterChangedAsync(CancellationToken ct);
}

/// <summary>
/// The one "the cluster changed" signal of this backend: a version uploaded, deleted, made live, scaled or retried; a
/// worker registered, drained or activated; a replica Ready or Failed; a heartbeat that disagreed with the database. The
/// writer raises it after its commit; every <see cref="IClusterChangeListener"/> hears it (the gateway's routing table
/// rebuilds itself, the reconciler wakes). In-process only: other backends see the change through their routing
/// table's short timer and the reconciler's tick, as before.
/// </summary>
public sealed class ClusterChanged(IEnumerable<IClusterChangeListener> listeners)
{
    private readonly IClusterChangeListener[] _listeners = [.. listeners];

    /// <summary>Tells every listener, one after the other in registration order, and returns when all have heard it.</summary>
    public async Task RaiseAsync(CancellationToken ct)
    {
        foreach (var listener in _listeners)
        {
            await listener.OnClusterChangedAsync(ct);
        }
    }
}
