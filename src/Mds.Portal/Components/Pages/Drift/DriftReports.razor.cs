using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Plotly.Blazor;

namespace Mds.Portal.Components.Pages.Drift;

/// <summary>
/// A version's drift: each feature's p-value and PSI over the reports, one report's histograms per feature with its
/// verdict, and a button that runs a check now (the backend's reason shown when it cannot).
/// </summary>
public partial class DriftReports
{
    private DriftReportListDto? _list;
    private DriftSeries _pValues = new([], []);
    private DriftSeries _psi = new([], []);
    private long? _selectedId;
    private DriftReportDto? _report;
    private Dictionary<string, DriftHistogramChart> _histograms = [];
    private bool _running;
    private string? _runError;
    private bool _notFound;

    [Inject]
    private DriftClient DriftApi { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <summary>The model, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>The version, from the route.</summary>
    [Parameter]
    public int Version { get; set; }

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
        new(Name, href: $"models/{Uri.EscapeDataString(Name)}"),
        new($"v{Version} drift", href: null, disabled: true),
    ];

    /// <summary>The settings behind the reports, in words.</summary>
    public static string SettingsText(DriftReportListDto list)
    {
        ArgumentNullException.ThrowIfNull(list);
        return string.Create(CultureInfo.InvariantCulture,
            $"Each report compares the newest {list.WindowRows:N0} input rows with the reference dataset and needs at least {list.MinRows:N0} of them. ")
            + $"Reports are made on the schedule “{list.Schedule}” (cron, UTC) and whenever someone runs a check. "
            + "A numeric feature is tested with Kolmogorov–Smirnov, a categorical one with χ²; it drifted when its p-value is below α ÷ the number of features (Bonferroni).";
    }

    /// <summary>A report's verdict in one sentence.</summary>
    public static string Verdict(DriftReportDto report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var drifted = report.Features.Where(f => f.Drifted).Select(f => f.Feature).ToList();
        return (report.Drifted, drifted.Count) switch
        {
            (false, _) => "No drift: every feature's recent inputs fit the reference dataset.",
            (true, 0) => "Drift: the inputs as a whole differ from the reference dataset.",
            (true, 1) => $"Drift: {drifted[0]} differs from the reference dataset.",
            (true, _) => $"Drift: {string.Join(", ", drifted)} differ from the reference dataset.",
        };
    }

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        _list = null;
        _report = null;
        _selectedId = null;
        await LoadAsync();
    }

    private Task LoadAsync() => LoadWithAsync(async _ =>
    {
        try
        {
            _list = await DriftApi.ListAsync(Name, Version);
            _notFound = false;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            _notFound = true;
            return;
        }

        _pValues = DriftCharts.PValues(_list);
        _psi = DriftCharts.Psi(_list);
        if (_selectedId is null || _list.Reports.All(r => r.Id != _selectedId))
        {
            await OpenAsync(_list.Reports.Count > 0 ? _list.Reports[^1].Id : null);
        }
    });

    private async Task OpenAsync(long? id)
    {
        _selectedId = id;
        _report = null;
        if (id is not { } reportId)
        {
            return;
        }

        try
        {
            _report = await DriftApi.FindAsync(Name, Version, reportId);
            _histograms = _report is null
                ? []
                : _report.Features.Where(f => f.Histogram is not null).ToDictionary(f => f.Feature, f => DriftCharts.Histogram(f.Histogram!), StringComparer.Ordinal);
        }
        catch (HttpRequestException ex)
        {
            Error = ex;
        }
    }

    private async Task OpenPointAsync(DriftSeries series, ChartPoint point)
    {
        if (series.ReportAt(point.Trace, point.Point) is { } id && id != _selectedId)
        {
            await OpenAsync(id);
            StateHasChanged();
        }
    }

    private async Task RunAsync()
    {
        _running = true;
        _runError = null;
        StateHasChanged();
        try
        {
            var report = await DriftApi.RunAsync(Name, Version);
            Snackbar.Add($"Report #{report.Id}: {(report.Drifted ? "drift" : "no drift")}.", report.Drifted ? Severity.Warning : Severity.Success);
            await LoadAsync();
            await OpenAsync(report.Id);
        }
        catch (HttpRequestException ex)
        {
            _runError = ex.Message;
        }
        finally
        {
            _running = false;
        }
    }

    private static string ReportLabel(DriftReportDto report)
        => $"#{report.Id} · {Format.Time(report.Time)} · {report.Trigger} · {(report.Drifted ? "drift" : "no drift")}";

    private static string TestName(string test) => test switch
    {
        "ks" => "Kolmogorov–Smirnov",
        "chi2" => "χ²",
        _ => test,
    };

    private static string Number(double value) => value.ToString("G3", CultureInfo.InvariantCulture);
}
