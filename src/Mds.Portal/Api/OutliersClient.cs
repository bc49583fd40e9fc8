using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>A version's outlier detector, fitted on its reference dataset: <c>/api/models/{name}/versions/{v}/outliers</c>.</summary>
public sealed class OutliersClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>The detector, or null when the version has no reference dataset.</summary>
    public Task<OutlierDetectorDto?> FindAsync(string name, int version, CancellationToken cancellationToken = default)
        => FindAsync<OutlierDetectorDto>(OutliersPath(name, version), cancellationToken);

    /// <summary>Scores feature rows against the reference; throws with the backend's reason when it cannot.</summary>
    public async Task<OutlierScoresDto> ScoreAsync(string name, int version, FeatureRowsDto rows, CancellationToken cancellationToken = default)
        => await SendForAsync<OutlierScoresDto>(HttpMethod.Post, OutliersPath(name, version) + "/score", await JsonBodyAsync(rows, cancellationToken), cancellationToken);

    private static string OutliersPath(string name, int version) => ModelsClient.VersionPath(name, version) + "/outliers";
}
