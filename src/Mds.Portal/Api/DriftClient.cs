using System.Globalization;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>Drift reports: <c>/api/models/{name}/versions/{v}/drift</c> and the verdicts for badges, <c>/api/drift/status</c>.</summary>
public sealed class DriftClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>The version's newest <paramref name="take"/> reports, oldest first (features without histograms), with the settings.</summary>
    public Task<DriftReportListDto> ListAsync(string name, int version, int take = 100, CancellationToken cancellationToken = default)
        => GetAsync<DriftReportListDto>(string.Create(CultureInfo.InvariantCulture, $"{DriftPath(name, version)}?take={take}"), cancellationToken);

    /// <summary>One report with its histograms, or null when there is no such report.</summary>
    public Task<DriftReportDto?> FindAsync(string name, int version, long id, CancellationToken cancellationToken = default)
        => FindAsync<DriftReportDto>(string.Create(CultureInfo.InvariantCulture, $"{DriftPath(name, version)}/{id}"), cancellationToken);

    /// <summary>Computes a report now; throws with the backend's reason when it cannot (too few rows, no reference dataset).</summary>
    public Task<DriftReportDto> RunAsync(string name, int version, CancellationToken cancellationToken = default)
        => SendForAsync<DriftReportDto>(HttpMethod.Post, DriftPath(name, version), null, cancellationToken);

    /// <summary>The newest report's verdict of every version that has one.</summary>
    public Task<IReadOnlyList<DriftStatusDto>> StatusAsync(CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<DriftStatusDto>>("api/drift/status", cancellationToken);

    private static string DriftPath(string name, int version) => ModelsClient.VersionPath(name, version) + "/drift";
}
