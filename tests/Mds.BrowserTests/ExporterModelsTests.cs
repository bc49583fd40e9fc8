using System.Globalization;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;
using ExportReference = Mds.ModelGen.ExportStylesReference;
using ExportStyles = Mds.ModelGen.ExportStyles;

namespace Mds.BrowserTests;

/// <summary>
/// Models as exporters write them, in Chromium against the real stack: the churn sample (skl2onnx ColumnTransformer +
/// LogisticRegression: string columns, INT64 <c>output_label</c>, ZipMap <c>output_probability</c>) from its model page
/// through Try, feedback and an explanation; an onnxmltools LightGBM classifier whose Try page shows its label output;
/// and an external-data model uploaded as a zip through the Upload page.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class ExporterModelsTests(PortalFixture portal)
{
    private const string Churn = "churn";

    [Fact]
    public async Task Churn_sample_shows_its_exporter_and_class_labels_predicts_the_label_output_and_records_that_label_as_feedback()
    {
        using var client = await portal.Cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync($"/api/models/{Churn}")).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await portal.Cluster.DeployAsync(Churn, await File.ReadAllBytesAsync(TestEnvironment.Sample(Churn)));
            var dataset = await portal.Cluster.UploadDatasetAsync(Churn, 1,
                await File.ReadAllTextAsync(Path.Combine(TestEnvironment.RepoRoot, "samples", Churn, "train.csv")), "churned");
            Assert.True(dataset.IsSuccessStatusCode, $"dataset upload: {(int)dataset.StatusCode} {await dataset.Content.ReadAsStringAsync()}");
        }

        // The model page says what the file says about itself: its exporter, and the class labels of its ZipMap.
        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url($"/models/{Churn}"));
        await PortalFixture.WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=version-producer]")).ToHaveTextAsync("skl2onnx 1.17.0");
        await Assertions.Expect(page.Locator("[data-testid=version-classes] .mud-chip")).ToHaveTextAsync(["0", "1"]);
        await Assertions.Expect(page.Locator("[data-testid=version-outputs]")).ToContainTextAsync("output_probability");
        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "model-churn");

        // Try: one field per column; the text columns offer the values of the reference dataset.
        await page.GotoAsync(portal.Url($"/models/{Churn}/try"));
        await PortalFixture.WaitForCircuitAsync(page);
        var fields = page.Locator("[data-testid=try-fields] [data-testid=try-field]");
        await Assertions.Expect(fields).ToHaveCountAsync(4);
        string[] columns = ["age", "income", "city", "plan"];
        for (int i = 0; i < columns.Length; i++)
        {
            await Assertions.Expect(fields.Nth(i)).ToHaveAttributeAsync("data-column", columns[i]);
        }

        await Assertions.Expect(fields.Nth(2)).ToHaveAttributeAsync("data-kind", "text");
        await Assertions.Expect(fields.Nth(3)).ToHaveAttributeAsync("data-kind", "text");
        (float age, float income, string city, string plan) = (71, 32000, "lima", "pro");
        var expected = ExportReference.SklearnColumnTransformer(age, income, city, plan);
        string expectedLabel = expected.ClassIndex.ToString(CultureInfo.InvariantCulture);

        foreach (var (index, value) in new[] { (0, age), (1, income) })
        {
            var input = fields.Nth(index).Locator("input");
            await input.FillAsync(value.ToString(CultureInfo.InvariantCulture));
            await input.PressAsync("Tab");
        }

        var cityInput = fields.Nth(2).Locator("input");
        await cityInput.ClickAsync();
        await cityInput.PressSequentiallyAsync("li");
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item", new PageLocatorOptions { HasText = "lima" })).ToBeVisibleAsync();
        await cityInput.PressSequentiallyAsync("ma");
        await cityInput.PressAsync("Escape");
        await cityInput.PressAsync("Tab");

        // The plan is picked from the values offered.
        var planInput = fields.Nth(3).Locator("input");
        await planInput.ClickAsync();
        var offeredPlans = page.Locator(".mud-popover-open .mud-list-item");
        await Assertions.Expect(offeredPlans).ToHaveCountAsync(3);
        await offeredPlans.Filter(new LocatorFilterOptions { HasText = plan }).ClickAsync();
        await Assertions.Expect(planInput).ToHaveValueAsync(plan);
        await Assertions.Expect(cityInput).ToHaveValueAsync(city);

        await page.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=try-predicted]")).ToHaveTextAsync(expectedLabel);
        var plot = page.Locator("[data-testid=try-probabilities] .js-plotly-plot");
        await Assertions.Expect(plot).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 1; }",
            "[data-testid=try-probabilities] .js-plotly-plot");
        Assert.Equal(["0", "1"], await plot.EvaluateAsync<string[]>("p => p.data[0].x.map(String)"));
        double[] probabilities = await plot.EvaluateAsync<double[]>("p => p.data[0].y.map(Number)");
        Assert.Equal(expected.Probabilities[0], probabilities[0], 4);
        Assert.Equal(expected.Probabilities[1], probabilities[1], 4);
        string requestId = (await page.Locator("[data-testid=try-request-id]").InnerTextAsync()).Trim();

        // Explained column by column, the text columns included.
        await page.Locator("[data-testid=try-explain]").ClickAsync();
        var bars = page.Locator("[data-testid=try-explanation] [data-testid=explanation-chart] .js-plotly-plot");
        await Assertions.Expect(bars).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 120_000 });
        await page.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 1; }",
            "[data-testid=try-explanation] [data-testid=explanation-chart] .js-plotly-plot");
        var labels = await bars.EvaluateAsync<string[]>("p => p.data[0].y.map(String)");
        Assert.Equal(columns.Length, labels.Length);
        Assert.Contains(labels, l => l == $"city = {city}");
        Assert.Contains(labels, l => l == $"plan = {plan}");
        Assert.All(columns, c => Assert.Contains(labels, l => l.StartsWith(c + " = ", StringComparison.Ordinal)));
        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "try-churn");

        // Feedback records the label output's value, the class the page showed.
        await page.Locator("[data-testid=feedback-verdict]").GetByText("Correct", new LocatorGetByTextOptions { Exact = true }).ClickAsync();
        await page.Locator("[data-testid=feedback-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=feedback-saved]")).ToBeVisibleAsync();
        var feedback = await client.GetFromJsonAsync<List<FeedbackDto>>($"/api/models/{Churn}/feedback?skip=0&take=20");
        var recorded = Assert.Single(feedback!, f => f.RequestId == requestId);
        Assert.Equal(expectedLabel, recorded.Predicted);
        Assert.True(recorded.Correct);
    }

    [Fact]
    public async Task LightGbm_classifier_try_page_shows_the_label_output_as_the_predicted_class_not_the_first_score()
    {
        const string model = "lightgbm-classifier";
        await portal.Cluster.EnsureReadyAsync(model, ExportStyles.LightGbmClassifier());
        float[] row = [6.9f, 3.1f, 5.4f, 2.1f];
        var expected = ExportReference.LightGbmClassifier(row);
        Assert.Equal(2, expected.ClassIndex); // a label that no score equals

        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url($"/models/{model}/try"));
        await PortalFixture.WaitForCircuitAsync(page);
        var fields = page.Locator("[data-testid=try-fields] input");
        await Assertions.Expect(fields).ToHaveCountAsync(4);
        for (int i = 0; i < row.Length; i++)
        {
            await fields.Nth(i).FillAsync(row[i].ToString(CultureInfo.InvariantCulture));
            await fields.Nth(i).PressAsync("Tab");
        }

        await page.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=try-predicted]")).ToHaveTextAsync("2");
        var plot = page.Locator("[data-testid=try-probabilities] .js-plotly-plot");
        await Assertions.Expect(plot).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("selector => { const p = document.querySelector(selector); return !!p && Array.isArray(p.data) && p.data.length === 1; }",
            "[data-testid=try-probabilities] .js-plotly-plot");
        Assert.Equal(["0", "1", "2"], await plot.EvaluateAsync<string[]>("p => p.data[0].x.map(String)"));
        double[] probabilities = await plot.EvaluateAsync<double[]>("p => p.data[0].y.map(Number)");
        for (int c = 0; c < probabilities.Length; c++)
        {
            Assert.Equal(expected.Probabilities[c], probabilities[c], 4);
        }

        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "try-lightgbm");
    }

    [Fact]
    public async Task Researcher_uploads_an_external_data_model_as_a_zip_through_the_upload_page_and_the_version_is_created()
    {
        string zip = Path.Combine(Directory.CreateTempSubdirectory("mds-upload-").FullName, "mlp-external.zip");
        await File.WriteAllBytesAsync(zip, ExportStyles.ExternalDataMlp().ToZip());

        var page = await portal.SignInAsync(Roles.Researcher);
        await page.GotoAsync(portal.Url("/models/upload"));
        await PortalFixture.WaitForCircuitAsync(page);
        await PortalFixture.SetInputFileAsync(page, "body", zip);
        await Assertions.Expect(page.Locator("[data-testid=upload-file-name]")).ToHaveTextAsync("mlp-external.zip");
        var schema = page.Locator("[data-testid=upload-schema]");
        await Assertions.Expect(schema).ToBeVisibleAsync();
        await Assertions.Expect(schema).ToContainTextAsync("input");
        await Assertions.Expect(page.GetByLabel("Model name")).ToHaveValueAsync("mlp-external");
        await page.Mouse.MoveAsync(0, 0);
        await PortalFixture.ScreenshotAsync(page, "upload-zip");

        await page.Locator("[data-testid=upload-submit]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/models/mlp-external", StringComparison.Ordinal));
        var version = await portal.Cluster.WaitForVersionAsync("mlp-external", 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        Assert.Equal("pytorch", version.File?.Producer);
        await Assertions.Expect(page.GetByText("Ready", new PageGetByTextOptions { Exact = true }).First).ToBeVisibleAsync();
    }
}
