namespace Mds.Analytics.Experiments;

/// <summary>Keeps a computed proportion (or an end of its interval) inside [0, 1], free of floating-point noise.</summary>
public static class Proportion
{
    /// <summary>How close to 0 or 1 a value is taken to be that bound: rounding noise of interval formulas is ~1e-16.</summary>
    public const double Tolerance = 1e-12;

    /// <summary>
    /// <paramref name="value"/> clamped to [0, 1], with values within <see cref="Tolerance"/> of 0 or 1 snapped to it
    /// (so 5.6e-17 becomes 0 and 0.9999999999999999 becomes 1). NaN stays NaN.
    /// </summary>
    public static double Clamp(double value)
    {
        if (double.IsNaN(value))
        {
            return value;
        }

        if (value < Tolerance)
        {
            return 0;
        }

        return value > 1 - Tolerance ? 1 : value;
    }
}
