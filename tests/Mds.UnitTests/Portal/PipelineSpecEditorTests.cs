using System.Net;
using Bunit;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace Mds.UnitTests.Portal;

/// <summary>The spec editor against a fake backend: problems listed with their lines and marked in the gutter.</summary>
public class PipelineSpecEditorTests
{
    private const string Spec = """
        name: fraud
        steps:
          - name: classify
            model: iris
          - name: explain
            inputs: [nowhere.outputs]
        output:
          steps: [explain]
        """;

    private static readonly PipelineSpecErrorDto Refused = new(
        "steps[1].inputs[0]: 'nowhere' is not a step",
        [
            new("steps[1].inputs[0]", "'nowhere' is not a step", 6),
            new("steps[1].model", "model 'explain' is not registered", 5),
            new("timeoutMs", "must be positive"),
        ]);

    private static IRenderedComponent<PipelineSpecEditor> Render(BunitContext ctx, FakeBackend backend)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("researcher@test.local");
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new PipelinesClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        return ctx.Render<PipelineSpecEditor>(p => p.Add(c => c.Text, Spec).Add(c => c.CanEdit, true));
    }

    private static HttpResponseMessage Problem(PipelineSpecErrorDto error)
        => new(HttpStatusCode.BadRequest)
        {
            Content = new StringContent(
                System.Text.Json.JsonSerializer.Serialize(new
                {
                    type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                    title = "The spec is not valid.",
                    status = 400,
                    detail = error.Error,
                    error = error.Error,
                    problems = error.Problems,
                }, System.Text.Json.JsonSerializerOptions.Web),
                System.Text.Encoding.UTF8, "application/problem+json"),
        };

    [Fact]
    public async Task Validate_lists_each_problem_with_its_line_and_marks_those_lines_in_the_gutter()
    {
        var backend = new FakeBackend().On(HttpMethod.Post, "/api/pipelines?dryRun=true", _ => Problem(Refused));
        await using var ctx = new BunitContext();
        var editor = Render(ctx, backend);

        await editor.Find("[data-testid=spec-validate]").ClickAsync(new());

        var problems = editor.FindAll("[data-testid=spec-problem]");
        Assert.Equal(3, problems.Count);
        Assert.Equal(["5", "6", null], problems.Select(p => p.GetAttribute("data-line")));
        Assert.Contains("line 5", problems[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("model 'explain' is not registered", problems[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("steps[1].inputs[0]", problems[1].TextContent, StringComparison.Ordinal);
        Assert.Contains("3 problems", editor.Find("[data-testid=spec-problems]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["5", "6"], editor.FindAll("[data-testid=spec-gutter-bad]").Select(l => l.GetAttribute("data-line")));
        Assert.Equal(8, editor.Find("[data-testid=spec-gutter]").Children.Length);
        Assert.Equal("POST /api/pipelines?dryRun=true", backend.Requests.Single());
        Assert.Equal(Spec, backend.Bodies.Single());
    }

    [Fact]
    public async Task A_valid_spec_says_so_and_clears_the_problems()
    {
        bool valid = false;
        var backend = new FakeBackend().On(HttpMethod.Post, "/api/pipelines?dryRun=true", _ => valid
            ? FakeBackend.Json(new PipelineApplyResult("fraud", 1, true, PipelineStates.Pending, null))
            : Problem(Refused));
        await using var ctx = new BunitContext();
        var editor = Render(ctx, backend);
        await editor.Find("[data-testid=spec-validate]").ClickAsync(new());
        Assert.NotEmpty(editor.FindAll("[data-testid=spec-problem]"));

        valid = true;
        await editor.Find("[data-testid=spec-validate]").ClickAsync(new());

        Assert.Empty(editor.FindAll("[data-testid=spec-problem]"));
        Assert.Empty(editor.FindAll("[data-testid=spec-gutter-bad]"));
        Assert.Contains("fraud v1", editor.Find("[data-testid=spec-valid]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_shows_the_version_and_state_it_became()
    {
        PipelineApplyResult? applied = null;
        var backend = new FakeBackend().OnJson(HttpMethod.Post, "/api/pipelines",
            () => new PipelineApplyResult("fraud", 2, true, PipelineStates.Pending, "step 'explain': model 'explain' has no Ready replica"), HttpStatusCode.Created);
        await using var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("researcher@test.local");
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new PipelinesClient(backend.Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        var editor = ctx.Render<PipelineSpecEditor>(p => p
            .Add(c => c.Text, Spec)
            .Add(c => c.CanEdit, true)
            .Add(c => c.OnApplied, (PipelineApplyResult r) => applied = r));

        await editor.Find("[data-testid=spec-apply]").ClickAsync(new());

        string shown = editor.Find("[data-testid=spec-applied]").TextContent;
        Assert.Contains("fraud v2", shown, StringComparison.Ordinal);
        Assert.Contains("Pending", shown, StringComparison.Ordinal);
        Assert.Contains("has no Ready replica", shown, StringComparison.Ordinal);
        Assert.Equal(2, applied?.Version);
    }

    [Fact]
    public async Task A_reader_sees_the_spec_without_the_buttons()
    {
        await using var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("researcher@test.local");
        ctx.Services.AddScoped<BackendToken>();
        ctx.Services.AddScoped(s => new PipelinesClient(new FakeBackend().Client(), s.GetRequiredService<BackendToken>()));
        ctx.Render<MudPopoverProvider>();
        var editor = ctx.Render<PipelineSpecEditor>(p => p.Add(c => c.Text, Spec).Add(c => c.CanEdit, false));

        Assert.Empty(editor.FindAll("[data-testid=spec-validate]"));
        Assert.Empty(editor.FindAll("[data-testid=spec-apply]"));
        Assert.NotNull(editor.Find("textarea").GetAttribute("readonly"));
    }
}
