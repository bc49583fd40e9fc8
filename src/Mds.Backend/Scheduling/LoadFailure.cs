namespace Mds.Backend.Scheduling;

/// <summary>
/// The reason a version shows when its replicas failed to load on every eligible worker: "failed to load on worker-0
/// and worker-1: &lt;the workers' errors, each once&gt;". The reconciler writes it as the version's pending reason; the
/// version's state is then Failed, not Pending (<see cref="Registry.RegistryMapping.StateOf"/>).
/// </summary>
public static class LoadFailure
{
    private const string Prefix = "failed to load on ";

    /// <summary>The reason column's length.</summary>
    public const int MaxLength = 1000;

    /// <summary>
    /// The reason, naming the workers in the order given and each distinct error once (in order of first appearance);
    /// <paramref name="placed"/> of <paramref name="desired"/> when some replicas do serve.
    /// </summary>
    public static string Describe(IReadOnlyList<string> workers, IEnumerable<string?> errors, int placed = 0, int desired = 0)
    {
        ArgumentNullException.ThrowIfNull(workers);
        var distinct = errors.Select(e => string.IsNullOrWhiteSpace(e) ? "failed without a reason" : e.Trim()).Distinct(StringComparer.Ordinal).ToList();
        string text = Prefix + Join(workers) + ": " + string.Join("; ", distinct);
        if (placed > 0)
        {
            text = $"{placed} of {desired} replicas placed; " + text;
        }

        return text.Length <= MaxLength ? text : text[..(MaxLength - 1)] + "…";
    }

    /// <summary>Whether <paramref name="reason"/> is one that <see cref="Describe"/> wrote with no replica serving.</summary>
    public static bool Is(string? reason) => reason is not null && reason.StartsWith(Prefix, StringComparison.Ordinal);

    private static string Join(IReadOnlyList<string> names) => names.Count switch
    {
        0 => "no worker",
        1 => names[0],
        _ => string.Join(", ", names.Take(names.Count - 1)) + " and " + names[^1],
    };
}
