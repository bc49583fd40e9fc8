using System.Net;
using System.Text.Json;
using Bunit;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Streams;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace Mds.UnitTests.Portal;

/// <summary>The Streams pages and the Streaming card against a fake backend, through the portal's real <see cref="StreamsClient"/>.</summary>
public class StreamPagesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 10, 0, 0, TimeSpan.Zero);

    private static readonly StreamDto Iris = new(
        "models", "iris", true, "nats", StreamStates.Running, null, "mds.models.iris.inputs", "mds.models.iris.outputs", "mds.errors",
        new StreamCountersDto(10_000, 9_998, 2, 5, 3, 42, 812.4, 12.34));

    private static readonly StreamDto Fraud = new(
        "pipelines", "fraud", true, "nats", StreamStates.Waiting, "the pipeline is not live", "mds.pipelines.fraud.inputs", "mds.pipelines.fraud.outputs", "mds.errors",
        new StreamCountersDto(0, 0, 0, 0, 0, 7, 0, 0));

    private static readonly StreamDto Old = new(
        "models", "old", false, "nats", StreamStates.Disabled, null, "mds.models.old.inputs", "mds.models.old.outputs", "mds.errors",
        new StreamCountersDto(12, 12, 0, 0, 0, 0, 0, 0));

    private static readonly ModelDto IrisModel = new(1, "iris", null, 1, T0,
    [
        new ModelVersionDto(1, "iris", 1, "sha", 1, null, [], null, 1, VersionStates.Ready, null, true, T0, null,
            [new TensorMetadata("float_input", "FP32", [-1, 4])], [new TensorMetadata("label", "INT64", [-1])], []),
    ]);

    private static BunitContext Context(FakeBackend backend, string role)
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized($"{role.ToLowerInvariant()}@test.local").SetRoles(role);
        ctx.Services.AddSingleton(TimeProvider.System);
        ctx.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(new PortalOptions { BackendUrl = FakeBackend.BaseAddress }));
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new StreamsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new ModelsClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Services.AddScoped(s => new PipelinesClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        return ctx;
    }

    private static FakeBackend Backend(StreamDto? iris = null)
        => new FakeBackend()
            .OnJson(HttpMethod.Get, "/api/streams", () => new[] { Old, Iris, Fraud })
            .OnJson(HttpMethod.Get, "/api/models/iris/streaming", () => iris ?? Iris)
            .OnJson(HttpMethod.Get, "/api/models/iris", () => IrisModel)
            .OnJson(HttpMethod.Get, "/api/streams/models/iris/messages?subject=outputs&limit=20", () => new[]
            {
                new StreamMessageDto("order-1", "mds.models.iris.outputs", T0, "application/json", """{"model_name":"iris","outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[0]}]}""", null),
                new StreamMessageDto("order-2", "mds.models.iris.outputs", T0.AddSeconds(1), "application/json", """{"model_name":"iris","outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[2]}]}""", null),
            })
            .OnJson(HttpMethod.Get, "/api/streams/models/iris/messages?subject=errors&limit=20", () => new[]
            {
                new StreamMessageDto("bad-1", "mds.errors", T0.AddSeconds(2), "application/json", """{"inputs":[{"name":"nope","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}""",
                    "refused (400): unknown input 'nope'"),
            });

    private static async Task ClickInDialogAsync(IRenderedComponent<MudDialogProvider> dialogs, string text)
    {
        var button = dialogs.WaitForElements("button").First(b => string.Equals(b.TextContent.Trim(), text, StringComparison.Ordinal));
        await button.ClickAsync(new MouseEventArgs());
    }

    [Fact]
    public async Task The_streams_page_lists_every_stream_with_its_state_reason_subjects_and_counters()
    {
        await using var ctx = Context(Backend(), Roles.Researcher);

        var page = ctx.Render<StreamList>();

        page.WaitForAssertion(() => Assert.Equal(3, page.FindAll("[data-testid=stream-row]").Count));
        // Enabled streams first (by kind, then name), the disabled one last.
        Assert.Equal(["iris", "fraud", "old"], page.FindAll("[data-testid=stream-row]").Select(r => r.GetAttribute("data-name")));
        var rows = page.FindAll("[data-testid=streams-table] tbody tr");
        Assert.Equal("streams/models/iris", rows[0].QuerySelector("[data-testid=stream-link]")!.GetAttribute("href"));
        Assert.Equal(StreamStates.Running, rows[0].QuerySelector("[data-testid=stream-state]")!.GetAttribute("data-state"));
        Assert.Equal("nats", rows[0].QuerySelector("[data-testid=stream-engine]")!.TextContent);
        Assert.Equal(["mds.models.iris.inputs", "mds.models.iris.outputs"], rows[0].QuerySelectorAll("[data-testid=stream-subject]").Select(s => s.GetAttribute("data-subject")));
        Assert.Equal("10,000", rows[0].QuerySelector("[data-testid=stream-received]")!.TextContent);
        Assert.Equal("9,998", rows[0].QuerySelector("[data-testid=stream-published]")!.TextContent);
        Assert.Equal("2", rows[0].QuerySelector("[data-testid=stream-errors]")!.TextContent);
        Assert.Equal("5", rows[0].QuerySelector("[data-testid=stream-redeliveries]")!.TextContent);
        Assert.Equal("3", rows[0].QuerySelector("[data-testid=stream-in-flight]")!.TextContent);
        Assert.Equal("42", rows[0].QuerySelector("[data-testid=stream-lag]")!.TextContent);
        Assert.Equal("812/s", rows[0].QuerySelector("[data-testid=stream-rate-in]")!.TextContent);
        // Waiting says why.
        Assert.Equal(StreamStates.Waiting, rows[1].QuerySelector("[data-testid=stream-state]")!.GetAttribute("data-state"));
        Assert.Equal("the pipeline is not live", rows[1].QuerySelector("[data-testid=stream-reason]")!.TextContent);
        Assert.Equal("streams/pipelines/fraud", rows[1].QuerySelector("[data-testid=stream-link]")!.GetAttribute("href"));
        Assert.Equal(StreamStates.Disabled, rows[2].QuerySelector("[data-testid=stream-state]")!.GetAttribute("data-state"));
    }

    [Fact]
    public async Task A_subject_is_copied_to_the_clipboard()
    {
        await using var ctx = Context(Backend(), Roles.Admin);
        var page = ctx.Render<StreamList>();
        page.WaitForElement("[data-testid=stream-row]");

        await page.Find("[data-subject='mds.models.iris.outputs'] [data-testid=stream-subject-copy]").ClickAsync(new MouseEventArgs());

        var copy = Assert.Single(ctx.JSInterop.Invocations, i => i.Identifier == "navigator.clipboard.writeText");
        Assert.Equal("mds.models.iris.outputs", copy.Arguments.Single());
    }

    [Fact]
    public async Task The_test_message_starts_as_a_V2_request_for_the_models_inputs_and_is_published_with_the_request_id_given()
    {
        var backend = Backend().OnJson(HttpMethod.Post, "/api/streams/models/iris/messages", () => new { requestId = "try-7", subject = "mds.models.iris.inputs" }, HttpStatusCode.Accepted);
        await using var ctx = Context(backend, Roles.Researcher);
        var page = ctx.Render<StreamDetail>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));

        var editor = page.WaitForElement("textarea[data-testid=stream-publish-body]");
        using (var template = JsonDocument.Parse(editor.GetAttribute("value") ?? editor.TextContent))
        {
            var input = template.RootElement.GetProperty("inputs")[0];
            Assert.Equal("float_input", input.GetProperty("name").GetString());
            Assert.Equal("[1,4]", input.GetProperty("shape").GetRawText().Replace(" ", "", StringComparison.Ordinal));
            Assert.Equal(4, input.GetProperty("data").GetArrayLength());
        }

        const string Body = """{"inputs":[{"name":"float_input","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}""";
        await page.Find("textarea[data-testid=stream-publish-body]").ChangeAsync(new ChangeEventArgs { Value = Body });
        await page.Find("input[data-testid=stream-publish-request-id]").ChangeAsync(new ChangeEventArgs { Value = "try-7" });
        await page.Find("[data-testid=stream-publish-send]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Equal("try-7", page.Find("[data-testid=stream-published-id]").TextContent));
        using var sent = JsonDocument.Parse(Assert.Single(backend.Bodies));
        Assert.Equal(Body, sent.RootElement.GetProperty("body").GetString());
        Assert.Equal("try-7", sent.RootElement.GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task A_test_message_the_backend_refuses_shows_its_reason()
    {
        var backend = Backend().On(HttpMethod.Post, "/api/streams/models/iris/messages", _ => new HttpResponseMessage(HttpStatusCode.BadRequest)
        {
            Content = new StringContent("""{"error":"'body' is not a V2 inference request: 'inputs' is required"}""", System.Text.Encoding.UTF8, "application/json"),
        });
        await using var ctx = Context(backend, Roles.Researcher);
        var page = ctx.Render<StreamDetail>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));
        page.WaitForElement("textarea[data-testid=stream-publish-body]");

        await page.Find("textarea[data-testid=stream-publish-body]").ChangeAsync(new ChangeEventArgs { Value = "{}" });
        await page.Find("[data-testid=stream-publish-send]").ClickAsync(new MouseEventArgs());

        page.WaitForAssertion(() => Assert.Equal("'body' is not a V2 inference request: 'inputs' is required", page.Find("[data-testid=stream-publish-error]").TextContent));
        Assert.Empty(page.FindAll("[data-testid=stream-published]"));
    }

    [Fact]
    public async Task The_detail_shows_counters_subjects_and_the_latest_outputs_and_errors_newest_first_each_row_opening_to_its_body()
    {
        await using var ctx = Context(Backend(), Roles.Researcher);
        var page = ctx.Render<StreamDetail>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));

        page.WaitForElement("[data-testid=stream-outputs]");
        Assert.Contains("10,000", page.Find("[data-testid=stream-counter-received]").TextContent, StringComparison.Ordinal);
        Assert.Contains("12.3/s", page.Find("[data-testid=stream-counter-published]").TextContent, StringComparison.Ordinal);
        Assert.Contains("42", page.Find("[data-testid=stream-counter-lag]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["mds.models.iris.inputs", "mds.models.iris.outputs", "mds.errors"], page.FindAll("[data-testid=stream-subjects] [data-testid=stream-subject]").Select(s => s.GetAttribute("data-subject")));
        Assert.Equal("models/iris", page.Find("[data-testid=stream-resource-link]").GetAttribute("href"));

        // Newest first (the API answers oldest first).
        Assert.Equal(["order-2", "order-1"], page.FindAll("[data-testid=stream-outputs-row]").Select(r => r.GetAttribute("data-request-id")));
        Assert.Empty(page.FindAll("[data-testid=stream-outputs-detail]"));
        await page.FindAll("[data-testid=stream-outputs-row]")[0].ClickAsync(new MouseEventArgs());
        Assert.Contains("\"data\": [", page.Find("[data-testid=stream-outputs-detail] [data-testid=stream-message-body]").TextContent, StringComparison.Ordinal);

        await page.FindAll(".mud-tab").First(t => t.TextContent.Contains("Latest errors (1)", StringComparison.Ordinal)).ClickAsync(new MouseEventArgs());
        var error = Assert.Single(page.WaitForElements("[data-testid=stream-errors-row]"));
        Assert.Equal("bad-1", error.GetAttribute("data-request-id"));
        Assert.Contains("refused (400): unknown input 'nope'", error.TextContent, StringComparison.Ordinal);
        await error.ClickAsync(new MouseEventArgs());
        Assert.Contains("\"nope\"", page.Find("[data-testid=stream-errors-detail] [data-testid=stream-message-body]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disabling_asks_first_and_sends_cleanOnDisable_only_when_the_messages_are_to_be_deleted()
    {
        var disabled = Iris with { Enabled = false, State = StreamStates.Disabled };
        var backend = Backend().OnJson(HttpMethod.Put, "/api/models/iris/streaming", () => disabled);
        await using var ctx = Context(backend, Roles.Researcher);
        var dialogs = ctx.Render<MudDialogProvider>();
        var page = ctx.Render<StreamDetail>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));

        // Asked, and cancelled: nothing sent.
        _ = page.WaitForElement("[data-testid=stream-disable]").ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains("Disable the stream of model iris?", dialogs.Markup, StringComparison.Ordinal));
        await ClickInDialogAsync(dialogs, "Cancel");
        dialogs.WaitForAssertion(() => Assert.DoesNotContain("Disable the stream of model iris?", dialogs.Markup, StringComparison.Ordinal));
        Assert.Equal(0, backend.Count(HttpMethod.Put, "/api/models/iris/streaming"));

        // Keep the messages.
        _ = page.Find("[data-testid=stream-disable]").ClickAsync(new MouseEventArgs());
        await ClickInDialogAsync(dialogs, "Disable, keep messages");
        page.WaitForAssertion(() => Assert.Equal(1, backend.Count(HttpMethod.Put, "/api/models/iris/streaming")));

        // Delete them.
        _ = page.Find("[data-testid=stream-disable]").ClickAsync(new MouseEventArgs());
        await ClickInDialogAsync(dialogs, "Disable and delete messages");
        page.WaitForAssertion(() => Assert.Equal(2, backend.Count(HttpMethod.Put, "/api/models/iris/streaming")));

        var bodies = backend.Bodies.Select(b => JsonDocument.Parse(b).RootElement).ToList();
        Assert.All(bodies, b => Assert.False(b.GetProperty("enabled").GetBoolean()));
        Assert.Equal([false, true], bodies.Select(b => b.GetProperty("cleanOnDisable").GetBoolean()));
    }

    [Fact]
    public async Task The_streaming_card_lets_a_researcher_enable_the_models_stream_and_links_to_it()
    {
        var off = Iris with { Enabled = false, State = StreamStates.Disabled, Counters = new StreamCountersDto(0, 0, 0, 0, 0, 0, 0, 0) };
        var backend = Backend(off).OnJson(HttpMethod.Put, "/api/models/iris/streaming", () => Iris with { State = StreamStates.Waiting, Reason = "no backend is consuming it yet" });
        await using var ctx = Context(backend, Roles.Researcher);
        var card = ctx.Render<StreamingCard>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));

        card.WaitForElement("[data-testid=streaming-card]");
        Assert.Equal(StreamStates.Disabled, card.Find("[data-testid=stream-state]").GetAttribute("data-state"));
        Assert.Equal("streams/models/iris", card.Find("[data-testid=streaming-open]").GetAttribute("href"));
        Assert.Equal(["mds.models.iris.inputs", "mds.models.iris.outputs", "mds.errors"], card.FindAll("[data-testid=stream-subject]").Select(s => s.GetAttribute("data-subject")));

        await card.Find("[data-testid=streaming-switch] input").ChangeAsync(new ChangeEventArgs { Value = true });

        card.WaitForAssertion(() => Assert.Equal(StreamStates.Waiting, card.Find("[data-testid=stream-state]").GetAttribute("data-state")));
        Assert.Equal("Waiting: no backend is consuming it yet", card.Find("[data-testid=streaming-reason]").TextContent);
        using var sent = JsonDocument.Parse(Assert.Single(backend.Bodies));
        Assert.True(sent.RootElement.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task An_analyst_sees_the_streams_state_on_the_model_page_but_no_switch_nor_link_to_the_researchers_page()
    {
        var backend = Backend();
        await using var ctx = Context(backend, Roles.Analyst);
        var card = ctx.Render<StreamingCard>(p => p.Add(c => c.Kind, "models").Add(c => c.Name, "iris"));

        card.WaitForElement("[data-testid=streaming-card]");
        Assert.Equal(StreamStates.Running, card.Find("[data-testid=stream-state]").GetAttribute("data-state"));
        Assert.Contains("10,000 received", card.Find("[data-testid=streaming-counters]").TextContent, StringComparison.Ordinal);
        Assert.Empty(card.FindAll("[data-testid=streaming-switch]"));
        Assert.Empty(card.FindAll("[data-testid=streaming-open]"));
        Assert.All(backend.Requests, r => Assert.StartsWith("GET ", r, StringComparison.Ordinal));
    }

    [Fact]
    public void The_stream_pages_are_for_researchers_and_admins_only()
    {
        foreach (var page in new[] { typeof(StreamList), typeof(StreamDetail) })
        {
            // Beside the [Authorize] every page has (_Imports.razor), one naming the roles.
            var authorize = Assert.Single(page.GetCustomAttributes(typeof(Microsoft.AspNetCore.Authorization.AuthorizeAttribute), inherit: true)
                .Cast<Microsoft.AspNetCore.Authorization.AuthorizeAttribute>(), a => a.Roles is not null);
            Assert.Equal([Roles.Researcher, Roles.Admin], authorize.Roles!.Split(','));
        }
    }
}
