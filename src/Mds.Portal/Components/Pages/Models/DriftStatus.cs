using Mds.Contracts.Api;
using Mds.Portal.Api;

namespace Mds.Portal.Components.Pages.Models;

/// <summary>Reads the drift verdicts for the badges, which are an extra: a backend that cannot say leaves them off.</summary>
public static class DriftStatus
{
    /// <summary>Every version's newest verdict; none when the backend does not answer with them.</summary>
    public static async Task<IReadOnlyList<DriftStatusDto>> ReadAsync(DriftClient drift, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(drift);
        try
        {
            return await drift.StatusAsync(cancellationToken);
        }
        catch (HttpRequestException)
        {
            // The page's own call reports a backend that is down; a missing badge says nothing wrong.
            return [];
        }
    }
}
