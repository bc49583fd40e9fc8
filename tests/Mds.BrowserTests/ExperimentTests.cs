using System.Globalization;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// Experiments in Chromium: a researcher deploys two versions of a model, writes a 70/30 experiment in the portal,
/// watches traffic sent through the experiment's endpoint split between the candidates on the live page, sees each
/// candidate's accuracy over time drawn with its confidence band once analysts give feedback, and promotes the second
/// version after confirming.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class ExperimentTests(PortalFixture portal)
{
    [Fact]
    public async Task Researcher_creates_an_experiment_sees_the_traffic_split_live_and_promotes_a_candidate()
    {
        string model = "iris-exp-" + Guid.NewGuid().ToString("N")[..6];
        string name = model + "-ab";
        byte[] iris = await File.ReadAllBytesAsync(TestEnvironment.Sample("iris"));
        await portal.Cluster.DeployAsync(model, iris);
        await portal.Cluster.DeployAsync(model, iris);

        var page = await portal.SignInAsync(Roles.Researcher);
        await page.GotoAsync(portal.Url("/experiments"));
        await PortalFixture.WaitForCircuitAsync(page);
        await page.Locator("[data-testid=experiment-new]").ClickAsync();

        // A weight that is not positive: refused, the problem shown.
        var editor = page.Locator("[data-testid=experiment-spec-editor] textarea");
        string spec = $"""
            name: {name}
            resourceType: model
            candidates:
              - name: {model}
                version: 1
                weight: 70
              - name: {model}
                version: 2
                weight: 30
            """;
        await editor.FillAsync(spec.Replace("weight: 30", "weight: -30", StringComparison.Ordinal));
        await page.Locator("[data-testid=experiment-create]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=experiment-spec-problems]")).ToContainTextAsync("weight");

        await editor.FillAsync(spec);
        await page.Locator("[data-testid=experiment-create]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith($"/experiments/{name}", StringComparison.Ordinal));
        await PortalFixture.WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=experiment-state]")).ToContainTextAsync(ExperimentStates.Active, new() { Timeout = 120_000 });
        string endpoint = (await page.Locator("[data-testid=experiment-endpoint]").TextContentAsync())!.Trim();

        // Traffic through the experiment's endpoint, each answer naming the candidate that served it.
        using var client = await portal.Cluster.ClientAsync(Roles.Analyst);
        var served = new Dictionary<string, int>(StringComparer.Ordinal);
        var answered = new List<(string RequestId, string Route)>();
        for (int i = 0; i < 200; i++)
        {
            using var answer = await client.PostAsync(endpoint, V2Json.Request("Features", [1, 4], "FP32", new[] { 5.1f, 3.5f, 1.4f, 0.2f }));
            answer.EnsureSuccessStatusCode();
            string route = answer.Headers.GetValues("Mds-Route").Single();
            served[route] = served.GetValueOrDefault(route) + 1;
            answered.Add((answer.Headers.GetValues(MdsHeaders.RequestId).Single(), route));
        }

        // An analyst's feedback on the first 40 answers (v1 right three times in four, v2 always).
        for (int i = 0; i < 40; i++)
        {
            var (requestId, route) = answered[i];
            int version = route.EndsWith("@2", StringComparison.Ordinal) ? 2 : 1;
            using var given = await client.PostAsJsonAsync("/api/feedback", new CreateFeedbackRequest(model, version, requestId, version == 2 || i % 4 != 0));
            Assert.True(given.IsSuccessStatusCode, await given.Content.ReadAsStringAsync());
        }

        Assert.Equal(2, served.Count);

        // The page refreshes itself: both candidates' requests appear in the results and the requests chart.
        foreach (string candidate in new[] { $"{model}@1", $"{model}@2" })
        {
            int expected = served[$"{name}:{candidate}"];
            await Assertions.Expect(page.Locator($"[data-testid=experiment-result-row][data-candidate='{candidate}'] td").Nth(1))
                .ToHaveTextAsync(expected.ToString(CultureInfo.InvariantCulture), new() { Timeout = 60_000 });
        }

        await Assertions.Expect(page.Locator("[data-testid=experiment-chart-requests] .scatterlayer .trace")).ToHaveCountAsync(2);
        // Accuracy over time: per candidate an upper-bound trace, the band filled down to the lower bound, and the line.
        var overTime = page.Locator("[data-testid=experiment-chart-accuracy-time]");
        await Assertions.Expect(overTime.Locator(".scatterlayer .trace")).ToHaveCountAsync(6, new() { Timeout = 60_000 });
        // The band: the lower bound's fill up to the upper bound (tonexty), one translucent area per candidate.
        var bands = overTime.Locator(".scatterlayer path.js-fill");
        await Assertions.Expect(bands).ToHaveCountAsync(2);
        foreach (var band in await bands.AllAsync())
        {
            Assert.Matches("^M[0-9.]+,[0-9.]+L", await band.GetAttributeAsync("d") ?? "");
            Assert.Contains("fill-opacity: 0.2", await band.GetAttributeAsync("style") ?? "", StringComparison.Ordinal);
        }

        await Assertions.Expect(overTime.Locator(".legendtext")).ToHaveCountAsync(2);
        await Assertions.Expect(overTime.Locator(".legendtext").Filter(new() { HasText = $"{model}@2" })).ToHaveCountAsync(1);
        // The statistics' verdicts in words, against the first candidate.
        await Assertions.Expect(page.Locator("[data-testid=experiment-verdict]").Filter(new() { HasText = "latency" })).ToHaveCountAsync(1);
        await PortalFixture.ScreenshotAsync(page, "experiment-live");

        // Promote v2: asked first, then done.
        await page.Locator($"[data-testid=experiment-candidate-row][data-candidate='{model}@2'] [data-testid=experiment-promote]").ClickAsync();
        var dialog = page.Locator(".mud-dialog");
        await Assertions.Expect(dialog).ToContainTextAsync($"Promote {model}@2?");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Promote" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=experiment-state]")).ToContainTextAsync(ExperimentStates.Promoted, new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("[data-testid=experiment-promote]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=experiment-history-row][data-kind=promoted]")).ToHaveCountAsync(1);
        await PortalFixture.ScreenshotAsync(page, "experiment-promoted");

        var promoted = await client.GetFromJsonAsync<ModelDto>($"/api/models/{model}");
        Assert.Equal(2, promoted!.LiveVersion);
    }
}
