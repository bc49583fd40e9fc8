using System.Net;
using System.Text.Json;
using Bunit;
using Mds.Contracts.Api;
using Mds.Portal;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Experiments;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Plotly.Blazor.Traces;

namespace Mds.UnitTests.Portal;

/// <summary>The experiment pages against a fake backend, through the portal's real <see cref="ExperimentsClient"/>.</summary>
public class ExperimentPagesTests
{
    private const string Verdict = "candidate iris@2 is more accurate: 93.1 % vs 89.4 %, p = 0.003";
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    internal static readonly ExperimentDto IrisAb = new(
        "iris-ab", "model", ExperimentStates.Active, null, "/v2/models/iris/infer", "iris@1",
        [
            new ExperimentCandidateDto("iris@1", "iris", 1, 70, 70, true, null),
            new ExperimentCandidateDto("iris@2", "iris", 2, 30, 30, true, null),
        ],
        new ExperimentMirrorDto("iris-shadow", 10, true, 120, 3),
        new ExperimentRolloutDto("iris@2", [5, 25, 50, 100], 1, "10m", 0.05, 200, 100, T0.AddMinutes(10), "Running"),
        T0, "researcher@test.local", null,
        [
            new ExperimentEventDto(T0, "created", "Created with iris@1 70, iris@2 30.", "researcher@test.local"),
            new ExperimentEventDto(T0.AddMinutes(10), "rollout-step", "Rollout step 2 of 4: iris@2 at 25 %.", null),
        ]);

    private static readonly ExperimentDto Churn = new(
        "churn-shadow", "model", ExperimentStates.Pending, "candidate churn@3 has no Ready replica", "/v2/models/churn-shadow.experiment/infer", null,
        [new ExperimentCandidateDto("churn@3", "churn", 3, 1, 100, false, "no Ready replica")],
        new ExperimentMirrorDto("churn@4", 50, false, 0, 0), null, T0.AddHours(-1), "researcher@test.local", null, []);

    internal static readonly ExperimentResultsDto Results = new(
        "iris-ab", "iris@1",
        [
            new CandidateResultsDto("iris@1", 1400, 14, new EstimateDto(0.01, 0.006, 0.017), 3.1, 7.9, 12.5, 500,
                new EstimateDto(0.894, 0.864, 0.918), null, null, []),
            new CandidateResultsDto("iris@2", 600, 3, new EstimateDto(0.005, 0.002, 0.015), 2.9, 7.1, 11.0, 480,
                new EstimateDto(0.931, 0.905, 0.951), null, null,
                [
                    new ComparisonDto("accuracy", "two-proportion z-test", 0.037, 0.002, 0.072, 0.003, 1100, Verdict),
                    new ComparisonDto("latency", "Mann-Whitney U", -0.2, double.NaN, double.NaN, 0.41, null, "no difference in latency: 2.9 ms vs 3.1 ms, p = 0.41"),
                ]),
        ],
        new MirrorAgreementDto("iris-shadow", 118, 0.966, 0.012, 2),
        [
            new ExperimentTrafficPointDto(T0, "iris@1", 70, 1, 3, 8, 12),
            new ExperimentTrafficPointDto(T0, "iris@2", 30, 0, 3, 7, 11),
            new ExperimentTrafficPointDto(T0.AddMinutes(1), "iris@1", 71, 0, 3, 8, 13),
            new ExperimentTrafficPointDto(T0.AddMinutes(1), "iris@2", 29, 2, 3, 7, 10),
        ],
        new ExperimentSeriesDto("hour", "accuracy",
        [
            new ExperimentSeriesPointDto(T0, "iris@1", 200, 200, new EstimateDto(0.88, 0.83, 0.92), null),
            new ExperimentSeriesPointDto(T0.AddHours(1), "iris@1", 300, 500, new EstimateDto(0.894, 0.864, 0.918), null),
            new ExperimentSeriesPointDto(T0.AddHours(1), "iris@2", 480, 480, new EstimateDto(0.931, 0.905, 0.951), null),
        ]));

