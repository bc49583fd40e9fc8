using System.Globalization;
using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Plotly.Blazor;
using Plotly.Blazor.Traces;

namespace Mds.Portal.Components.Pages.Admin;

/// <summary>The admin dashboard: workers, replicas by state, traffic and latency per model, recent failures.</summary>
public partial class Dashboard
{
    private static readonly string[] Palette = ["#2563eb", "#0d9488", "#d97706", "#db2777", "#7c3aed", "#16a34a", "#dc2626", "#0891b2"];
    private IReadOnlyList<WorkerDto>? _workers;
    private IReadOnlyList<TrafficPointDto> _traffic = [];
    private IReadOnlyList<FailureDto> _failures = [];
    private IList<ITrace> _replicaTraces = [];
    private IList<ITrace> _requestTraces = [];
    private IList<ITrace> _latencyTraces = [];
    private decimal _replicaDtick = 1;
    private string? _selectedModel;
    private bool _statsMissing;

    [Inject]
    private WorkersClient WorkersApi { get; set; } = default!;

    [Inject]
    private StatsClient StatsApi { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    private IReadOnlyList<string> Models => [.. _traffic.Select(t => t.Model).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    private string? SelectedModel => _selectedModel is { } chosen && Models.Contains(chosen) ? chosen : Models.FirstOrDefault();

    private int RequestsLastMinute => _traffic.Count == 0 ? 0 : _traffic.Where(t => t.Minute == _traffic.Max(x => x.Minute)).Sum(t => t.Requests);

    private IReadOnlyList<ModelTraffic> Summary => [.. _traffic.GroupBy(t => t.Model, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(ModelTraffic.Of)];

    /// <inheritdoc />
    protected override async Task OnInitializedAsync() => await LoadAsync();

    /// <inheritdoc />
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            RefreshEvery(TimeSpan.FromSeconds(5), LoadAsync);
        }
    }

    private Task LoadAsync() => LoadWithAsync(async stopping =>
    {
        var workers = WorkersApi.ListAsync(stopping);
        var traffic = StatsApi.TrafficAsync(60, stopping);
        var failures = StatsApi.FailuresAsync(50, stopping);
        _workers = await workers;
        // The stats endpoints are newer than the worker list: a backend without them still shows the workers.
        _traffic = await OptionalAsync(traffic) ?? [];
        _failures = await OptionalAsync(failures) ?? [];
        BuildCharts();
    });

    private async Task<T?> OptionalAsync<T>(Task<T> call)
        where T : class
    {
        try
        {
            return await call;
        }
        catch (HttpRequestException ex) when (ex.StatusCode is HttpStatusCode.NotFound)
        {
            _statsMissing = true;
            return null;
        }
    }

    private void SelectModel(string model)
    {
        _selectedModel = model;
        BuildCharts();
    }

    private void BuildCharts()
    {
        string[] states = [ReplicaStates.Ready, ReplicaStates.Loading, ReplicaStates.Scheduled, ReplicaStates.Unloading, ReplicaStates.Failed];
        string[] colours = ["#16a34a", "#d97706", "#f59e0b", "#64748b", "#dc2626"];
        // Horizontal bars: the states' names read in full down the side of a narrow card.
        _replicaTraces =
        [
            new Bar
            {
                Orientation = Plotly.Blazor.Traces.BarLib.OrientationEnum.H,
                Y = [.. Enumerable.Reverse(states).Cast<object>()],
                X = [.. Enumerable.Reverse(states).Select(s => (object)ReplicaCount(s))],
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = Enumerable.Reverse(colours).Cast<object>().ToList() },
                HoverTemplate = "%{y}: %{x}<extra></extra>",
            },
        ];
        _replicaDtick = Math.Max(1, Math.Ceiling(states.Max(ReplicaCount) / 5m));

        // Bars per minute: sparse traffic is a few bars, never a lone point lost in a corner.
        // Each model's bar sits side by side inside its minute (offsets in ms from the minute's start).
        var byModel = _traffic.GroupBy(t => t.Model, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        decimal width = 50_000m / Math.Max(1, byModel.Count);
        _requestTraces = [.. byModel.Select((g, i) => (ITrace)new Bar
        {
            Name = g.Key,
            X = [.. g.OrderBy(t => t.Minute).Select(t => (object)t.Minute.UtcDateTime)],
            Y = [.. g.OrderBy(t => t.Minute).Select(t => (object)t.Requests)],
            Width = width,
            Offset = 5_000 + (i * width),
            Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = Palette[i % Palette.Length] },
            HoverTemplate = $"{g.Key}<br>%{{x|%H:%M}}: %{{y}} requests<extra></extra>",
        })];

        var selected = _traffic.Where(t => t.Model == SelectedModel).OrderBy(t => t.Minute).ToList();
        _latencyTraces =
        [
            LatencyTrace("p50", 0, selected, t => t.P50Ms, "#0d9488"),
            LatencyTrace("p95", 1, selected, t => t.P95Ms, "#2563eb"),
            LatencyTrace("p99", 2, selected, t => t.P99Ms, "#db2777"),
        ];
    }

