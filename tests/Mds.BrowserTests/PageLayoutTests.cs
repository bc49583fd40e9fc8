using System.Globalization;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// Every page each role can open, looked at: at 1280 px in the light theme and at 1920 px in the dark one, with iris
/// deployed, its reference dataset, traffic, a drift report and feedback so that the charts hold data. Each page is saved
/// as a screenshot (<c>.mds/test-results/screenshots/pages/</c>, kept by CI) and fails the test when the page scrolls
/// sideways or a Plotly chart's tick labels overlap each other or the legend, or leave the chart's box.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class PageLayoutTests(PortalFixture portal)
{
    private static readonly (int Width, bool Dark)[] Looks = [(1280, false), (1920, true)];

    // The pages and who may open them (null: every role).
    private static readonly (string Slug, string Path, string[]? Roles)[] Pages =
    [
        ("models", "/models", null),
        ("model", "/models/iris", null),
        ("try", "/models/iris/try", null),
        ("dataset", "/models/iris/versions/1/dataset", null),
        ("drift", "/models/iris/versions/1/drift", null),
        ("feedback", "/models/iris/feedback", null),
        ("records", "/records?model=iris", null),
        ("pipelines", "/pipelines", null),
        ("experiments", "/experiments", null),
        ("keys", "/keys", null),
        ("password", "/account/password", null),
        ("upload", "/models/upload", [Roles.Researcher, Roles.Admin]),
        ("streams", "/streams", [Roles.Researcher, Roles.Admin]),
        ("dashboard", "/admin", [Roles.Admin]),
        ("workers", "/workers", [Roles.Admin]),
        ("users", "/admin/users", [Roles.Admin]),
    ];

    // Problems a reader sees, found from the laid-out page: sideways scrolling, and for each drawn Plotly chart the
    // bounding boxes of its tick labels (per axis; rotated ones only for leaving the box) and of its legend.
    private const string LayoutProblems = """
        () => {
          const problems = [];
          const root = document.documentElement;
          if (root.scrollWidth > window.innerWidth + 1) problems.push(`the page scrolls sideways (${root.scrollWidth} px wide in a ${window.innerWidth} px window)`);
          const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
          document.querySelectorAll('.js-plotly-plot').forEach((plot, n) => {
            const name = plot.closest('[data-testid]')?.getAttribute('data-testid') ?? `chart ${n}`;
            const box = plot.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) return;
            const inside = r => r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
            const labels = [];
            for (const axis of ['x', 'y']) {
              const ticks = [...plot.querySelectorAll(`.${axis}tick text`)]
                .filter(t => t.textContent.trim() !== '')
                .map(t => ({ axis, text: t.textContent, r: t.getBoundingClientRect(), rotated: /rotate\(\s*-?[1-9]/.test(t.getAttribute('transform') || '') }));
              for (const t of ticks) if (!inside(t.r)) problems.push(`${name}: ${axis} tick "${t.text}" leaves the chart`);
              for (let i = 0; i < ticks.length; i++)
                for (let j = i + 1; j < ticks.length; j++)
                  if (!ticks[i].rotated && !ticks[j].rotated && overlap(ticks[i].r, ticks[j].r)) problems.push(`${name}: ${axis} ticks "${ticks[i].text}" and "${ticks[j].text}" overlap`);
              labels.push(...ticks);
            }
            const legend = plot.querySelector('g.legend');
            if (legend) {
              const r = legend.getBoundingClientRect();
              if (r.width > 0 && !inside(r)) problems.push(`${name}: the legend leaves the chart`);
              for (const t of labels) if (r.width > 0 && overlap(r, t.r)) problems.push(`${name}: the legend covers ${t.axis} tick "${t.text}"`);
            }
          });
          return problems;
        }
        """;

    [Theory]
    [InlineData(Roles.Analyst)]
    [InlineData(Roles.Researcher)]
    [InlineData(Roles.Admin)]
    public async Task Every_page_reads_well_at_1280_and_1920_px_in_both_themes(string role)
    {
        await EnsureDataAsync();
        string directory = Path.Combine(PortalFixture.ScreenshotDirectory, "pages");
        Directory.CreateDirectory(directory);
        var problems = new List<string>();
        foreach (var (width, dark) in Looks)
        {
            var page = await portal.SignInAsync(role);
            string current = "";
            page.PageError += (_, error) => problems.Add($"{current}: script error {error}");
            await page.SetViewportSizeAsync(width, 900);
            await page.EvaluateAsync("dark => localStorage.setItem('mds.darkMode', dark ? 'true' : 'false')", dark);
            foreach (var (slug, path, roles) in Pages.Where(p => p.Roles is null || p.Roles.Contains(role)))
            {
                string name = $"{role}-{width}-{(dark ? "dark" : "light")}-{slug}";
                current = name;
                await page.GotoAsync(portal.Url(path));
                if (slug != "password")
                {
                    await PortalFixture.WaitForCircuitAsync(page); // the password form is a plain (static) form
                }

                if (!await SettleAsync(page))
                {
                    problems.Add($"{name}: a chart was not drawn within 45 s (or the page kept loading)");
                }

                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = true });
                problems.AddRange((await page.EvaluateAsync<string[]>(LayoutProblems)).Select(p => $"{name}: {p}"));
            }

            await page.Context.CloseAsync();
        }

        Assert.True(problems.Count == 0, "Layout problems (see the screenshots in " + directory + "):\n" + string.Join('\n', problems));
    }

    // Waits until the page has loaded what it shows: no progress bar left, every chart plotted, and Plotly's responsive
    // resize done.
    private static async Task<bool> SettleAsync(IPage page)
    {
        bool settled = true;
        try
        {
            await page.WaitForFunctionAsync(
                """
                () => document.querySelectorAll('.mud-progress-linear-indeterminate, .mud-table-loading-progress').length === 0
                  && [...document.querySelectorAll('.portal-chart')].every(c => { const p = c.querySelector('.js-plotly-plot'); return p && p._fullLayout && p.querySelector('.main-svg'); })
                """,
                null, new PageWaitForFunctionOptions { Timeout = 45_000, PollingInterval = 200 });
        }
        catch (TimeoutException)
        {
            // Photographed as it is (the screenshot shows what a reader would see), and reported.
            settled = false;
        }

        await page.Mouse.MoveAsync(0, 0);
        await page.WaitForTimeoutAsync(500);
        return settled;
    }

    // iris with its training set as the reference dataset, some traffic, a drift report and a day of feedback: the
    // charts of every page have something to draw. Each is made once, whichever test of the collection comes first.
    private async Task EnsureDataAsync()
    {
        await portal.EnsureIrisAsync();
        using var client = await portal.Cluster.ClientAsync(Roles.Analyst);
        var train = await File.ReadAllLinesAsync(Path.Combine(TestEnvironment.RepoRoot, "samples", "iris", "train.csv"));
        if ((await client.GetAsync("/api/models/iris/versions/1/dataset")).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            var upload = await portal.Cluster.UploadDatasetAsync("iris", 1, string.Join('\n', train) + "\n", "species");
            Assert.True(upload.IsSuccessStatusCode, $"dataset upload: {(int)upload.StatusCode} {await upload.Content.ReadAsStringAsync()}");
        }

        var reports = await client.GetFromJsonAsync<DriftReportListDto>("/api/models/iris/versions/1/drift");
        if (reports!.Reports.Count > 0)
        {
            return;
        }

        string? requestId = null;
        foreach (string line in train.Skip(1).Take(reports.MinRows + 5))
        {
            float[] row = [.. line.Split(',').Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))];
            using var answer = await client.PostAsync("/v2/models/iris/infer", V2Json.Request("Features", [1, 4], "FP32", row));
            answer.EnsureSuccessStatusCode();
            requestId ??= (await answer.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).TryGetProperty("id", out var id) ? id.GetString()
                : answer.Headers.TryGetValues("X-Request-Id", out var header) ? header.First() : null;
        }

        (await client.PostAsJsonAsync("/api/feedback", new CreateFeedbackRequest("iris", 1, requestId ?? Guid.NewGuid().ToString(), true))).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await client.PostAsync("/api/models/iris/versions/1/drift", null)).IsSuccessStatusCode,
            TimeSpan.FromSeconds(60), "a drift report (the inferences reach the audit log in batches)");
    }
}
