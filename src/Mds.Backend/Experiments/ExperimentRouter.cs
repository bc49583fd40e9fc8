using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Mds.Contracts.Api;

namespace Mds.Backend.Experiments;

/// <summary>One candidate (or the mirror) as the request path sees it.</summary>
/// <param name="Key">Its key: the name, or <c>name@version</c>.</param>
/// <param name="Name">The model or pipeline name.</param>
/// <param name="Version">The model version, or null (the live version; a pipeline).</param>
/// <param name="IsPipeline">True for a pipeline.</param>
public sealed record ExperimentCandidate(string Key, string Name, int? Version, bool IsPipeline);

/// <summary>
/// An experiment as the request path sees it. Immutable: a weight change builds a new route and swaps the table's
/// reference, so a request that read one route sees one whole set of weights.
/// </summary>
public sealed class ExperimentRoute
{
    public ExperimentRoute(string name, string resourceType, IReadOnlyList<ExperimentCandidate> candidates, IReadOnlyList<double> weights,
        ExperimentCandidate? mirror, double mirrorPercent, string? takesOver, bool running, bool active, string? reason)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(weights);
        if (candidates.Count == 0 || candidates.Count != weights.Count)
        {
            throw new ArgumentException("one weight per candidate, at least one candidate", nameof(weights));
        }

        Name = name;
        ResourceType = resourceType;
        Candidates = [.. candidates];
        Weights = [.. weights];
        double total = 0;
        foreach (double w in weights)
        {
            total += w > 0 && double.IsFinite(w) ? w : 0;
        }

        // Cumulative shares in [0, 1]; all zero weights fall back to equal shares rather than to nothing.
        Cumulative = new double[weights.Count];
        double sum = 0;
        for (int i = 0; i < weights.Count; i++)
        {
            sum += total > 0 ? (weights[i] > 0 && double.IsFinite(weights[i]) ? weights[i] : 0) / total : 1.0 / weights.Count;
            Cumulative[i] = sum;
        }

        Cumulative[^1] = 1;
        Mirror = mirror;
        MirrorPercent = mirrorPercent;
        TakesOver = takesOver;
        Running = running;
        Active = active;
        Reason = reason;
    }

    public string Name { get; }
    public string ResourceType { get; }
    public bool IsPipeline => ResourceType == ExperimentValidator.Pipeline;
    public ExperimentCandidate[] Candidates { get; }
    public double[] Weights { get; }
    /// <summary>Each candidate's cumulative share of traffic, ending at 1.</summary>
    public double[] Cumulative { get; }
    public ExperimentCandidate? Mirror { get; }
    public double MirrorPercent { get; }
    /// <summary>The default's model or pipeline name whose own endpoint this route takes over; null without a default.</summary>
    public string? TakesOver { get; }
    /// <summary>Running (not ended). A promoted experiment that keeps redirecting its default's endpoint is not running.</summary>
    public bool Running { get; }
    /// <summary>Every candidate and the mirror can answer.</summary>
    public bool Active { get; }
    /// <summary>Why it is not active.</summary>
    public string? Reason { get; }

    /// <summary>A copy with other weights (same candidates, same order).</summary>
    public ExperimentRoute WithWeights(IReadOnlyList<double> weights) =>
        new(Name, ResourceType, Candidates, weights, Mirror, MirrorPercent, TakesOver, Running, Active, Reason);

    /// <summary>The share of traffic of candidate <paramref name="index"/>, 0..100.</summary>
    public double Percent(int index) => 100 * (Cumulative[index] - (index == 0 ? 0 : Cumulative[index - 1]));

    public int IndexOf(string key)
    {
        for (int i = 0; i < Candidates.Length; i++)
        {
            if (Candidates[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>
/// Picks a candidate for a request: the one named by an <c>Mds-Route</c> the caller sent back (sticky), else the one a
/// <c>Mds-Route-Key</c> hashes to (stable, nothing stored), else a weighted random choice. Pure apart from the random
/// source, which tests seed.
/// </summary>
public sealed class ExperimentRouter(Func<double> random)
{
    /// <summary>Random.Shared (thread-safe) as the source.</summary>
    public static readonly ExperimentRouter Shared = new(Random.Shared.NextDouble);

    /// <summary>The candidate's index for one request.</summary>
    public int Choose(ExperimentRoute route, string? routeHeader, string? routeKey)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (Sticky(route, routeHeader) is int sticky)
        {
            return sticky;
        }

        double u = routeKey is { Length: > 0 } ? HashPoint(route.Name, routeKey) : random();
        return Pick(route.Cumulative, u);
    }

    /// <summary>The first candidate whose cumulative share exceeds <paramref name="u"/> (in [0, 1)).</summary>
    public static int Pick(double[] cumulative, double u)
    {
        ArgumentNullException.ThrowIfNull(cumulative);
        for (int i = 0; i < cumulative.Length; i++)
        {
            if (u < cumulative[i])
            {
                return i;
            }
        }

        return cumulative.Length - 1;
    }

    /// <summary>A point in [0, 1) fixed by the experiment and the key: SHA-256 of both, its first 53 bits.</summary>
    public static double HashPoint(string experiment, string key)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(experiment + "\n" + key), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>
    /// The candidate an <c>Mds-Route</c> value names for this experiment (<c>experiment:candidate</c>, several separated
    /// by commas); null when it names none of its candidates.
    /// </summary>
    public static int? Sticky(ExperimentRoute route, string? header)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (string.IsNullOrEmpty(header))
        {
            return null;
        }

        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && part.AsSpan(0, colon).SequenceEqual(route.Name) && route.IndexOf(part[(colon + 1)..]) is int i and >= 0)
            {
                return i;
            }
        }

        return null;
    }

    /// <summary>The <c>Mds-Route</c> value for an answer.</summary>
    public static string RouteValue(ExperimentRoute route, int index)
    {
        ArgumentNullException.ThrowIfNull(route);
        return route.Name + ":" + route.Candidates[index].Key;
    }

    /// <summary>Whether this request is copied to the mirror.</summary>
    public bool MirrorThis(ExperimentRoute route)
    {
        ArgumentNullException.ThrowIfNull(route);
        return route.Mirror is not null && random() * 100 < route.MirrorPercent;
    }

    /// <summary>The weights by key as the DTO shows them.</summary>
    public static IReadOnlyDictionary<string, double> WeightsOf(ExperimentRoute route) =>
        route.Candidates.Select((c, i) => (c.Key, route.Weights[i])).ToDictionary(x => x.Key, x => x.Item2, StringComparer.Ordinal);

    /// <summary>Rollout weights at step percent <paramref name="percent"/>: the candidate gets it, the others share the rest by their spec weights.</summary>
    public static Dictionary<string, double> RolloutWeights(ExperimentSpec spec, string candidate, double percent)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var others = spec.Candidates.Where(c => ExperimentValidator.KeyOf(c.Name, c.Version) != candidate).ToList();
        double total = others.Sum(c => c.Weight);
        var weights = new Dictionary<string, double>(StringComparer.Ordinal) { [candidate] = percent };
        foreach (var c in others)
        {
            weights[ExperimentValidator.KeyOf(c.Name, c.Version)] = total > 0 ? (100 - percent) * c.Weight / total : 0;
        }

        return weights;
    }
}
