using System.Globalization;
using Mds.Contracts.Api;
using Plotly.Blazor;
using Plotly.Blazor.Traces;

namespace Mds.Portal.Components.Shared;

/// <summary>
/// An explanation's attributions as one horizontal bar per feature, the largest |attribution| on top, pushing up in
/// one colour and down in another. No I/O: tested directly.
/// </summary>
public static class AttributionChart
{
    /// <summary>The colour of a feature that pushed the output up.</summary>
    public const string Positive = "#dc2626";

    /// <summary>The colour of a feature that pushed the output down.</summary>
    public const string Negative = "#2563eb";

    /// <summary>The attributions from the smallest |attribution| to the largest (Plotly draws the first bar at the bottom).</summary>
    public static IReadOnlyList<AttributionDto> BottomUp(IReadOnlyList<AttributionDto> attributions)
    {
        ArgumentNullException.ThrowIfNull(attributions);
        return [.. attributions.Select((a, i) => (a, i)).OrderBy(x => Math.Abs(x.a.Attribution)).ThenByDescending(x => x.i).Select(x => x.a)];
    }

    /// <summary>
    /// A bar's label: the feature and the instance's value of it, <c>petal_length = 1.4</c>, <c>income = 32000</c>; a text
    /// column's value as text (<c>city = lima</c>), not its code in the reference's vocabulary.
    /// </summary>
    public static string Label(AttributionDto attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        return attribution.Text is { } text
            ? $"{attribution.Feature} = {text}"
            : string.Create(CultureInfo.InvariantCulture, $"{attribution.Feature} = {attribution.Value:G6}");
    }

    /// <summary>The chart's one trace.</summary>
    public static IList<ITrace> Traces(ExplanationDto explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        var ordered = BottomUp(explanation.Attributions);
        return
        [
            new Bar
            {
                Name = "attribution",
                Orientation = Plotly.Blazor.Traces.BarLib.OrientationEnum.H,
                X = [.. ordered.Select(a => (object)a.Attribution)],
                Y = [.. ordered.Select(a => (object)Label(a))],
                Marker = new Plotly.Blazor.Traces.BarLib.Marker { Color = ordered.Select(a => (object)(a.Attribution >= 0 ? Positive : Negative)).ToList() },
                HoverTemplate = "%{y}<br>%{x:+.4g}<extra></extra>",
            },
        ];
    }

    /// <summary>A height that gives every bar room: 28 px per feature, at least 160 px.</summary>
    public static int Height(ExplanationDto explanation)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        return Math.Max(160, 60 + 28 * explanation.Attributions.Count);
    }
}
