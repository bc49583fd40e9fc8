using System.Globalization;
using System.Text.RegularExpressions;

namespace Mds.Contracts.Rules;

/// <summary>
/// The rule for a capability name (what a worker offers and a model version requires, e.g. <c>onnx</c>, <c>cpu</c>,
/// <c>gpu</c>): after <see cref="Normalize"/> (trimmed, lower-cased), 1 to <see cref="MaxLength"/> letters a–z, digits,
/// <c>_</c> or <c>-</c>, starting with a letter or digit. No <c>.</c>: the backend has always refused it, and the portal
/// now refuses it too. Checked by the backend on upload and by the portal as a person types. Pure: no I/O.
/// </summary>
public static partial class CapabilityRule
{
    /// <summary>The longest capability name.</summary>
    public const int MaxLength = 64;

    /// <summary>The rule in words, for messages: what a capability may hold.</summary>
    public const string Description = "1 to 64 letters, digits, '_' or '-', starting with a letter or digit";

    /// <summary>The capability as stored: trimmed and lower-cased (invariant culture).</summary>
    /// <param name="capability">The capability as typed.</param>
    public static string Normalize(string capability)
    {
        ArgumentNullException.ThrowIfNull(capability);
        return capability.Trim().ToLower(CultureInfo.InvariantCulture);
    }

    /// <summary>Whether <paramref name="capability"/>, once normalised, is a capability name.</summary>
    /// <param name="capability">The capability as typed.</param>
    public static bool IsValid(string? capability) => capability is not null && Pattern().IsMatch(Normalize(capability));

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex Pattern();
}
