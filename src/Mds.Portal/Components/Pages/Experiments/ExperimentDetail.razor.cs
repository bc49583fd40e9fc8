using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using Plotly.Blazor;

namespace Mds.Portal.Components.Pages.Experiments;

/// <summary>
/// One experiment: its candidates with weights (edited with sliders, saved together in one request so the backend
/// swaps them atomically), status, live charts, results with each test's verdict, the mirror's agreement, the
/// rollout's progress and the history; Stop and Promote after a confirmation. Refreshed every few seconds while open.
/// </summary>
public partial class ExperimentDetail
{
    private readonly Dictionary<string, double> _weights = new(StringComparer.Ordinal);
    private ExperimentDto? _experiment;
    private ExperimentResultsDto? _results;
    private string? _resultsError;
    private bool _notFound;
    private bool _canManage;
    private bool _dirty;
    private bool _busy;
    private Charts _charts = Charts.Empty;

    [Inject]
    private ExperimentsClient ExperimentsApi { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The experiment's name, from the route.</summary>
    [Parameter]
    public string Name { get; set; } = "";

    /// <summary>How often the page reloads the experiment and its results.</summary>
    public static TimeSpan RefreshInterval { get; } = TimeSpan.FromSeconds(5);

    private bool CanChange => _canManage && _experiment is not null && ExperimentText.IsRunning(_experiment);

    // The charts span a running experiment's life so far (5 minutes at least), up to the hour the results cover.
    private int ChartMinutes => _experiment is not { EndedAt: null }
        ? 60
        : (int)Math.Clamp(Math.Ceiling((DateTimeOffset.UtcNow - _experiment.CreatedAt).TotalMinutes) + 1, 5, 60);

    private IReadOnlyDictionary<string, double> EditedPercents => ExperimentText.Percents(_weights);

    private IReadOnlyList<BreadcrumbItem> Crumbs =>
    [
        new("Experiments", href: "experiments"),
        new(Name, href: null, disabled: true),
    ];

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        if (AuthenticationState is not null)
        {
            var user = (await AuthenticationState).User;
            _canManage = user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Researcher);
        }

