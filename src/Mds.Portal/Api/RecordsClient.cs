using System.Globalization;
using System.Text;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>The audit log of inferences: <c>GET /api/records</c>, <c>GET /api/records/{id}</c>.</summary>
public sealed class RecordsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>A page of records matching <paramref name="filter"/>, newest first.</summary>
    public Task<InferenceRecordPageDto> SearchAsync(RecordFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return GetAsync<InferenceRecordPageDto>(filter.ToQuery(), cancellationToken);
    }

    /// <summary>One record with its tensors and feedback, or null when there is none (or it is past retention).</summary>
    public Task<InferenceRecordDto?> FindAsync(Guid id, CancellationToken cancellationToken = default)
        => FindAsync<InferenceRecordDto>(RecordPath(id), cancellationToken);

    /// <summary><c>api/records/{id}</c>.</summary>
    internal static string RecordPath(Guid id) => "api/records/" + id.ToString("D", CultureInfo.InvariantCulture);
}

/// <summary>
/// Which records to list: every field optional. <see cref="Status"/> is <c>ok</c>, <c>error</c> or an HTTP status code;
/// <see cref="Before"/> is the previous page's <c>nextCursor</c> (keyset paging, cheap at any depth);
/// <see cref="Experiment"/> and <see cref="Candidate"/> keep the records an experiment routed (to that candidate).
/// </summary>
public sealed record RecordFilter(
    string? Model = null, int? Version = null, string? Status = null, DateTimeOffset? From = null, DateTimeOffset? To = null,
    string? RequestId = null, bool OutliersOnly = false, int Skip = 0, int Take = 50, string? Before = null,
    string? Experiment = null, string? Candidate = null)
{
    /// <summary>The search's path and query, e.g. <c>api/records?model=iris&amp;outliers=true&amp;skip=0&amp;take=50</c>.</summary>
    public string ToQuery()
    {
        var query = new StringBuilder("api/records?");
        if (!string.IsNullOrWhiteSpace(Model))
        {
            query.Append("model=").Append(Uri.EscapeDataString(Model.Trim())).Append('&');
        }

        if (Version is { } version)
        {
            query.Append("version=").Append(version.ToString(CultureInfo.InvariantCulture)).Append('&');
        }

        if (!string.IsNullOrWhiteSpace(Status))
        {
            query.Append("status=").Append(Uri.EscapeDataString(Status.Trim())).Append('&');
        }

        if (From is { } from)
        {
            query.Append("from=").Append(Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))).Append('&');
        }

        if (To is { } to)
        {
            query.Append("to=").Append(Uri.EscapeDataString(to.ToString("O", CultureInfo.InvariantCulture))).Append('&');
        }

        if (!string.IsNullOrWhiteSpace(RequestId))
        {
            query.Append("requestId=").Append(Uri.EscapeDataString(RequestId.Trim())).Append('&');
        }

        if (!string.IsNullOrWhiteSpace(Experiment))
        {
            query.Append("experiment=").Append(Uri.EscapeDataString(Experiment.Trim())).Append('&');
        }

        if (!string.IsNullOrWhiteSpace(Candidate))
        {
            query.Append("candidate=").Append(Uri.EscapeDataString(Candidate.Trim())).Append('&');
        }

        if (OutliersOnly)
        {
            query.Append("outliers=true&");
        }

        query.Append("skip=").Append(Skip.ToString(CultureInfo.InvariantCulture))
            .Append("&take=").Append(Take.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(Before))
        {
            query.Append("&before=").Append(Uri.EscapeDataString(Before));
        }

        return query.ToString();
    }
}
