using System.Globalization;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// KernelSHAP explanations: of a stored record's row (<c>/api/records/{id}/explanation</c>, kept once computed) and of a
/// row sent (<c>POST /api/models/{name}/versions/{v}/explain</c>). Computing one takes a few hundred model calls.
/// </summary>
public sealed class ExplanationsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>The record's kept explanation of <paramref name="row"/>, or null when none has been computed yet.</summary>
    public Task<ExplanationDto?> FindAsync(Guid recordId, int row = 0, CancellationToken cancellationToken = default)
        => FindAsync<ExplanationDto>(ExplanationPath(recordId, row), cancellationToken);

    /// <summary>Computes (or returns the kept) explanation of the record's row; throws with the backend's reason when it cannot.</summary>
    public Task<ExplanationDto> ExplainRecordAsync(Guid recordId, int row = 0, CancellationToken cancellationToken = default)
        => SendForAsync<ExplanationDto>(HttpMethod.Post, ExplanationPath(recordId, row), null, cancellationToken);

    /// <summary>
    /// Explains one row sent, a cell a column (numbers as <see cref="double"/>, text columns as <see cref="string"/>;
    /// nothing is kept); throws with the backend's reason when it cannot.
    /// </summary>
    public async Task<ExplanationDto> ExplainRowAsync(string name, int version, IReadOnlyList<object> cells, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var row = cells.Select(c => JsonSerializer.SerializeToElement(c)).ToList();
        return await SendForAsync<ExplanationDto>(HttpMethod.Post, ModelsClient.VersionPath(name, version) + "/explain",
            await JsonBodyAsync(new ExplainRowsDto([row]), cancellationToken), cancellationToken);
    }

    private static string ExplanationPath(Guid recordId, int row)
        => string.Create(CultureInfo.InvariantCulture, $"{RecordsClient.RecordPath(recordId)}/explanation?row={row}");
}
