using System.Globalization;
using Mds.Contracts.Api;

namespace Mds.Portal.Components.Pages.Experiments;

/// <summary>How the experiment pages put figures into words. No I/O: tested directly.</summary>
public static class ExperimentText
{
    /// <summary>True while the experiment routes (or waits to route) traffic: its weights can change, it can be stopped or promoted.</summary>
    public static bool IsRunning(ExperimentDto experiment)
        => experiment is { State: ExperimentStates.Active or ExperimentStates.Pending };

    /// <summary>True when the experiment has the model or pipeline <paramref name="name"/> as a candidate or as its mirror.</summary>
    public static bool Involves(ExperimentDto experiment, string name)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        return experiment.Candidates.Any(c => string.Equals(c.Name, name, StringComparison.Ordinal))
            || (experiment.Mirror is { } mirror && string.Equals(NameOf(mirror.Key), name, StringComparison.Ordinal));
    }

    /// <summary>A candidate key's model or pipeline name: <c>iris@2</c> → <c>iris</c>.</summary>
    public static string NameOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int at = key.LastIndexOf('@');
        return at > 0 && int.TryParse(key.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _) ? key[..at] : key;
    }

    /// <summary>A share in percent, e.g. <c>70 %</c> or <c>33.3 %</c>.</summary>
    public static string Percent(double percent) => string.Create(CultureInfo.InvariantCulture, $"{Tidy(percent, 1):0.#} %");

    /// <summary>A proportion (0..1) in percent, e.g. <c>93.1 %</c>.</summary>
    public static string Share(double? proportion) => proportion is { } p ? string.Create(CultureInfo.InvariantCulture, $"{Tidy(p * 100, 1):0.0} %") : "–";

    /// <summary>A proportion with its interval: <c>93.1 % (90.2–95.3)</c>.</summary>
    public static string Share(EstimateDto? estimate)
        => estimate is null ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Tidy(estimate.Value * 100, 1):0.0} % ({Tidy(estimate.Low * 100, 1):0.0}–{Tidy(estimate.High * 100, 1):0.0})");

    /// <summary>A value with its interval: <c>0.123 (0.1–0.15)</c>.</summary>
    public static string Value(EstimateDto? estimate)
        => estimate is null ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Tidy(estimate.Value, 3):0.###} ({Tidy(estimate.Low, 3):0.###}–{Tidy(estimate.High, 3):0.###})");

    /// <summary>
    /// <paramref name="value"/> rounded to the <paramref name="decimals"/> shown, so floating-point noise (5.6e-17, or
    /// −1e-17 that would print as "-0.0") reads as the 0 it is. Formats are fixed-point throughout: never an exponent.
    /// </summary>
    public static double Tidy(double value, int decimals)
    {
        double rounded = Math.Round(value, decimals, MidpointRounding.AwayFromZero);
        return rounded == 0 ? 0 : rounded;
    }

    /// <summary>Milliseconds, or a dash.</summary>
    public static string Ms(double? ms) => ms is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v:0.#} ms") : "–";

    /// <summary>Each candidate's share of traffic if the weights were these: weight ÷ the sum, in percent (0 for all when the sum is 0).</summary>
    public static IReadOnlyDictionary<string, double> Percents(IReadOnlyDictionary<string, double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        double total = weights.Values.Where(w => w > 0).Sum();
        return weights.ToDictionary(w => w.Key, w => total > 0 && w.Value > 0 ? w.Value / total * 100 : 0, StringComparer.Ordinal);
    }

    /// <summary>A rollout's progress: <c>step 2 of 4: 25 % now</c>, or <c>not started</c> before the first step.</summary>
    public static string Progress(ExperimentRolloutDto rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        return rollout.Step < 0 || rollout.Step >= rollout.Steps.Count
            ? string.Create(CultureInfo.InvariantCulture, $"not started (0 of {rollout.Steps.Count} steps)")
            : string.Create(CultureInfo.InvariantCulture, $"step {rollout.Step + 1} of {rollout.Steps.Count}: {Percent(rollout.Steps[rollout.Step])} now");
    }

    /// <summary>A rollout's guards in words, e.g. <c>error rate ≤ 5 %, p95 ≤ 200 ms, at least 100 requests per step</c>.</summary>
    public static string Guards(ExperimentRolloutDto rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var guards = new List<string>();
        if (rollout.MaxErrorRate is { } errors)
        {
            guards.Add($"error rate ≤ {Share(errors)}");
        }

        if (rollout.MaxP95Ms is { } p95)
        {
            guards.Add($"p95 ≤ {Ms(p95)}");
        }

        if (rollout.MinRequests is { } min)
        {
            guards.Add(string.Create(CultureInfo.InvariantCulture, $"at least {min} requests per step"));
        }

        return guards.Count == 0 ? "no guards" : string.Join(", ", guards);
    }
}
