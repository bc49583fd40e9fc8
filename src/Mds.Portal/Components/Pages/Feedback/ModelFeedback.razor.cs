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
    private IList<object>? _accuracyRange;
    private AxisTicks? _accuracyTicks;
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
            (_accuracyTraces, _accuracyRange, _accuracyTicks) = AccuracyChart(_accuracy, _bucket);
        }
        catch (HttpRequestException ex)
        {
            _accuracy = [];
            Error ??= ex;
        }
    }

    /// <summary>
    /// Accuracy per bucket on an axis fitted to the buckets with one bucket's margin either side (a single day sits in
    /// the middle, whole, not half cut off in a corner); days are ticked by date ("Dec 5"), at most about eight ticks.
    /// </summary>
    public static (IList<ITrace> Traces, IList<object>? XRange, AxisTicks? XTicks) AccuracyChart(IReadOnlyList<AccuracyPointDto> accuracy, string bucket)
    {
        ArgumentNullException.ThrowIfNull(accuracy);
        bool days = bucket != "hour";
        var size = days ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1);
        IList<ITrace> traces =
        [
            new Scatter
            {
                Name = "accuracy",
                Mode = Plotly.Blazor.Traces.ScatterLib.ModeFlag.Lines | Plotly.Blazor.Traces.ScatterLib.ModeFlag.Markers,
                X = [.. accuracy.Select(p => (object)p.BucketStart.UtcDateTime)],
                Y = [.. accuracy.Select(p => (object)Math.Round(100 * p.Accuracy, 1))],
                TextArray = [.. accuracy.Select(p => $"{(days ? p.BucketStart.ToString("MMM d", CultureInfo.InvariantCulture) : Format.Time(p.BucketStart))}: {p.Correct} of {p.Total} correct")],
                HoverTemplate = "%{text}<br>%{y:.1f} %<extra></extra>",
                Line = new Plotly.Blazor.Traces.ScatterLib.Line { Color = "#2563eb", Width = 2 },
                Marker = new Plotly.Blazor.Traces.ScatterLib.Marker { Size = 8 },
                ClipOnAxis = false, // a point at 100 % is drawn whole on the axis's top edge
            },
        ];
        if (accuracy.Count == 0)
        {
            return (traces, null, null);
        }

        var from = accuracy.Min(p => p.BucketStart.UtcDateTime) - size;
        var to = accuracy.Max(p => p.BucketStart.UtcDateTime) + size;
        if (!days)
        {
            return (traces, [from, to], null);
        }

        int count = (int)Math.Round((to - from) / size) + 1;
        int step = Math.Max(1, (int)Math.Ceiling(count / 8.0));
        var ticks = Enumerable.Range(0, count).Where(i => i % step == 0).Select(i => from.AddDays(i)).ToList();
        return (traces, [from - (size / 2), to + (size / 2)],
            new AxisTicks([.. ticks.Select(t => (object)t)], [.. ticks.Select(t => (object)t.ToString("MMM d", CultureInfo.InvariantCulture))]));
    }
}
