using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// <c>GET /api/config</c>: the limits the backend's operator set (upload sizes, replicas, batch size), so the portal
/// checks a form against them rather than against copies of the backend's defaults.
/// </summary>
public sealed class ConfigClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>The backend's limits; throws <see cref="HttpRequestException"/> when it cannot say (401 included).</summary>
    public Task<ConfigDto> GetAsync(CancellationToken cancellationToken = default) => GetAsync<ConfigDto>("api/config", cancellationToken);
}
