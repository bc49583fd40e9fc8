using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// A classifier exported the way skl2onnx exports a ColumnTransformer pipeline — one input per column, a string column
/// among them, an INT64 label beside a probabilities tensor — tried in Chromium against the real stack: one field per
/// column (the text column offering the values its reference dataset holds), the predicted class and the chart by
/// class, and feedback that records the class the page showed.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class PerColumnClassifierTests(PortalFixture portal)
{
    private const string Model = "city-classifier";

    [Fact]
    public async Task A_per_column_classifier_with_a_string_input_is_tried_field_by_field_and_its_feedback_records_the_label_shown()
    {
        using var client = await portal.Cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync($"/api/models/{Model}")).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await portal.Cluster.DeployAsync(Model, TestGraphs.PerColumnClassifier());
            var dataset = await portal.Cluster.UploadDatasetAsync(Model, 1,
                "age,city,label\n30,paris,0\n41,rome,1\n25,oslo,2\n52,rome,1\n33,paris,0\n", "label");
            Assert.True(dataset.IsSuccessStatusCode, $"dataset upload: {(int)dataset.StatusCode} {await dataset.Content.ReadAsStringAsync()}");
        }

        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url($"/models/{Model}/try"));
        await PortalFixture.WaitForCircuitAsync(page);

        // One field per column, labelled with the column's name: a number for age, text for city.
        var fields = page.Locator("[data-testid=try-fields] [data-testid=try-field]");
        await Assertions.Expect(fields).ToHaveCountAsync(2);
        await Assertions.Expect(fields.Nth(0)).ToContainTextAsync("age");
        await Assertions.Expect(fields.Nth(1)).ToContainTextAsync("city");
        var age = fields.Nth(0).Locator("input");
        await age.FillAsync("30");
        await age.PressAsync("Tab");

        // The text field offers the cities of the reference dataset; the value is typed, not picked.
        var city = fields.Nth(1).Locator("input");
        await city.ClickAsync();
        await city.PressSequentiallyAsync("ro");
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item", new PageLocatorOptions { HasText = "rome" })).ToBeVisibleAsync();
        await city.PressSequentiallyAsync("me");
        await city.PressAsync("Escape");
        await city.PressAsync("Tab");

        await page.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=try-predicted]")).ToHaveTextAsync("1");
        var plot = page.Locator("[data-testid=try-probabilities] .js-plotly-plot");
        await Assertions.Expect(plot).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 1; }",
            "[data-testid=try-probabilities] .js-plotly-plot");
        Assert.Equal(["0", "1", "2"], await plot.EvaluateAsync<string[]>("p => p.data[0].x.map(String)"));
        Assert.Equal("category", await plot.EvaluateAsync<string>("p => p._fullLayout.xaxis.type"));
        double[] probabilities = await plot.EvaluateAsync<double[]>("p => p.data[0].y.map(Number)");
        double sum = 1 + Math.E + Math.Exp(0.6);
        Assert.Equal(Math.E / sum, probabilities[1], 4);
        string requestId = (await page.Locator("[data-testid=try-request-id]").InnerTextAsync()).Trim();
        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "try-per-column-classifier");

        // Feedback records the class the page showed (the label output), not the first value of the first output.
        await page.Locator("[data-testid=feedback-verdict]").GetByText("Correct", new LocatorGetByTextOptions { Exact = true }).ClickAsync();
        await page.Locator("[data-testid=feedback-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=feedback-saved]")).ToBeVisibleAsync();
        var feedback = await client.GetFromJsonAsync<List<FeedbackDto>>($"/api/models/{Model}/feedback?skip=0&take=20");
        var recorded = Assert.Single(feedback!, f => f.RequestId == requestId);
        Assert.Equal("1", recorded.Predicted);
        Assert.True(recorded.Correct);

        // Batch: the CSV's columns are matched to the inputs by name (in another order here), the predicted class marked.
        string csv = Path.Combine(Directory.CreateTempSubdirectory("mds-batch-").FullName, "cities.csv");
        await File.WriteAllTextAsync(csv, "city,truth,age\nparis,0,30\nrome,1,30\noslo,2,30\n");
        await page.Locator("[data-testid=try-mode]").GetByText("Batch (CSV)").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=batch-upload]")).ToContainTextAsync("The columns age, city are the model's inputs");
        await PortalFixture.SetInputFileAsync(page, "[data-testid=batch-upload]", csv);
        await Assertions.Expect(page.Locator("[data-testid=batch-file-name]")).ToHaveTextAsync("cities.csv");
        await page.Locator("[data-testid=batch-submit]").ClickAsync();
        var table = page.Locator("[data-testid=batch-rows]");
        await Assertions.Expect(table.Locator("[data-predicted-class=true]")).ToHaveTextAsync("label");
        await Assertions.Expect(table.Locator("tbody tr")).ToHaveCountAsync(3);
        var headers = await table.Locator("thead th").AllInnerTextsAsync();
        int labelColumn = headers.Select(h => h.Trim()).ToList().IndexOf("label");
        Assert.True(labelColumn > 0, string.Join(" | ", headers));
        var predicted = await table.Locator($"tbody tr td:nth-child({labelColumn + 1})").AllInnerTextsAsync();
        Assert.Equal(["0", "1", "2"], predicted.Select(p => p.Trim()));
        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "batch-per-column-classifier");
    }
}
