using Bunit;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Components.Pages.Models;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace Mds.UnitTests.Portal;

/// <summary>The model page's version panel shows what the ONNX file says about itself, and nothing where it says nothing.</summary>
public class VersionDetailTests
{
    private static readonly ModelVersionDto Plain = new(
        1, "income", 1, "sha", 2048, "uploaded by the test", ["onnx", "cpu"], null, 1, VersionStates.Ready, null, true, DateTimeOffset.UnixEpoch, "researcher@test.local",
        [new TensorMetadata("age", "FP32", [-1, 1]), new TensorMetadata("city", "BYTES", [-1, 1])],
        [new TensorMetadata("output_label", "INT64", [-1]), new TensorMetadata("output_probability", "FP32", [-1, 2])],
        []);

    private static IRenderedComponent<VersionDetail> Render(BunitContext ctx, ModelVersionDto version, IReadOnlyList<ScalingEventDto>? events = null)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.AddAuthorization().SetAuthorized("analyst@test.local");
        var backend = new FakeBackend();
        if (events is not null)
        {
            backend.OnJson(HttpMethod.Get, $"/api/models/{version.ModelName}/versions/{version.Version}/scaling-events", () => events);
        }

        ctx.Services.AddScoped<Mds.Portal.Auth.BackendToken>();
        ctx.Services.AddScoped(s => new Mds.Portal.Api.ModelsClient(backend.Client(), s.GetRequiredService<Mds.Portal.Auth.BackendToken>()));
        return ctx.Render<VersionDetail>(p => p.Add(c => c.Version, version));
    }

    [Fact]
    public async Task The_autoscalers_decisions_are_shown_with_their_reasons()
    {
        await using var ctx = new BunitContext();
        var events = new ScalingEventDto[]
        {
            new(DateTimeOffset.UnixEpoch.AddMinutes(3), 2, 1, "outstanding 0.1 per replica < 0.5 for 120 s → 1 replica", "autoscaler"),
            new(DateTimeOffset.UnixEpoch.AddMinutes(1), 1, 2, "outstanding 14.2 per replica > 4 for 10 s → 2 replicas", "autoscaler"),
        };

        var panel = Render(ctx, Plain with { MinReplicas = 1, MaxReplicas = 2, TargetLatencyMs = 250 }, events);

        panel.WaitForAssertion(() => Assert.Contains("outstanding 14.2 per replica > 4 for 10 s → 2 replicas", panel.Find("[data-testid=version-scaling-events]").TextContent, StringComparison.Ordinal));
        Assert.Contains("p95 target 250 ms", panel.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_scaling_history_no_table()
    {
        await using var ctx = new BunitContext();
        var panel = Render(ctx, Plain, []);
        Assert.Empty(panel.FindAll("[data-testid=version-scaling-events]"));
    }

    [Fact]
    public async Task The_producer_doc_strings_features_and_classes_the_file_declares_are_shown()
    {
        await using var ctx = new BunitContext();
        var version = Plain with
        {
            File = new ModelFileInfo("skl2onnx", "1.17.0", "Income bracket from age and city.", "pipeline", new Dictionary<string, string>(),
                new Dictionary<string, string> { ["city"] = "City of residence", ["output_label"] = "The predicted bracket" }),
            FeatureNames = ["age", "city"],
            Classes = ["<=50K", ">50K"],
        };

        var panel = Render(ctx, version);

        Assert.Equal("skl2onnx 1.17.0", panel.Find("[data-testid=version-producer]").TextContent.Trim());
        Assert.Equal("Income bracket from age and city.", panel.Find("[data-testid=version-doc-string]").TextContent.Trim());
        Assert.Contains("city", panel.Find("[data-testid=version-features]").TextContent, StringComparison.Ordinal);
        Assert.Contains(">50K", panel.Find("[data-testid=version-classes]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["", "City of residence"], panel.FindAll("[data-testid=version-inputs] [data-testid=tensor-doc]").Select(td => td.TextContent.Trim()));
        Assert.Equal(["The predicted bracket", ""], panel.FindAll("[data-testid=version-outputs] [data-testid=tensor-doc]").Select(td => td.TextContent.Trim()));
    }

    [Fact]
    public async Task A_file_that_says_nothing_about_itself_gets_no_empty_rows()
    {
        await using var ctx = new BunitContext();

        var panel = Render(ctx, Plain with { File = new ModelFileInfo(null, null, " ", null, new Dictionary<string, string>(), new Dictionary<string, string>()) });

        foreach (string id in new[] { "version-producer", "version-doc-string", "version-features", "version-classes", "tensor-doc" })
        {
            Assert.Empty(panel.FindAll($"[data-testid={id}]"));
        }

        Assert.Contains("uploaded by the test", panel.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Markup_in_a_files_doc_strings_is_shown_as_text_never_run()
    {
        // Whoever uploads a model writes these strings; every reader of the model page sees them.
        await using var ctx = new BunitContext();
        const string Script = "<img src=x onerror=alert(1)><script>alert(2)</script>";
        var version = Plain with
        {
            File = new ModelFileInfo(Script, null, Script, null, new Dictionary<string, string>(), new Dictionary<string, string> { ["age"] = Script }),
        };

        var panel = Render(ctx, version);

        Assert.Empty(panel.FindAll("img, script"));
        Assert.Equal(Script, panel.Find("[data-testid=version-doc-string]").TextContent.Trim());
        Assert.Equal(Script, panel.Find("[data-testid=version-inputs] [data-testid=tensor-doc]").TextContent.Trim());
    }
}
