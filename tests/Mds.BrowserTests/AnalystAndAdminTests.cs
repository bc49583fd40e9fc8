using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// The portal's main journeys in Chromium: a researcher uploads a model with tags and sees it become Ready; an analyst tries
/// iris, gets the right class with its chart, gives feedback and finds it listed; an admin sees the dashboard's charts
/// and the Hangfire dashboard, which nobody else can open.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed class AnalystAndAdminTests(PortalFixture portal)
{
    [Fact]
    public async Task Researcher_uploads_a_model_sees_its_schema_first_and_then_sees_it_become_ready()
    {
        var page = await portal.SignInAsync(Roles.Researcher);
        await page.GotoAsync(portal.Url("/models/upload"));
        await PortalFixture.WaitForCircuitAsync(page);
        await page.Locator("input[type=file]").First.SetInputFilesAsync(TestEnvironment.Sample("housing"));

        var schema = page.Locator("[data-testid=upload-schema]");
        await Assertions.Expect(schema).ToBeVisibleAsync();
        await Assertions.Expect(schema.GetByText("Features").First).ToBeVisibleAsync();
        await page.GetByLabel("Model name").FillAsync("housing-browser");
        await page.Keyboard.PressAsync("Tab");
        await page.Locator("[data-testid=upload-tags] input").FillAsync("Regression, demo");
        await Assertions.Expect(page.Locator("[data-testid=upload-tags] [data-testid=tag-chip]")).ToHaveTextAsync(["regression", "demo"]);
        await PortalFixture.ScreenshotAsync(page, "upload-schema");

        await page.Locator("[data-testid=upload-submit]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/models/housing-browser", StringComparison.Ordinal));
        await Assertions.Expect(page.Locator("[data-testid=model-detail-tags] [data-testid=model-tag]")).ToHaveTextAsync(["demo", "regression"]);
        await Assertions.Expect(page.GetByText("Ready", new PageGetByTextOptions { Exact = true }).First).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 60_000 });
        await PortalFixture.ScreenshotAsync(page, "model-after-upload");
    }

    [Fact]
    public async Task Analyst_tries_iris_gets_setosa_with_a_chart_and_the_feedback_is_listed()
    {
        await portal.EnsureIrisAsync();
        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url("/models/iris/try"));
        await PortalFixture.WaitForCircuitAsync(page);

        var fields = page.Locator("[data-testid=try-fields] input");
        await Assertions.Expect(fields).ToHaveCountAsync(4);
        string[] values = ["5.1", "3.5", "1.4", "0.2"];
        for (int i = 0; i < values.Length; i++)
        {
            await fields.Nth(i).FillAsync(values[i]);
            await fields.Nth(i).PressAsync("Tab");
        }

        await page.Locator("[data-testid=try-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=try-predicted]")).ToHaveTextAsync("setosa");
        await Assertions.Expect(page.Locator("[data-testid=try-result] .js-plotly-plot").First).ToBeVisibleAsync();
        string requestId = (await page.Locator("[data-testid=try-request-id]").InnerTextAsync()).Trim();
        Assert.False(string.IsNullOrEmpty(requestId));
        await PortalFixture.ScreenshotAsync(page, "try-iris");

        await page.Locator("[data-testid=feedback-verdict]").GetByText("Correct", new LocatorGetByTextOptions { Exact = true }).ClickAsync();
        await page.Locator("[data-testid=feedback-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=feedback-saved]")).ToBeVisibleAsync();

        await page.GotoAsync(portal.Url("/models/iris/feedback"));
        await PortalFixture.WaitForCircuitAsync(page);
        // the table shows the request id's first 12 characters (the whole id on hover)
        var row = page.Locator("[data-testid=feedback-table] tr", new PageLocatorOptions { HasText = requestId[..12] });
        await Assertions.Expect(row).ToBeVisibleAsync();
        await Assertions.Expect(row.GetByText("analyst@test.local")).ToBeVisibleAsync();
        await PortalFixture.ScreenshotAsync(page, "feedback");
    }

    [Fact]
    public async Task Admin_dashboard_draws_its_charts_and_lists_the_workers()
    {
        await portal.EnsureIrisAsync();
        using (var client = await portal.Cluster.ClientAsync(Roles.Analyst))
        {
            for (int i = 0; i < 5; i++)
            {
                (await client.PostAsync("/v2/models/iris/infer", V2Json.Request("Features", [1, 4], "FP32", new[] { 6.5f, 2.9f, 4.9f, 1.2f }))).EnsureSuccessStatusCode();
            }
        }

        var page = await portal.SignInAsync(Roles.Admin);
        await page.GotoAsync(portal.Url("/admin"));
        await PortalFixture.WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=dashboard-workers]").GetByText("worker-0").First).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=dashboard-replicas] .js-plotly-plot")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=dashboard-requests] .js-plotly-plot")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=dashboard-requests] .barlayer .trace").First).ToBeAttachedAsync();
        await PortalFixture.ScreenshotAsync(page, "dashboard");
    }

    [Fact]
    public async Task Only_admins_reach_the_hangfire_dashboard_through_the_portal()
    {
        var admin = await portal.SignInAsync(Roles.Admin);
        var response = await admin.GotoAsync(portal.Url("/hangfire"));
        Assert.Equal(200, response!.Status);
        await Assertions.Expect(admin.GetByText("Hangfire", new PageGetByTextOptions { Exact = false }).First).ToBeVisibleAsync();
        await PortalFixture.ScreenshotAsync(admin, "hangfire");

        foreach (string role in new[] { Roles.Analyst, Roles.Researcher })
        {
            var page = await portal.SignInAsync(role);
            await page.GotoAsync(portal.Url("/hangfire"));
            Assert.DoesNotContain("/hangfire", new Uri(page.Url).AbsolutePath);
            Assert.DoesNotContain("Recurring jobs", await page.ContentAsync());
        }

        var anonymous = await portal.NewPageAsync();
        await anonymous.GotoAsync(portal.Url("/hangfire"));
        Assert.Contains("/login", anonymous.Url);
    }
}
