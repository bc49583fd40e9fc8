using Mds.Contracts.Api;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// Pipelines in Chromium: a researcher writes a two-step pipeline over iris in the portal (classify, then a step that
/// runs only when the flower is not a setosa), sees its graph, tries it with a setosa, and opens that run in the
/// inspector: classify ran, the conditional step was skipped.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class PipelineTests(PortalFixture portal)
{
    [Fact]
    public async Task Researcher_creates_a_pipeline_sees_its_graph_tries_it_and_inspects_the_run()
    {
        await portal.EnsureIrisAsync();
        string name = "iris-check-" + Guid.NewGuid().ToString("N")[..6];
        string spec = $"""
            name: {name}
            steps:
              - name: classify
                model: iris
              - name: recheck
                model: iris
                inputs: [pipeline.inputs]
                when: classify.outputs.PredictedLabel != 'setosa'
            output:
              steps: [classify]
            """;

        var page = await portal.SignInAsync(Roles.Researcher);
        await page.GotoAsync(portal.Url("/pipelines"));
        await PortalFixture.WaitForCircuitAsync(page);
        await page.Locator("[data-testid=pipeline-new]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/pipelines/new", StringComparison.Ordinal));
        await PortalFixture.WaitForCircuitAsync(page);

        // A spec with a mistake: the problem is listed with its line, and the line is marked beside the text.
        var editor = page.Locator("[data-testid=spec-editor] textarea");
        await editor.FillAsync(spec.Replace("model: iris\n  - name: recheck", "model: iris\n    inputs: [nowhere.outputs]\n  - name: recheck", StringComparison.Ordinal));
        await page.Locator("[data-testid=spec-validate]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=spec-problem]").First).ToContainTextAsync("nowhere");
        await Assertions.Expect(page.Locator("[data-testid=spec-gutter-bad]").First).ToBeVisibleAsync();

        await editor.FillAsync(spec);
        await page.Locator("[data-testid=spec-validate]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=spec-valid]")).ToBeVisibleAsync();
        await page.Locator("[data-testid=spec-apply]").ClickAsync();
        await page.WaitForURLAsync(url => url.Contains($"/pipelines/{name}", StringComparison.Ordinal));

        // The graph: inputs, both steps and the output, the conditional step with its condition.
        await Assertions.Expect(page.Locator("[data-testid=pipeline-graph] svg")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=pipeline-node]")).ToHaveCountAsync(4);
        await Assertions.Expect(page.Locator("[data-node=recheck] [data-testid=pipeline-node-condition]")).ToContainTextAsync("when classify.outputs");
        await Assertions.Expect(page.Locator("[data-testid=pipeline-state]")).ToContainTextAsync(PipelineStates.Live, new() { Timeout = 120_000 });
        await PortalFixture.ScreenshotAsync(page, "pipeline-graph");

        // Try it with a setosa.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Try" }).ClickAsync();
        var fields = page.Locator("[data-testid=try-fields] input");
        await Assertions.Expect(fields).ToHaveCountAsync(4);
        double[] setosa = [5.1, 3.5, 1.4, 0.2];
        for (int i = 0; i < setosa.Length; i++)
        {
            await fields.Nth(i).FillAsync(setosa[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
            await fields.Nth(i).BlurAsync();
        }

        await page.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=try-outputs]")).ToContainTextAsync("setosa");
        string requestId = (await page.Locator("[data-testid=try-request-id]").TextContentAsync())!.Trim();
        Assert.False(string.IsNullOrEmpty(requestId));
        await PortalFixture.ScreenshotAsync(page, "pipeline-try");

        // Inspect the run: a run is recorded a moment after it answers, so look again until it is there.
        await page.Locator("[data-testid=try-inspect]").ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("tab=runs", StringComparison.Ordinal));
        var detail = page.Locator("[data-testid=run-detail]");
        for (int attempt = 0; attempt < 20 && !await detail.IsVisibleAsync(); attempt++)
        {
            await Task.Delay(500);
            await page.ReloadAsync();
            await PortalFixture.WaitForCircuitAsync(page);
        }

        await Assertions.Expect(detail).ToContainTextAsync(requestId);
        await Assertions.Expect(page.Locator("[data-testid=run-step-state][data-step=classify]")).ToHaveTextAsync(PipelineStepStates.Ran);
        await Assertions.Expect(page.Locator("[data-testid=run-step-state][data-step=recheck]")).ToHaveTextAsync(PipelineStepStates.Skipped);
        await Assertions.Expect(detail.Locator("[data-node=classify]")).ToHaveAttributeAsync("data-state", PipelineStepStates.Ran);
        await Assertions.Expect(detail.Locator("[data-node=recheck]")).ToHaveAttributeAsync("data-state", PipelineStepStates.Skipped);
        await Assertions.Expect(page.Locator("[data-testid=runs-table]")).ToContainTextAsync(requestId);
        await PortalFixture.ScreenshotAsync(page, "pipeline-run");
    }
}
