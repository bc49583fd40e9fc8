namespace Mds.Portal.Components.Shared;

/// <summary>An axis's ticks: where they go and what each says (one label per value).</summary>
/// <param name="Values">The tick positions, in the axis's units.</param>
/// <param name="Labels">The text of each tick.</param>
public sealed record AxisTicks(IList<object> Values, IList<object> Labels);