        if (_experiment is null || !string.Equals(_experiment.Name, Name, StringComparison.Ordinal))
        {
            _experiment = null;
            _results = null;
            _dirty = false;
            await LoadAsync();
        }
    }

    /// <inheritdoc />
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            RefreshEvery(RefreshInterval, LoadAsync);
        }
    }

    private Task LoadAsync() => LoadWithAsync(async stopping =>
    {
        _experiment = await ExperimentsApi.FindAsync(Name, stopping);
        _notFound = _experiment is null;
        if (_experiment is not null)
        {
            // A refresh never overwrites weights being edited; Save or Reset does.
            if (!_dirty)
            {
                ResetWeights();
            }

            await LoadResultsAsync();
        }
    });

    // The results are worth showing apart from the experiment: a failure there leaves the rest of the page working.
    private async Task LoadResultsAsync()
    {
        try
        {
            _results = await ExperimentsApi.ResultsAsync(Name, Stopping);
            _resultsError = null;
            var candidates = ExperimentCharts.Candidates(_results, _experiment);
            _charts = new Charts(
                ExperimentCharts.Requests(_results, candidates),
                ExperimentCharts.Errors(_results, candidates),
                ExperimentCharts.Latency(_results, candidates),
                ExperimentCharts.Accuracy(_results, candidates),
                ExperimentCharts.Mae(_results, candidates),
                ExperimentCharts.OverTime(_results, candidates),
                ExperimentCharts.OverTimeRange(_results));
        }
        catch (HttpRequestException ex) when (ex.StatusCode != HttpStatusCode.Unauthorized)
        {
            _resultsError = ex.Message;
        }
    }

    private void ResetWeights()
    {
        _weights.Clear();
        foreach (var candidate in _experiment?.Candidates ?? [])
        {
            _weights[candidate.Key] = candidate.Weight;
        }

        _dirty = false;
    }

    private void SetWeight(string key, double weight)
    {
        _weights[key] = weight;
        _dirty = _experiment is not null && _experiment.Candidates.Any(c => c.Key == key ? c.Weight != weight : c.Weight != _weights.GetValueOrDefault(c.Key));
    }

    private double SliderMax
        => Math.Max(100, Math.Ceiling(_experiment?.Candidates.Max(c => c.Weight) ?? 0));

    private async Task SaveWeightsAsync()
    {
        if (_weights.Values.All(w => w <= 0))
        {
            Snackbar.Add("At least one candidate needs a weight above 0.", Severity.Warning);
            return;
        }

        await ActAsync(
            () => ExperimentsApi.SetWeightsAsync(Name, new Dictionary<string, double>(_weights, StringComparer.Ordinal), Stopping),
            "Weights saved: " + string.Join(", ", EditedPercents.Select(p => $"{p.Key} {ExperimentText.Percent(p.Value)}")) + ".",
            afterSuccess: () => _dirty = false);
    }

    private async Task StopAsync()
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Stop the experiment {Name}?",
            "It stops routing: calls go back to the default's own model or pipeline (callers of its .experiment endpoint get 404). Nothing is promoted; the results stay readable.",
            yesText: "Stop", cancelText: "Cancel");
        if (confirmed == true)
        {
            await ActAsync(() => ExperimentsApi.StopAsync(Name, Stopping), $"Experiment {Name} stopped.");
        }
    }

    private async Task PromoteAsync(ExperimentCandidateDto candidate)
    {
        string what = candidate.Version is { } version
            ? $"v{version} becomes the live version of {candidate.Name}"
            : $"{candidate.Name} becomes the target";
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Promote {candidate.Key}?",
            $"{what}, it takes all traffic and the experiment ends.",
            yesText: "Promote", cancelText: "Cancel");
        if (confirmed == true)
        {
            await ActAsync(() => ExperimentsApi.PromoteAsync(Name, candidate.Key, Stopping), $"{candidate.Key} promoted; the experiment has ended.");
        }
    }

    private async Task DeleteAsync()
    {
        bool? confirmed = await Dialogs.ShowMessageBoxAsync(
            $"Delete the experiment {Name}?",
            "It stops routing and its record goes. The models and pipelines stay.",
            yesText: "Delete", cancelText: "Cancel");
        if (confirmed != true)
        {
            return;
        }

        try
        {
            await ExperimentsApi.DeleteAsync(Name, Stopping);
            Snackbar.Add($"Experiment {Name} deleted.", Severity.Success);
            Navigation.NavigateTo("experiments");
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }

    private async Task ActAsync(Func<Task> action, string done, Action? afterSuccess = null)
    {
        _busy = true;
        try
        {
            await action();
            afterSuccess?.Invoke();
            Snackbar.Add(done, Severity.Success);
            await LoadAsync();
        }
        catch (HttpRequestException ex)
        {
            Snackbar.Add(ex.StatusCode == HttpStatusCode.Forbidden ? "Your role does not allow changing experiments." : ex.Message, Severity.Error);
        }
        finally
        {
            _busy = false;
        }
    }

    private static string Difference(ComparisonDto comparison)
    {
        bool percent = comparison.Metric is "accuracy" or "error-rate";
        string Value(double v) => percent
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{v * 100:+0.0;-0.0;0.0} pp")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{v:+0.###;-0.###;0}{(comparison.Metric == "latency" ? " ms" : "")}");
        // No interval (NaN, or both ends at the difference itself, as the results service writes it): the difference alone.
        return double.IsNaN(comparison.Low) || double.IsNaN(comparison.High) || (comparison.Low == comparison.Difference && comparison.High == comparison.Difference)
            ? Value(comparison.Difference)
            : $"{Value(comparison.Difference)} ({Value(comparison.Low)} to {Value(comparison.High)})";
    }

    private static string PValue(double p)
        => double.IsNaN(p) ? "–" : p < 0.001 ? "< 0.001" : p.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private sealed record Charts(
        IList<ITrace> Requests, IList<ITrace> Errors, IList<ITrace> Latency, IList<ITrace> Accuracy, IList<ITrace> Mae, IList<ITrace> OverTime, IList<object>? OverTimeRange)
    {
        public static readonly Charts Empty = new([], [], [], [], [], [], null);
    }
}