    private static BunitContext Context(FakeBackend backend, string role)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized($"{role.ToLowerInvariant()}@test.local").SetRoles(role);
        ctx.Services.AddSingleton(TimeProvider.System);
        ctx.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(new PortalOptions { BackendUrl = FakeBackend.BaseAddress }));
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new ExperimentsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        return ctx;
    }

    private static FakeBackend Backend()
        => new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/experiments", () => new[] { Churn, IrisAb })
            .OnJson(HttpMethod.Get, "/api/experiments/iris-ab", () => IrisAb)
            .On(HttpMethod.Get, "/api/experiments/iris-ab/results", _ => new HttpResponseMessage(HttpStatusCode.OK)
            {
                // As the backend must write them: a missing interval is "NaN".
                Content = System.Net.Http.Json.JsonContent.Create(Results, options: ExperimentsClient.ResultsJson),
            });

    // As the experiments API answers a spec it refuses: problem details whose "problems" are "path: message" texts.
    private static HttpResponseMessage Refused(params string[] problems)
        => new(HttpStatusCode.BadRequest)
        {
            Content = new StringContent(
                JsonSerializer.Serialize(new { title = "The experiment spec is not valid.", status = 400, detail = string.Join("; ", problems), problems }, JsonSerializerOptions.Web),
                System.Text.Encoding.UTF8, "application/problem+json"),
        };

    [Fact]
    public async Task The_list_shows_each_experiments_state_endpoint_and_candidates_with_their_share()
    {
        await using var ctx = Context(Backend(), Roles.Analyst);

        var page = ctx.Render<ExperimentList>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=experiments-table] tbody tr").Count));
        var rows = page.FindAll("[data-testid=experiments-table] tbody tr");
        // Running first, the newest first: iris-ab (Active, newer) before churn-shadow (Pending, older).
        Assert.Equal(["iris-ab", "churn-shadow"], page.FindAll("[data-testid=experiment-link]").Select(l => l.TextContent));
        Assert.Equal("experiments/iris-ab", page.FindAll("[data-testid=experiment-link]")[0].GetAttribute("href"));
        Assert.Contains("Active", rows[0].QuerySelector("[data-testid=experiment-state]")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("/v2/models/iris/infer", rows[0].QuerySelector("[data-testid=experiment-endpoint]")!.TextContent);
        Assert.Equal(["iris@1 · 70 %", "iris@2 · 30 %"], rows[0].QuerySelectorAll("[data-testid=experiment-candidate]").Select(c => c.TextContent.Trim()));
        Assert.Contains("iris-shadow · 10 %", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("step 2 of 4: 25 % now", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("Pending", rows[1].TextContent, StringComparison.Ordinal);
        Assert.Equal("/v2/models/churn-shadow.experiment/infer", rows[1].QuerySelector("[data-testid=experiment-endpoint]")!.TextContent);
    }

    [Fact]
    public async Task A_refused_spec_shows_each_problem_the_backend_names_with_its_line()
    {
        var backend = Backend().On(HttpMethod.Post, "/api/experiments", _ => Refused(
            "candidates[1]: model 'iris' has no version 2",
            "candidates[0].weight: 'iris@1' has weight -1; weights must be positive numbers",
            "default: 'iris' is already the default of experiment 'iris-old'",
            "rollout.interval: '5x' is not a duration such as 30s, 10m or 1h"));
        await using var ctx = Context(backend, Roles.Researcher);
        var page = ctx.Render<ExperimentList>();
        page.WaitForElement("[data-testid=experiments-table]");

        await page.Find("[data-testid=experiment-new]").ClickAsync(new MouseEventArgs());
        await page.Find("[data-testid=experiment-create]").ClickAsync(new MouseEventArgs());

        // Each problem on its own, with the line of the template it names (found in the text sent), and those lines marked.
        var problems = page.WaitForElements("[data-testid=experiment-spec-problem]");
        Assert.Equal(4, problems.Count);
        Assert.Equal(["3", "7", "8", null], problems.Select(p => p.GetAttribute("data-line")));
        Assert.Contains("already the default of experiment 'iris-old'", problems[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("candidates[0].weight", problems[1].TextContent, StringComparison.Ordinal);
        Assert.Contains("weights must be positive numbers", problems[1].TextContent, StringComparison.Ordinal);
        Assert.Contains("line 8", problems[2].TextContent, StringComparison.Ordinal);
        Assert.Contains("'5x' is not a duration", problems[3].TextContent, StringComparison.Ordinal);
        Assert.Contains("4 problems", page.Find("[data-testid=experiment-spec-problems]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["3", "7", "8"], page.FindAll("[data-testid=experiment-spec-gutter-bad]").Select(l => l.GetAttribute("data-line")));
        // The spec went as YAML, as written.
        Assert.Contains("name: iris-ab", backend.Bodies.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_created_experiment_opens_its_page()
    {
        var backend = Backend().OnJson(HttpMethod.Post, "/api/experiments", () => IrisAb, HttpStatusCode.Created);
        await using var ctx = Context(backend, Roles.Researcher);
        var page = ctx.Render<ExperimentList>();
        page.WaitForElement("[data-testid=experiments-table]");

        await page.Find("[data-testid=experiment-new]").ClickAsync(new MouseEventArgs());
        await page.Find("[data-testid=experiment-create]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.EndsWith("/experiments/iris-ab", ctx.Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().Uri, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Saving_weights_sends_every_candidates_weight_in_one_request()
    {
        var backend = Backend().On(HttpMethod.Put, "/api/experiments/iris-ab/weights", _ => new HttpResponseMessage(HttpStatusCode.NoContent));
        await using var ctx = Context(backend, Roles.Researcher);
        var page = ctx.Render<ExperimentDetail>(p => p.Add(c => c.Name, "iris-ab"));
        page.WaitForElement("[data-testid=experiment-candidates]");
        Assert.True(page.Find("[data-testid=experiment-weights-save]").HasAttribute("disabled"));

        // Two sliders moved; nothing is sent until Save.
        var sliders = page.FindAll("input[type=range][data-testid=experiment-weight-slider]");
        Assert.Equal(2, sliders.Count);
        await sliders[1].InputAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "50" });
        await page.FindAll("input[type=range][data-testid=experiment-weight-slider]")[0].InputAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "50" });
        Assert.Equal(0, backend.Count(HttpMethod.Put, "/api/experiments/iris-ab/weights"));
        Assert.Equal(["50 %", "50 %"], page.FindAll("[data-testid=experiment-percent-after]").Select(c => c.TextContent));
        Assert.Equal(["70 %", "30 %"], page.FindAll("[data-testid=experiment-percent]").Select(c => c.TextContent));

        await page.Find("[data-testid=experiment-weights-save]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Equal(1, backend.Count(HttpMethod.Put, "/api/experiments/iris-ab/weights")));
        using var body = JsonDocument.Parse(backend.Bodies.Single());
        var weights = body.RootElement.GetProperty("weights");
        Assert.Equal(2, weights.EnumerateObject().Count());
        Assert.Equal(50, weights.GetProperty("iris@1").GetDouble());
        Assert.Equal(50, weights.GetProperty("iris@2").GetDouble());
    }

    private static async Task<IRenderedComponent<MudDialogProvider>> ClickInDialogAsync(IRenderedComponent<MudDialogProvider> dialogs, string text)
    {
        var button = dialogs.WaitForElements("button").First(b => string.Equals(b.TextContent.Trim(), text, StringComparison.Ordinal));
        await button.ClickAsync(new MouseEventArgs());
        return dialogs;
    }

    [Fact]
    public async Task Promote_asks_for_confirmation_before_it_sends_anything()
    {
        var backend = Backend().On(HttpMethod.Post, "/api/experiments/iris-ab/promote", _ => new HttpResponseMessage(HttpStatusCode.NoContent));
        await using var ctx = Context(backend, Roles.Researcher);
        var dialogs = ctx.Render<MudDialogProvider>();
        var page = ctx.Render<ExperimentDetail>(p => p.Add(c => c.Name, "iris-ab"));
        page.WaitForElement("[data-testid=experiment-candidates]");
        var promote = page.FindAll("[data-testid=experiment-promote]");
        Assert.Equal(2, promote.Count);

        // Asked, and cancelled: nothing sent.
        _ = promote[1].ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains("Promote iris@2?", dialogs.Markup, StringComparison.Ordinal));
        Assert.Contains("v2 becomes the live version of iris", dialogs.Markup, StringComparison.Ordinal);
        await ClickInDialogAsync(dialogs, "Cancel");
        dialogs.WaitForAssertion(() => Assert.DoesNotContain("Promote iris@2?", dialogs.Markup, StringComparison.Ordinal));
        Assert.Equal(0, backend.Count(HttpMethod.Post, "/api/experiments/iris-ab/promote"));

        // Asked, and confirmed: one request naming the candidate.
        _ = page.FindAll("[data-testid=experiment-promote]")[1].ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains("Promote iris@2?", dialogs.Markup, StringComparison.Ordinal));
        await ClickInDialogAsync(dialogs, "Promote");

        page.WaitForAssertion(() => Assert.Equal(1, backend.Count(HttpMethod.Post, "/api/experiments/iris-ab/promote")));
        using var body = JsonDocument.Parse(backend.Bodies.Single());
        Assert.Equal("iris@2", body.RootElement.GetProperty("candidate").GetString());
    }

    [Fact]
    public async Task Stop_asks_for_confirmation_before_it_sends_anything()
    {
        var backend = Backend().On(HttpMethod.Post, "/api/experiments/iris-ab/stop", _ => new HttpResponseMessage(HttpStatusCode.NoContent));
        await using var ctx = Context(backend, Roles.Researcher);
        var dialogs = ctx.Render<MudDialogProvider>();
        var page = ctx.Render<ExperimentDetail>(p => p.Add(c => c.Name, "iris-ab"));

        _ = page.WaitForElement("[data-testid=experiment-stop]").ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains("Stop the experiment iris-ab?", dialogs.Markup, StringComparison.Ordinal));
        Assert.Equal(0, backend.Count(HttpMethod.Post, "/api/experiments/iris-ab/stop"));
        await ClickInDialogAsync(dialogs, "Stop");

        page.WaitForAssertion(() => Assert.Equal(1, backend.Count(HttpMethod.Post, "/api/experiments/iris-ab/stop")));
    }

    [Fact]
    public async Task An_analyst_reads_everything_but_gets_no_button_that_changes_anything()
    {
        var backend = Backend();
        await using var ctx = Context(backend, Roles.Analyst);

        var list = ctx.Render<ExperimentList>();
        list.WaitForElement("[data-testid=experiments-table]");
        Assert.Empty(list.FindAll("[data-testid=experiment-new]"));

        var page = ctx.Render<ExperimentDetail>(p => p.Add(c => c.Name, "iris-ab"));
        page.WaitForElement("[data-testid=experiment-comparisons]");
        foreach (string write in new[] { "experiment-stop", "experiment-delete", "experiment-promote", "experiment-weights-save", "experiment-weight-slider" })
        {
            Assert.Empty(page.FindAll($"[data-testid={write}]"));
        }

        Assert.Equal(["70", "30"], page.FindAll("[data-testid=experiment-weight]").Select(w => w.TextContent));
        Assert.All(backend.Requests, r => Assert.StartsWith("GET ", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_experiment_page_shows_the_verdicts_mirror_agreement_rollout_history_and_live_charts()
    {
        await using var ctx = Context(Backend(), Roles.Analyst);

        var page = ctx.Render<ExperimentDetail>(p => p.Add(c => c.Name, "iris-ab"));

        page.WaitForElement("[data-testid=experiment-comparisons]");
        var verdicts = page.FindAll("[data-testid=experiment-verdict]").Select(v => v.TextContent.Trim()).ToList();
        Assert.Equal([Verdict, "no difference in latency: 2.9 ms vs 3.1 ms, p = 0.41"], verdicts);
        string comparisons = page.Find("[data-testid=experiment-comparisons]").TextContent;
        Assert.Contains("+3.7 pp (+0.2 pp to +7.2 pp)", comparisons, StringComparison.Ordinal);
        Assert.Contains("1100", comparisons, StringComparison.Ordinal);
        var rows = page.FindAll("[data-testid=experiment-result-row]");
        Assert.Contains("93.1 % (90.5–95.1)", rows[1].TextContent, StringComparison.Ordinal);
        Assert.Contains("baseline", rows[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("same label 96.6 %", page.Find("[data-testid=experiment-mirror-agreement]").TextContent, StringComparison.Ordinal);
        Assert.Contains("120 sent, 3 dropped", page.Find("[data-testid=experiment-mirror]").TextContent, StringComparison.Ordinal);
        Assert.Equal("step 2 of 4: 25 % now", page.Find("[data-testid=experiment-rollout-progress]").TextContent);
        Assert.Contains("error rate ≤ 5.0 %, p95 ≤ 200 ms, at least 100 requests per step", page.Find("[data-testid=experiment-rollout-guards]").TextContent, StringComparison.Ordinal);
        // History newest first; the rollout job's changes say so.
        Assert.Equal(["rollout-step", "created"], page.FindAll("[data-testid=experiment-history-row]").Select(r => r.GetAttribute("data-kind")));
        Assert.Contains("rollout job", page.FindAll("[data-testid=experiment-history-row]")[0].TextContent, StringComparison.Ordinal);

        var charts = page.FindComponents<Chart>().ToDictionary(c => c.Instance.TestId!);
        Assert.Equal(2, charts["experiment-chart-requests"].Instance.Data.Count);
        Assert.Equal(6, charts["experiment-chart-latency"].Instance.Data.Count);
        var accuracy = Assert.IsType<Bar>(Assert.Single(charts["experiment-chart-accuracy"].Instance.Data));
        Assert.Equal(["iris@1", "iris@2"], accuracy.X.Cast<string>());
        var overTime = charts["experiment-chart-accuracy-time"].Instance;
        Assert.Equal(6, overTime.Data.Count);
        Assert.True(overTime.YPercent);
        Assert.Equal([T0.UtcDateTime.AddHours(-1), T0.UtcDateTime.AddHours(2)], overTime.XRange!.Cast<DateTime>());
        Assert.Contains("Cumulative per hour", page.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_page_lists_only_the_experiments_the_model_takes_part_in()
    {
        await using var ctx = Context(Backend(), Roles.Analyst);

        var iris = ctx.Render<ModelExperiments>(p => p.Add(c => c.Name, "iris"));
        var shadow = ctx.Render<ModelExperiments>(p => p.Add(c => c.Name, "iris-shadow"));
        var churn = ctx.Render<ModelExperiments>(p => p.Add(c => c.Name, "churn"));
        var other = ctx.Render<ModelExperiments>(p => p.Add(c => c.Name, "fraud"));

        iris.WaitForAssertion(() => Assert.Equal(["iris-ab"], iris.FindAll("[data-testid=experiment-link]").Select(l => l.TextContent)));
        shadow.WaitForAssertion(() => Assert.Equal(["iris-ab"], shadow.FindAll("[data-testid=experiment-link]").Select(l => l.TextContent)));
        churn.WaitForAssertion(() => Assert.Equal(["churn-shadow"], churn.FindAll("[data-testid=experiment-link]").Select(l => l.TextContent)));
        Assert.Empty(other.FindAll("[data-testid=model-experiments]"));
    }
}

/// <summary>The experiment pages' figures and charts, without a page.</summary>
public class ExperimentChartsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Accuracy_bars_carry_their_interval_as_asymmetric_error_bars_in_percent()
    {
        var candidates = ExperimentCharts.Candidates(ExperimentPagesTests.Results, ExperimentPagesTests.IrisAb);

        var bar = Assert.IsType<Bar>(Assert.Single(ExperimentCharts.Accuracy(ExperimentPagesTests.Results, candidates)));

        Assert.Equal([89.4, 93.1], bar.Y.Select(y => Math.Round((double)y, 6)));
        Assert.Equal(Plotly.Blazor.Traces.BarLib.ErrorYLib.TypeEnum.Data, bar.ErrorY.Type);
        Assert.False(bar.ErrorY.Symmetric);
        Assert.Equal([2.4, 2.0], bar.ErrorY.Array.Select(y => Math.Round((double)y, 6)));
        Assert.Equal([3.0, 2.6], bar.ErrorY.ArrayMinus.Select(y => Math.Round((double)y, 6)));
    }

    [Fact]
    public void Accuracy_over_time_is_a_line_per_candidate_over_a_band_filled_between_its_interval_ends()
    {
        var results = ExperimentPagesTests.Results;
        var candidates = ExperimentCharts.Candidates(results, ExperimentPagesTests.IrisAb);

        var traces = ExperimentCharts.OverTime(results, candidates).Cast<Scatter>().ToList();

        // Per candidate: upper end, lower end filled up to it (tonexty fills to the trace just before), the estimate.
        Assert.Equal(6, traces.Count);
        var (upper, lower, line) = (traces[0], traces[1], traces[2]);
        Assert.Equal([92.0, 91.8], upper.Y.Select(y => (double)y));
        Assert.Equal([83.0, 86.4], lower.Y.Select(y => (double)y));
        Assert.Equal(Plotly.Blazor.Traces.ScatterLib.FillEnum.ToNextY, lower.Fill);
        Assert.Equal("rgba(37,99,235,0.2)", lower.FillColor);
        Assert.Null(upper.Fill);
        Assert.False(upper.ShowLegend);
        Assert.False(lower.ShowLegend);
        Assert.Equal("iris@1", line.Name);
        Assert.Equal(Plotly.Blazor.Traces.ScatterLib.ModeFlag.Lines | Plotly.Blazor.Traces.ScatterLib.ModeFlag.Markers, line.Mode);
        Assert.Equal([88.0, 89.4], line.Y.Select(y => (double)y));
        Assert.Equal([T0.UtcDateTime, T0.UtcDateTime.AddHours(1)], line.X.Cast<DateTime>());
        Assert.False(line.ClipOnAxis);
        Assert.Contains("83.0–92.0 % · 200 feedback so far", line.TextArray[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_single_bucket_gets_a_band_one_bucket_wide_centred_on_it_and_padded_axis()
    {
        var results = ExperimentPagesTests.Results with
        {
            Series = new ExperimentSeriesDto("minute", "accuracy",
                [new ExperimentSeriesPointDto(T0, "iris@2", 7, 7, new EstimateDto(1, 0.6457, 1), null)]),
        };

        var traces = ExperimentCharts.OverTime(results, ["iris@1", "iris@2"]).Cast<Scatter>().ToList();

        Assert.Equal(3, traces.Count);
        Assert.Equal([T0.UtcDateTime.AddSeconds(-30), T0.UtcDateTime.AddSeconds(30)], traces[1].X.Cast<DateTime>());
        Assert.Equal([64.57, 64.57], traces[1].Y.Select(y => (double)y));
        Assert.Equal([100.0, 100.0], traces[0].Y.Select(y => (double)y));
        Assert.Equal(ExperimentCharts.Colour(1), traces[2].Line.Color);
        Assert.Equal([T0.UtcDateTime.AddMinutes(-1), T0.UtcDateTime.AddMinutes(1)], ExperimentCharts.OverTimeRange(results)!.Cast<DateTime>());
    }

    [Fact]
    public void Mae_over_time_is_drawn_unscaled_and_no_series_draws_nothing()
    {
        var results = ExperimentPagesTests.Results with
        {
            Series = new ExperimentSeriesDto("day", "absolute-error",
            [
                new ExperimentSeriesPointDto(T0, "iris@1", 5, 5, null, new EstimateDto(0.5, 0.25, 0.75)),
                new ExperimentSeriesPointDto(T0.AddDays(1), "iris@1", 5, 10, null, new EstimateDto(0.4, 0.3, 0.5)),
            ]),
        };

        var traces = ExperimentCharts.OverTime(results, ["iris@1"]).Cast<Scatter>().ToList();

        Assert.Equal([0.5, 0.4], traces[2].Y.Select(y => (double)y));
        Assert.Equal([0.75, 0.5], traces[0].Y.Select(y => (double)y));
        Assert.Equal([T0.UtcDateTime.AddDays(-1), T0.UtcDateTime.AddDays(2)], ExperimentCharts.OverTimeRange(results)!.Cast<DateTime>());
        Assert.Empty(ExperimentCharts.OverTime(results with { Series = null }, ["iris@1"]));
        Assert.Null(ExperimentCharts.OverTimeRange(results with { Series = null }));
    }

    [Theory]
    // The Wilson interval of 0 of n once ended at 5.6e-17 and of n of n at 0.9999999999999999; noise either side of 0 must print as 0.
    [InlineData(0, 5.6e-17, 0.16, "0.0 % (0.0–16.0)")]
    [InlineData(0, -5.6e-17, 0.16, "0.0 % (0.0–16.0)")]
    [InlineData(1, 0.7225, 0.9999999999999999, "100.0 % (72.3–100.0)")]
    [InlineData(0.931, 0.905, 0.951, "93.1 % (90.5–95.1)")]
    public void Shares_print_interval_noise_as_plain_0_or_100(double value, double low, double high, string text)
    {
        Assert.Equal(text, ExperimentText.Share(new EstimateDto(value, low, high)));
        Assert.DoesNotContain("E", ExperimentText.Share(low), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("0 (0–0.16)", ExperimentText.Value(new EstimateDto(-1e-17, 5.6e-17, 0.16)));
        Assert.Equal("0 %", ExperimentText.Percent(-1e-15));
    }

    [Fact]
    public void Traffic_is_one_line_per_candidate_in_time_order()
    {
        var results = ExperimentPagesTests.Results;
        var candidates = ExperimentCharts.Candidates(results, ExperimentPagesTests.IrisAb);

        var requests = ExperimentCharts.Requests(results, candidates).Cast<Scatter>().ToList();
        var errors = ExperimentCharts.Errors(results, candidates).Cast<Scatter>().ToList();

        Assert.Equal(["iris@1", "iris@2"], requests.Select(r => r.Name));
        Assert.Equal([70, 71], requests[0].Y.Cast<int>());
        Assert.Equal([0, 2], errors[1].Y.Cast<int>());
        Assert.Empty(ExperimentCharts.Mae(results, candidates));
    }

    [Theory]
    [InlineData(70, 30, 70, 30)]
    [InlineData(1, 1, 50, 50)]
    [InlineData(0, 5, 0, 100)]
    [InlineData(0, 0, 0, 0)]
    public void Shares_are_each_weight_over_the_sum(double a, double b, double shareA, double shareB)
    {
        var percents = ExperimentText.Percents(new Dictionary<string, double> { ["a"] = a, ["b"] = b });

        Assert.Equal(shareA, percents["a"], 9);
        Assert.Equal(shareB, percents["b"], 9);
    }

    [Theory]
    [InlineData("iris@2", "iris")]
    [InlineData("iris", "iris")]
    [InlineData("user@host", "user@host")]
    [InlineData("fraud-pipeline", "fraud-pipeline")]
    public void A_candidate_key_names_its_model(string key, string name)
        => Assert.Equal(name, ExperimentText.NameOf(key));
}

/// <summary>Finding the line of a problem the experiments API names by its path.</summary>
public class ExperimentSpecLinesTests
{
    private const string Spec = """
        name: fraud-ab
        resourceType: model
        # two versions
        candidates:
          - name: fraud
            version: 1
            weight: 70

          - name: fraud
            version: 2
            weight: 30
        mirror:
          name: fraud-shadow
          percent: 10
        rollout:
          candidate: fraud@2
          steps: [5, 25, 50, 100]
          interval: 10m
        """;

    [Theory]
    [InlineData("name", 1)]
    [InlineData("resourceType", 2)]
    [InlineData("candidates", 4)]
    [InlineData("candidates[0]", 5)]
    [InlineData("candidates[1]", 9)]
    [InlineData("candidates[1].weight", 11)]
    [InlineData("candidates[0].version", 6)]
    [InlineData("mirror.percent", 14)]
    [InlineData("rollout.steps", 17)]
    [InlineData("rollout.steps[2]", 17)]
    [InlineData("rollout.maxP95Ms", 15)]
    [InlineData("candidates[5]", 4)]
    [InlineData("default", null)]
    [InlineData("", null)]
    public void A_path_finds_its_line(string path, int? line)
        => Assert.Equal(line, ExperimentSpecLines.Find(Spec, path));

    [Fact]
    public void Lists_at_their_keys_indentation_are_followed_too()
        => Assert.Equal(6, ExperimentSpecLines.Find("name: x\ncandidates:\n- name: a\n  weight: 1\n- name: b\n  weight: 0\n", "candidates[1].weight"));

    [Fact]
    public void Json_has_no_lines_to_find()
        => Assert.Null(ExperimentSpecLines.Find("""{"name": "x", "candidates": []}""", "candidates"));

    [Theory]
    [InlineData("candidates[1].weight: weights must be positive", "candidates[1].weight", "weights must be positive")]
    [InlineData("the spec is larger than 64 KiB", "", "the spec is larger than 64 KiB")]
    [InlineData("the spec is not well-formed YAML: (Line: 3, Col: 1): bad", "", "the spec is not well-formed YAML: (Line: 3, Col: 1): bad")]
    public void A_problem_text_splits_into_path_and_message(string text, string path, string message)
    {
        var problem = ExperimentSpecLines.Parse(text);

        Assert.Equal(path, problem.Path);
        Assert.Equal(message, problem.Message);
    }

    [Fact]
    public void A_syntax_error_keeps_the_line_the_parser_gave()
    {
        var problems = ExperimentSpecLines.WithLines(Spec, [ExperimentSpecLines.Parse("the spec is not well-formed YAML: (Line: 3, Col: 1, Idx: 40) - (Line: 3, Col: 2, Idx: 41): bad")]);

        Assert.Equal(3, Assert.Single(problems).Line);
    }
}
