using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;

namespace Mds.Portal.Components.Pages.Pipelines;

/// <summary>An SVG <c>&lt;text&gt;</c> element: Razor reads <c>&lt;text&gt;</c> inside code as its own transition tag.</summary>
public sealed class SvgLabel : ComponentBase
{
    /// <summary>The text.</summary>
    [Parameter]
    public string? Text { get; set; }

    /// <summary>A tooltip (<c>&lt;title&gt;</c> inside the text), if any.</summary>
    [Parameter]
    public string? Title { get; set; }

    /// <summary>The element's attributes (x, y, class, text-anchor, data-testid…).</summary>
    [Parameter(CaptureUnmatchedValues = true)]
    public IReadOnlyDictionary<string, object>? Attributes { get; set; }

    /// <inheritdoc />
    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.OpenElement(0, "text");
        builder.AddMultipleAttributes(1, Attributes);
        builder.AddContent(2, Text);
        if (Title is not null)
        {
            builder.OpenElement(3, "title");
            builder.AddContent(4, Title);
            builder.CloseElement();
        }

        builder.CloseElement();
    }
}
