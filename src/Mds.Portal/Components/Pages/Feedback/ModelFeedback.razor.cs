using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Plotly.Blazor;
using Plotly.Blazor.Traces;

namespace Mds.Portal.Components.Pages.Feedback;

/// <summary>A model's feedback: filterable list, and accuracy per hour or day.</summary>
public partial class ModelFeedback
{
    private IReadOnlyList<FeedbackDto>? _items;
    private IReadOnlyList<AccuracyPointDto>? _accuracy;
    private IList<ITrace> _accuracyTraces = [];
    private IReadOnlyList<int> _versions = [];
    private string _bucket = "day";
    private int? _filterVersion;
    private string _filterVerdict = "any";
    private string? _filterAnalyst;
    private DateRange? _filterDates;
    private bool _loading;

    [Inject]
    private FeedbackClient FeedbackApi { get; set; } = default!;

    [Inject]
    private ModelsClient ModelsApi { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    /// <summary>The model, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Models", href: "models"),
        new(Name, href: $"models/{Uri.EscapeDataString(Name)}"),
        new("Feedback", href: null, disabled: true),
    ];

    private string CorrectShare => _items is not { Count: > 0 } items
        ? "–"
        : string.Create(CultureInfo.InvariantCulture, $"{100.0 * items.Count(f => f.Correct) / items.Count:0.#} %");

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        try
        {
            if (await ModelsApi.FindAsync(Name) is { } model)
            {
                _versions = [.. model.Versions.Select(v => v.Version).OrderDescending()];
            }
        }
        catch (HttpRequestException)
        {
            // The version filter then offers nothing; the list below reports the failure.
        }

        await Task.WhenAll(LoadAsync(), LoadAccuracyAsync());
    }

    private async Task LoadAsync()
    {
        _loading = true;
        await LoadWithAsync(async _ =>
        {
            var filter = new FeedbackFilter(
                _filterVersion,
                _filterVerdict switch { "correct" => true, "incorrect" => false, _ => null },
                _filterAnalyst,
                _filterDates?.Start is { } start ? new DateTimeOffset(DateTime.SpecifyKind(start.Date, DateTimeKind.Utc)) : null,
                _filterDates?.End is { } end ? new DateTimeOffset(DateTime.SpecifyKind(end.Date.AddDays(1), DateTimeKind.Utc)) : null);
            _items = await FeedbackApi.ListAsync(Name, filter);
        });
        _loading = false;
    }

    private async Task SetBucketAsync(string bucket)
    {
        _bucket = bucket;
        await LoadAccuracyAsync();
    }

    private async Task LoadAccuracyAsync()
    {
        try
        {
            _accuracy = await FeedbackApi.AccuracyAsync(Name, _bucket);
            _accuracyTraces =
            [
                new Scatter
                {
                    Name = "accuracy",
                    Mode = Plotly.Blazor.Traces.ScatterLib.ModeFlag.Lines | Plotly.Blazor.Traces.ScatterLib.ModeFlag.Markers,
                    X = [.. _accuracy.Select(p => (object)p.BucketStart.UtcDateTime)],
                    Y = [.. _accuracy.Select(p => (object)Math.Round(100 * p.Accuracy, 1))],
                    TextArray = [.. _accuracy.Select(p => $"{p.Correct} of {p.Total} correct")],
                    HoverTemplate = "%{x}<br>%{y:.1f} % (%{text})<extra></extra>",
                    Line = new Plotly.Blazor.Traces.ScatterLib.Line { Color = "#2563eb", Width = 2 },
                },
            ];
        }
        catch (HttpRequestException ex)
        {
            _accuracy = [];
            Error ??= ex;
        }
    }
}
