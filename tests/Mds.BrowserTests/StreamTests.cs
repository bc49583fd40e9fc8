using System.Text.RegularExpressions;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace Mds.BrowserTests;

/// <summary>
/// Streams in Chromium, through a real nats-server: a researcher enables a model's stream with the switch on its page,
/// opens the stream, publishes the prefilled test message and sees its output appear in the latest outputs; a message
/// the model refuses appears in the latest errors with the reason; the Streams page lists the stream with its
/// counters; disabling with "delete messages" leaves it Disabled.
/// </summary>
[Collection(PortalCollection.Name)]
public sealed partial class StreamTests(PortalFixture portal)
{
    [Fact]
    public async Task Researcher_enables_a_models_stream_publishes_a_test_message_and_sees_its_output_and_a_refused_message_in_errors()
    {
        string model = "streamed-" + Guid.NewGuid().ToString("N")[..6];
        await portal.Cluster.DeployAsync(model, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));

        var page = await portal.SignInAsync(Roles.Researcher);
        await page.GotoAsync(portal.Url($"/models/{model}"));
        await PortalFixture.WaitForCircuitAsync(page);

        // The Streaming card: disabled, then enabled by its switch; Running once this backend consumes it.
        var card = page.Locator("[data-testid=streaming-card]");
        await Assertions.Expect(card.Locator("[data-testid=stream-state]")).ToHaveAttributeAsync("data-state", StreamStates.Disabled);
        await Assertions.Expect(card.Locator($"[data-subject='mds.models.{model}.inputs']")).ToBeVisibleAsync();
        await card.Locator("[data-testid=streaming-switch] label").ClickAsync();
        await Assertions.Expect(card.Locator("[data-testid=stream-state]")).ToHaveAttributeAsync("data-state", StreamStates.Running, new() { Timeout = 120_000 });
        await PortalFixture.ScreenshotAsync(page, "stream-model-card");

        await card.Locator("[data-testid=streaming-open]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith($"/streams/models/{model}", StringComparison.Ordinal));
        await PortalFixture.WaitForCircuitAsync(page);

        // The editor starts with a V2 request for the model's inputs; published as it is, with our request id.
        var editor = page.Locator("textarea[data-testid=stream-publish-body]");
        await Assertions.Expect(editor).ToHaveValueAsync(InputsRegex());
        string template = await editor.InputValueAsync();
        await page.Locator("input[data-testid=stream-publish-request-id]").FillAsync("portal-ok-1");
        await page.Locator("[data-testid=stream-publish-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-published-id]")).ToHaveTextAsync("portal-ok-1");

        // Its output comes back on the output subject and shows in the latest outputs (the page refreshes itself).
        var output = page.Locator("[data-testid=stream-outputs-row][data-request-id='portal-ok-1']");
        await Assertions.Expect(output).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await output.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-outputs-detail] [data-testid=stream-message-body]")).ToContainTextAsync("outputs");
        await PortalFixture.ScreenshotAsync(page, "stream-detail-output");

        // A message the model refuses (an input it does not have): one error with the reason, the original body kept.
        string name = TensorNameRegex().Match(template).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(name), template);
        await editor.FillAsync(template.Replace($"\"{name}\"", "\"no_such_input\"", StringComparison.Ordinal));
        await page.Locator("input[data-testid=stream-publish-request-id]").FillAsync("portal-bad-1");
        await page.Locator("[data-testid=stream-publish-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-published-id]")).ToHaveTextAsync("portal-bad-1");
        await Assertions.Expect(page.Locator(".mud-tab", new() { HasTextString = "Latest errors (1)" })).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await page.Locator(".mud-tab", new() { HasTextString = "Latest errors" }).ClickAsync();
        var error = page.Locator("[data-testid=stream-errors-row][data-request-id='portal-bad-1']");
        await Assertions.Expect(error).ToContainTextAsync("refused");
        await error.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-errors-detail] [data-testid=stream-message-body]")).ToContainTextAsync("no_such_input");
        await Assertions.Expect(page.Locator("[data-testid=stream-counter-errors]")).ToContainTextAsync("1");
        await PortalFixture.ScreenshotAsync(page, "stream-detail-error");

        // Not JSON of a V2 request at all: refused by the API before it is published, the reason shown.
        await editor.FillAsync("{\"inputs\": 5}");
        await page.Locator("[data-testid=stream-publish-send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-publish-error]")).ToContainTextAsync("not a V2 inference request");

        // The Streams page lists it with its counters.
        await page.GotoAsync(portal.Url("/streams"));
        await PortalFixture.WaitForCircuitAsync(page);
        var row = page.Locator("[data-testid=streams-table] tbody tr", new() { Has = page.Locator($"[data-testid=stream-row][data-name='{model}']") });
        await Assertions.Expect(row.Locator("[data-testid=stream-state]")).ToHaveAttributeAsync("data-state", StreamStates.Running);
        await Assertions.Expect(row.Locator("[data-testid=stream-received]")).ToHaveTextAsync("2");
        await Assertions.Expect(row.Locator("[data-testid=stream-published]")).ToHaveTextAsync("1");
        await Assertions.Expect(row.Locator("[data-testid=stream-errors]")).ToHaveTextAsync("1");
        await PortalFixture.ScreenshotAsync(page, "stream-list");

        // Disabled, deleting its messages, after the question.
        await row.Locator("[data-testid=stream-link]").ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith($"/streams/models/{model}", StringComparison.Ordinal));
        await PortalFixture.WaitForCircuitAsync(page);
        await page.Locator("[data-testid=stream-disable]").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable and delete messages" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=stream-state]").First).ToHaveAttributeAsync("data-state", StreamStates.Disabled);
        await Assertions.Expect(page.Locator("[data-testid=stream-enable]")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_analyst_has_no_streams_page_and_no_switch_on_a_models_page()
    {
        await portal.EnsureIrisAsync();
        var page = await portal.SignInAsync(Roles.Analyst);
        await page.GotoAsync(portal.Url("/models/iris"));
        await PortalFixture.WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=streaming-card] [data-testid=stream-state]")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("[data-testid=streaming-switch]").CountAsync());
        Assert.Equal(0, await page.Locator("nav a[href='streams']").CountAsync());

        await page.GotoAsync(portal.Url("/streams"));
        await Assertions.Expect(page.Locator("[data-testid=not-authorised]")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("[data-testid=streams-table]").CountAsync());
    }

    [GeneratedRegex("\"inputs\"")]
    private static partial Regex InputsRegex();

    [GeneratedRegex("\"name\":\\s*\"([^\"]+)\"")]
    private static partial Regex TensorNameRegex();
}
