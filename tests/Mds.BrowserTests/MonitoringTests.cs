using System.Globalization;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// Monitoring in Chromium against the real stack: iris with its training set as the reference dataset and a few dozen
/// inferences through the gateway; an analyst runs a drift check and sees the p-value and PSI time series and the
/// histograms drawn with data, the drift badge in the catalog, a prediction's outlier score and explanation on the try
/// page, and the same request in the audit log, explained on its record page.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class MonitoringTests(PortalFixture portal)
{
    private const int Inferences = 40;

    [Fact]
    public async Task Analyst_checks_drift_sees_the_charts_explains_a_prediction_and_finds_it_in_the_audit_log()
    {
        await portal.EnsureIrisAsync();
        var train = await File.ReadAllLinesAsync(Path.Combine(TestEnvironment.RepoRoot, "samples", "iris", "train.csv"));
        using var client = await portal.Cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync("/api/models/iris/versions/1/dataset")).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            var upload = await portal.Cluster.UploadDatasetAsync("iris", 1, string.Join('\n', train) + "\n", "species");
            Assert.True(upload.IsSuccessStatusCode, $"dataset upload: {(int)upload.StatusCode} {await upload.Content.ReadAsStringAsync()}");
        }

        // Rows of the training set with their petals made longer: the window should differ from the reference.
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        foreach (string line in train.Skip(1).Take(Inferences))
        {
            float[] row = [.. line.Split(',').Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))];
            row[2] += 2.5f;
            using var answer = await client.PostAsync("/v2/models/iris/infer", V2Json.Request("Features", [1, 4], "FP32", row));
            answer.EnsureSuccessStatusCode();
        }

        // The worker writes its records in batches off the hot path.
        string from = Uri.EscapeDataString(since.ToString("O", CultureInfo.InvariantCulture));
        await Eventually.TrueAsync(async () =>
            (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model=iris&status=ok&from={from}&take=200"))!.Records.Count >= Inferences,
            TimeSpan.FromSeconds(60), "the inferences to reach the audit log");

        var browser = await portal.SignInAsync(Roles.Analyst);
        await browser.GotoAsync(portal.Url("/models/iris/versions/1/drift"));
        await PortalFixture.WaitForCircuitAsync(browser);
        await Assertions.Expect(browser.Locator("[data-testid=drift-settings]")).ToContainTextAsync("input rows");
        await browser.Locator("[data-testid=drift-run]").ClickAsync();
        var outcome = browser.Locator(".mud-snackbar, [data-testid=drift-run-error]").First;
        await Assertions.Expect(outcome).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 120_000 });
        Assert.StartsWith("Report #", (await outcome.InnerTextAsync()).Trim(), StringComparison.Ordinal);

        // Both time series: a trace per feature with points, and the threshold line.
        foreach (string chart in new[] { "drift-pvalues", "drift-psi" })
        {
            var plot = browser.Locator($"[data-testid={chart}] .js-plotly-plot");
            await Assertions.Expect(plot).ToBeVisibleAsync();
            await browser.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 5; }",
                $"[data-testid={chart}] .js-plotly-plot");
            var points = await plot.EvaluateAsync<int[]>("p => p.data.map(t => t.x.length)");
            Assert.All(points.Take(4), n => Assert.True(n >= 1, $"{chart}: a feature trace without points"));
            var names = await plot.EvaluateAsync<string[]>("p => p.data.map(t => t.name)");
            Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width"], names.Take(4));
        }

        var yType = await browser.Locator("[data-testid=drift-pvalues] .js-plotly-plot").EvaluateAsync<string>("p => p.layout.yaxis.type");
        Assert.Equal("log", yType);
        await Assertions.Expect(browser.Locator("[data-testid=drift-verdict]")).ToBeVisibleAsync();
        await Assertions.Expect(browser.Locator("[data-testid=drift-feature]")).ToHaveCountAsync(4);
        var histograms = browser.Locator("[data-testid=drift-histogram] .js-plotly-plot");
        await Assertions.Expect(histograms).ToHaveCountAsync(4);
        var bins = await histograms.First.EvaluateAsync<int[]>("p => p.data.map(t => t.y.length)");
        Assert.Equal(2, bins.Length);
        Assert.True(bins[0] >= 2 && bins[0] == bins[1], $"reference and current histograms: {string.Join(", ", bins)} bins");
        await browser.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(browser, "drift");

        // The catalog's badge says what the newest report says.
        await browser.GotoAsync(portal.Url("/models"));
        await PortalFixture.WaitForCircuitAsync(browser);
        var irisRow = browser.Locator("[data-testid=models-table] tbody tr", new PageLocatorOptions { HasText = "iris" }).First;
        await Assertions.Expect(irisRow.Locator("[data-testid=drift-badge]")).ToBeVisibleAsync();

        // Try: a prediction, its outlier score, and its explanation with one bar per feature.
        await browser.GotoAsync(portal.Url("/models/iris/try"));
        await PortalFixture.WaitForCircuitAsync(browser);
        var fields = browser.Locator("[data-testid=try-fields] input");
        await Assertions.Expect(fields).ToHaveCountAsync(4);
        string[] values = ["6.5", "2.9", "4.9", "1.2"];
        for (int i = 0; i < values.Length; i++)
        {
            await fields.Nth(i).FillAsync(values[i]);
            await fields.Nth(i).PressAsync("Tab");
        }

        await browser.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(browser.Locator("[data-testid=try-predicted]")).ToHaveTextAsync("versicolor");
        await Assertions.Expect(browser.Locator("[data-testid=try-outlier]")).ToContainTextAsync("Outlier score");
        string requestId = (await browser.Locator("[data-testid=try-request-id]").InnerTextAsync()).Trim();
        await browser.Locator("[data-testid=try-explain]").ClickAsync();
        await AssertAttributionBarsAsync(browser, "[data-testid=try-explanation]");
        await Assertions.Expect(browser.Locator("[data-testid=try-explanation] [data-testid=explanation-subject]")).ToContainTextAsync("versicolor");
        await PortalFixture.ScreenshotAsync(browser, "try-explanation");

        // The same request in the audit log; its record explained on its page.
        await Eventually.TrueAsync(async () =>
            (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!.Records.Count == 1,
            TimeSpan.FromSeconds(60), "the try request to reach the audit log");
        await browser.GotoAsync(portal.Url($"/records?model=iris&requestId={requestId}"));
        await PortalFixture.WaitForCircuitAsync(browser);
        await Assertions.Expect(browser.Locator("[data-testid=records-table] tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(browser.Locator("[data-testid=records-table]")).ToContainTextAsync("analyst@test.local");
        await PortalFixture.ScreenshotAsync(browser, "audit-log");
        await browser.Locator("[data-testid=record-link]").ClickAsync();
        await browser.WaitForURLAsync(url => url.Contains("/records/", StringComparison.Ordinal));
        await Assertions.Expect(browser.Locator("[data-testid=record-request-id]")).ToHaveTextAsync(requestId);
        await Assertions.Expect(browser.Locator("[data-testid=record-inputs]")).ToContainTextAsync("6.5, 2.9, 4.9, 1.2");
        await Assertions.Expect(browser.Locator("[data-testid=record-outputs]")).ToContainTextAsync("versicolor");
        await browser.Locator("[data-testid=record-explain]").ClickAsync();
        await AssertAttributionBarsAsync(browser, "[data-testid=record-explanation]");
        await PortalFixture.ScreenshotAsync(browser, "record");
    }

    private static async Task AssertAttributionBarsAsync(IPage page, string scope)
    {
        var plot = page.Locator($"{scope} [data-testid=explanation-chart] .js-plotly-plot");
        await Assertions.Expect(plot).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 120_000 });
        await page.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 1; }",
            $"{scope} [data-testid=explanation-chart] .js-plotly-plot");
        var bars = await plot.EvaluateAsync<string[]>("p => p.data[0].y");
        Assert.Equal(4, bars.Length);
        Assert.All(["sepal_length", "sepal_width", "petal_length", "petal_width"], f => Assert.Contains(bars, b => b.StartsWith(f + " = ", StringComparison.Ordinal)));
        Assert.Equal("h", await plot.EvaluateAsync<string>("p => p.data[0].orientation"));
    }
}
