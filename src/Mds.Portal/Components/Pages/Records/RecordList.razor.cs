using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Records;

/// <summary>
/// The audit log: inference records searched by model, version, status, time, request id and outliers, newest first,
/// a page at a time. The address's query sets the first search, so the model page links to its records and outliers.
/// </summary>
public partial class RecordList
{
    /// <summary>Records per page.</summary>
    public const int PageSize = 50;

    private const string AnyStatus = "any";
    private const string CodeStatus = "code";

    private RecordFilter _filter = new(Take: PageSize);
    private RecordFilter? _fromQuery;
    private InferenceRecordPageDto? _page;
    private IReadOnlyList<ModelDto> _models = [];
    private DateRange? _dates;
    private int? _statusCode;
    private string _statusChoice = AnyStatus;
    private bool _loading;

    [Inject]
    private RecordsClient RecordsApi { get; set; } = default!;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    /// <summary><c>?model=iris</c>: only this model's records.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "model")]
    public string? Model { get; set; }

    /// <summary><c>?version=2</c>: only this version's records.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "version")]
    public int? Version { get; set; }

    /// <summary><c>?status=ok</c>, <c>error</c> or a code such as <c>503</c>.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "status")]
    public string? Status { get; set; }

    /// <summary><c>?requestId=…</c>: the records of one request.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "requestId")]
    public string? RequestId { get; set; }

    /// <summary><c>?experiment=…</c>: only the records of calls this experiment routed.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "experiment")]
    public string? Experiment { get; set; }

    /// <summary><c>?candidate=…</c>: only the records of calls routed to this candidate (with <c>experiment</c>).</summary>
    [Parameter, SupplyParameterFromQuery(Name = "candidate")]
    public string? Candidate { get; set; }

    /// <summary><c>?outliers=true</c>: only records flagged as outliers.</summary>
    [Parameter, SupplyParameterFromQuery(Name = "outliers")]
    public bool? Outliers { get; set; }

    private IEnumerable<int> Versions => _models.FirstOrDefault(m => m.Name == _filter.Model) is { } model
        ? model.Versions.Select(v => v.Version).OrderDescending()
        : [];

    private string PageText => _page is null || _page.Records.Count == 0
        ? ""
        : string.Create(CultureInfo.InvariantCulture, $"{Offset + 1}–{Offset + _page.Records.Count}{(_page.HasMore ? " and older" : "")}");

    // Pages go by cursor (the backend refuses deep skips): the cursors of the pages before this one, newest first.
    private readonly List<string?> _newer = [];

    private int Offset => _newer.Count * PageSize;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        try
        {
            _models = [.. (await ModelsApi.ListAsync()).OrderBy(m => m.Name, StringComparer.Ordinal)];
        }
        catch (HttpRequestException)
        {
            // The model filter then offers nothing; the search below reports the failure.
        }
    }

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        var fromQuery = new RecordFilter(
            string.IsNullOrWhiteSpace(Model) ? null : Model, Version, string.IsNullOrWhiteSpace(Status) ? null : Status.Trim().ToLowerInvariant(),
            RequestId: string.IsNullOrWhiteSpace(RequestId) ? null : RequestId, OutliersOnly: Outliers == true, Take: PageSize,
            Experiment: string.IsNullOrWhiteSpace(Experiment) ? null : Experiment.Trim(), Candidate: string.IsNullOrWhiteSpace(Candidate) ? null : Candidate.Trim());
        if (fromQuery == _fromQuery)
        {
            return;
        }

        _fromQuery = fromQuery;
        _filter = fromQuery;
        _dates = null;
        (_statusChoice, _statusCode) = fromQuery.Status switch
        {
            null => (AnyStatus, null),
            "ok" or "error" => (fromQuery.Status, (int?)null),
            var code => (CodeStatus, int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out int c) ? c : null),
        };
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        _loading = true;
        await LoadWithAsync(async _ => _page = await RecordsApi.SearchAsync(_filter));
        _loading = false;
    }

    // Any change of the search starts again from the newest records.
    private async Task FilterAsync(RecordFilter filter)
    {
        _filter = filter with { Skip = 0, Before = null };
        _newer.Clear();
        await LoadAsync();
    }

    private Task SelectModelAsync(string? model) => FilterAsync(_filter with { Model = model, Version = null });

    private Task SelectStatusAsync(string? choice)
    {
        _statusChoice = choice ?? AnyStatus;
        return _statusChoice switch
        {
            AnyStatus => FilterAsync(_filter with { Status = null }),
            CodeStatus => _statusCode is { } code ? FilterAsync(_filter with { Status = code.ToString(CultureInfo.InvariantCulture) }) : Task.CompletedTask,
            var status => FilterAsync(_filter with { Status = status }),
        };
    }

    private Task SetStatusCodeAsync(int? code)
    {
        _statusCode = code;
        return code is >= 100 and <= 599
            ? FilterAsync(_filter with { Status = code.Value.ToString(CultureInfo.InvariantCulture) })
            : code is null ? FilterAsync(_filter with { Status = null }) : Task.CompletedTask;
    }

    private Task SetDatesAsync(DateRange? dates)
    {
        _dates = dates;
        return FilterAsync(_filter with
        {
            From = dates?.Start is { } start ? new DateTimeOffset(DateTime.SpecifyKind(start.Date, DateTimeKind.Utc)) : null,
            To = dates?.End is { } end ? new DateTimeOffset(DateTime.SpecifyKind(end.Date.AddDays(1), DateTimeKind.Utc)) : null,
        });
    }

    private async Task NewerAsync()
    {
        if (_newer.Count == 0)
        {
            return;
        }

        _filter = _filter with { Before = _newer[^1] };
        _newer.RemoveAt(_newer.Count - 1);
        await LoadAsync();
    }

    private async Task OlderAsync()
    {
        if (_page?.NextCursor is not { } next)
        {
            return;
        }

        _newer.Add(_filter.Before);
        _filter = _filter with { Before = next };
        await LoadAsync();
    }

    private void Open(TableRowClickEventArgs<InferenceRecordSummaryDto> click)
    {
        if (click.Item is { } record)
        {
            Navigation.NavigateTo(RecordDetail.Href(record.Id));
        }
    }

    private bool ShowExperiments => _page?.Records.Any(r => r.Experiment is not null) == true;
}
