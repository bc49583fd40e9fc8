using Mds.Backend.Cluster;

namespace Mds.Backend.Gateway;

/// <summary>The routing table hears <see cref="ClusterChanged"/>: it is rebuilt before the change's request answers.</summary>
internal sealed class RoutingTableListener(RoutingTable table) : IClusterChangeListener
{
    public Task OnClusterChangedAsync(CancellationToken ct) => table.RefreshAsync(ct);
}