    /// <summary>How much traffic the last hour's charts hold, in words: "1 request in the last hour, at 10:42 UTC".</summary>
    public static string TrafficSummary(IReadOnlyCollection<TrafficPointDto> traffic)
    {
        ArgumentNullException.ThrowIfNull(traffic);
        int requests = traffic.Sum(t => t.Requests);
        var minutes = traffic.Where(t => t.Requests > 0).Select(t => t.Minute).Distinct().OrderBy(m => m).ToList();
        string count = requests == 1 ? "1 request" : string.Create(CultureInfo.InvariantCulture, $"{requests:N0} requests");
        return minutes.Count switch
        {
            0 => "No requests in the last hour.",
            1 => $"{count} in the last hour, all in the minute at {Format.Time(minutes[0])}.",
            _ => string.Create(CultureInfo.InvariantCulture, $"{count} in the last hour, over {minutes.Count} minutes."),
        };
    }

    // Percentiles per minute as grouped bars: one minute of traffic is three bars, not three dots in a corner.
    private static Bar LatencyTrace(string name, int slot, List<TrafficPointDto> points, Func<TrafficPointDto, double> value, string colour) => new()
    {
        Name = name,
        X = [.. points.Select(t => (object)t.Minute.UtcDateTime)],
        Y = [.. points.Select(t => (object)Math.Round(value(t), 2))],
        Width = 16_000, // ms: three of them side by side in their minute
        Offset = 5_000 + (slot * 16_000),
        Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = colour },
        HoverTemplate = $"{name} %{{x|%H:%M}}: %{{y}} ms<extra></extra>",
    };

    private int ReplicaCount(string state) => _workers?.Sum(w => w.Replicas.Count(r => r.State == state)) ?? 0;

    private static double MemoryPercent(WorkerDto worker)
        => worker.MemoryCapacityMb <= 0 ? 0 : Math.Min(100, 100.0 * worker.MemoryInUseBytes / (worker.MemoryCapacityMb * 1024.0 * 1024.0));

    private static string ErrorRate(IReadOnlyCollection<TrafficPointDto> traffic)
    {
        int requests = traffic.Sum(t => t.Requests);
        return requests == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{100.0 * traffic.Sum(t => t.Errors) / requests:0.##} %");
    }

    /// <summary>One model's hour of traffic, summed; percentiles weighted by each minute's requests.</summary>
    private sealed record ModelTraffic(string Model, int Requests, int Errors, string ErrorRate, string P50, string P95, string P99)
    {
        public static ModelTraffic Of(IGrouping<string, TrafficPointDto> minutes)
        {
            var list = minutes.ToList();
            int requests = list.Sum(t => t.Requests);
            string Weighted(Func<TrafficPointDto, double> value) => requests == 0
                ? "–"
                : string.Create(CultureInfo.InvariantCulture, $"{list.Sum(t => value(t) * t.Requests) / requests:0.#} ms");
            return new ModelTraffic(minutes.Key, requests, list.Sum(t => t.Errors), Dashboard.ErrorRate(list),
                Weighted(t => t.P50Ms), Weighted(t => t.P95Ms), Weighted(t => t.P99Ms));
        }
    }
}
