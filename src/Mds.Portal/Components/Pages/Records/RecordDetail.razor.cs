using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Records;

/// <summary>
/// One inference record: who called, how long it took, where it ran, its tensors, the feedback given on it, its outlier
/// score, and its explanation (computed on request and then kept).
/// </summary>
public partial class RecordDetail
{
    private InferenceRecordDto? _record;
    private RecordTensors _inputs = RecordTensors.None;
    private RecordTensors _outputs = RecordTensors.None;
    private int _rows = 1;
    private int _row;
    private ExplanationDto? _explanation;
    private bool _explanationChecked;
    private bool _explaining;
    private string? _explainError;
    private bool _notFound;

    [Inject]
    private RecordsClient RecordsApi { get; set; } = default!;

    [Inject]
    private ExplanationsClient ExplanationsApi { get; set; } = default!;

    /// <summary>The record's id, from the route.</summary>
    [Parameter]
    public Guid Id { get; set; }

    /// <summary>The page of record <paramref name="id"/>.</summary>
    public static string Href(Guid id) => "records/" + id.ToString("D", CultureInfo.InvariantCulture);

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Audit log", href: "records"),
        new(_record?.Record.RequestId ?? Id.ToString("D", CultureInfo.InvariantCulture), href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (_record?.Record.Id != Id)
        {
            _record = null;
            _row = 0;
            await LoadAsync();
        }
    }

    private Task LoadAsync() => LoadWithAsync(async _ =>
    {
        _record = await RecordsApi.FindAsync(Id);
        _notFound = _record is null;
        if (_record is not null)
        {
            _inputs = RecordTensors.Read(_record.Request, "inputs");
            _outputs = RecordTensors.Read(_record.Response, "outputs");
            _rows = RecordTensors.Rows(_record.Request);
            await LoadExplanationAsync();
        }
    });

    // The kept explanation, if one was computed; a failed request has none to look for.
    private async Task LoadExplanationAsync()
    {
        _explanation = null;
        _explainError = null;
        _explanationChecked = false;
        if (_record is not { Record.Status: < 400 })
        {
            return;
        }

        try
        {
            _explanation = await ExplanationsApi.FindAsync(Id, _row);
        }
        catch (HttpRequestException ex) when (ex.StatusCode != HttpStatusCode.Unauthorized)
        {
            _explainError = ex.Message;
        }
        finally
        {
            _explanationChecked = true;
        }
    }

    private async Task SelectRowAsync(int row)
    {
        _row = row;
        await LoadExplanationAsync();
    }

    private async Task ExplainAsync()
    {
        _explaining = true;
        _explainError = null;
        StateHasChanged();
        try
        {
            _explanation = await ExplanationsApi.ExplainRecordAsync(Id, _row);
        }
        catch (HttpRequestException ex)
        {
            _explainError = "It cannot be explained: " + ex.Message;
        }
        finally
        {
            _explaining = false;
        }
    }
}
