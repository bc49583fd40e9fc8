using Mds.Contracts.Api;
using Mds.ModelGen;
using Microsoft.Playwright;
using SkiaSharp;

namespace Mds.BrowserTests;

/// <summary>Image models in Chromium: an analyst uploads a photo on the Try page and sees its top classes, then gives feedback.</summary>
[Collection(PortalCollection.Name)]
public sealed class ImageTryTests(PortalFixture portal)
{
    [Fact]
    public async Task Analyst_uploads_a_red_image_on_the_try_page_and_sees_red_as_the_top_class()
    {
        await portal.Cluster.DeployAsync("image-colours", ImageModels.ImageClassifierNchw(), new Dictionary<string, string>
        {
            ["imageMean"] = "0.485,0.456,0.406", ["imageStd"] = "0.229,0.224,0.225",
        });
        string image = Path.Combine(Directory.CreateTempSubdirectory("mds-image-").FullName, "red-square.png");
        await File.WriteAllBytesAsync(image, ImageModels.Solid(new SKColor(220, 20, 30), 120, 120));

        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url("/models/image-colours/try"));
        await PortalFixture.WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=try-image-preprocessing]")).ToContainTextAsync("32x32 RGB 0-1");
        await PortalFixture.SetInputFileAsync(page, "[data-testid=try-image-upload]", image);
        await Assertions.Expect(page.Locator("[data-testid=try-image-preview]")).ToBeVisibleAsync();
        await page.Locator("[data-testid=try-send]").ClickAsync();

        await Assertions.Expect(page.Locator("[data-testid=try-predicted]")).ToHaveTextAsync("red");
        var chart = page.Locator("[data-testid=try-probabilities]");
        await Assertions.Expect(chart.Locator(".xtick").First).ToBeVisibleAsync();
        await Assertions.Expect(chart.Locator(".xtick").First).ToHaveTextAsync("red");
        await PortalFixture.ScreenshotAsync(page, "image-try");

        await page.Locator("[data-testid=feedback-verdict]").GetByText("Correct", new LocatorGetByTextOptions { Exact = true }).ClickAsync();
        await page.Locator("[data-testid=feedback-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=feedback-saved]")).ToContainTextAsync("recorded as correct");
    }
}
