using Bunit;
using Mds.Portal.Components.Pages.Upload;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace Mds.UnitTests.Portal;

public class UploadDetailsFormTests
{
    private static IRenderedComponent<UploadDetailsForm> Render(BunitContext ctx, UploadInput input)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.Render<MudPopoverProvider>();
        return ctx.Render<UploadDetailsForm>(p => p
            .Add(c => c.Input, input)
            .Add(c => c.ExistingNames, ["iris", "housing"]));
    }

    [Fact]
    public async Task A_bad_name_shows_the_rule_and_fails_validation()
    {
        await using var ctx = new BunitContext();
        var input = new UploadInput { Name = "bad name!" };
        var form = Render(ctx, input);

        bool valid = await form.InvokeAsync(() => form.Instance.ValidateAsync());

        Assert.False(valid);
        Assert.Contains("Letters, digits", form.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replicas_out_of_range_show_the_backends_range()
    {
        await using var ctx = new BunitContext();
        // MaxReplicas as GET /api/config gives it (the page reads it there).
        var form = Render(ctx, new UploadInput { Name = "iris", Replicas = 65, MaxReplicas = 64 });

        bool valid = await form.InvokeAsync(() => form.Instance.ValidateAsync());

        Assert.False(valid);
        Assert.Contains("Between 1 and 64.", form.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Good_fields_pass_and_an_existing_name_is_called_a_new_version()
    {
        await using var ctx = new BunitContext();
        var form = Render(ctx, new UploadInput { Name = "iris", Replicas = 2, MemoryMb = 64 });

        bool valid = await form.InvokeAsync(() => form.Instance.ValidateAsync());

        Assert.True(valid);
        Assert.Contains("New version of iris", form.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Typing_a_bad_name_into_the_field_shows_the_rule()
    {
        await using var ctx = new BunitContext();
        var input = new UploadInput();
        var form = Render(ctx, input);

        await form.Find("[data-testid=upload-name] input, input").InputAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "-nope" });
        await form.InvokeAsync(() => form.Instance.ValidateAsync());

        Assert.Contains("Letters, digits", form.Markup, StringComparison.Ordinal);
    }
}
