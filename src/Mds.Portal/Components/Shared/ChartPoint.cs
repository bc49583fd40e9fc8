namespace Mds.Portal.Components.Shared;

/// <summary>A point of a <see cref="Chart"/> that was clicked: which trace, and which of its points.</summary>
/// <param name="Trace">The trace's index in the chart's data.</param>
/// <param name="Point">The point's index in the trace.</param>
public sealed record ChartPoint(int Trace, int Point);
