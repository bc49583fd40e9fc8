using System.Globalization;
using Mds.Contracts.Api;

namespace Mds.Backend.Experiments;

/// <summary>What the rollout job does with a rollout now.</summary>
public enum RolloutAction
{
    /// <summary>Nothing yet: the step's interval is not over, or the candidate has too few requests in it.</summary>
    Hold,

    /// <summary>Move to the next step (<see cref="RolloutDecision.Step"/>) with <see cref="RolloutDecision.Weights"/>.</summary>
    Advance,

    /// <summary>The last step held: promote the candidate.</summary>
    Promote,

    /// <summary>A guard failed: the candidate goes back to 0 % and the experiment ends.</summary>
    RollBack,
}

/// <summary>The rolled-out candidate's figures over the current step.</summary>
/// <param name="Requests">Calls it answered (or failed) since the step began.</param>
/// <param name="Errors">Of those, the failed ones.</param>
/// <param name="P95Ms">Their 95th percentile latency; null without calls.</param>
public sealed record RolloutFigures(long Requests, long Errors, double? P95Ms);

/// <summary>A decision with its reason in words (it goes into the experiment's history as it is).</summary>
/// <param name="Action">What to do.</param>
/// <param name="Reason">Why, with the figures.</param>
/// <param name="Step">For <see cref="RolloutAction.Advance"/>: the new step index; otherwise the current one.</param>
/// <param name="Weights">For <see cref="RolloutAction.Advance"/>: every candidate's new weight; otherwise null.</param>
public sealed record RolloutDecision(RolloutAction Action, string Reason, int Step, IReadOnlyDictionary<string, double>? Weights = null);

/// <summary>
/// The progressive rollout's rule (pure): a step lasts the spec's interval; when it is over and the candidate answered
/// at least <c>minRequests</c> calls in it (at least one when unset), its guards are read — error rate above
/// <c>maxErrorRate</c> or p95 above <c>maxP95Ms</c> rolls back, otherwise the rollout moves one step up, and past the
/// last step (100 %) the candidate is promoted. With <c>minRequests</c> set, a guard that fails before the interval
/// is over (on at least that many calls) rolls back at once rather than letting a broken candidate serve its full
/// share for the rest of the step. Before the first step (index −1) the rollout starts at step 0 at once.
/// At step percent p the candidate's weight is p and the others share 100 − p in proportion to their weights.
/// </summary>
public static class RolloutStateMachine
{
    /// <summary>Decides what to do with a rollout now.</summary>
    /// <param name="spec">The rollout.</param>
    /// <param name="step">The current step index (−1 before the first).</param>
    /// <param name="stepStartedAt">When the current step began.</param>
    /// <param name="now">Now.</param>
    /// <param name="figures">The candidate's figures since <paramref name="stepStartedAt"/>.</param>
    /// <param name="weights">Every candidate's key with its weight in the spec (the others' shares follow them).</param>
    /// <exception cref="FormatException">The interval cannot be read.</exception>
    public static RolloutDecision Decide(
        ExperimentRolloutSpec spec, int step, DateTimeOffset stepStartedAt, DateTimeOffset now, RolloutFigures figures, IReadOnlyDictionary<string, double> weights)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(figures);
        ArgumentNullException.ThrowIfNull(weights);
        if (spec.Steps.Count == 0)
        {
            throw new ArgumentException("The rollout has no steps.", nameof(spec));
        }

        if (step < 0)
        {
            return new RolloutDecision(RolloutAction.Advance, $"rollout started: {spec.Candidate} gets {Percent(spec.Steps[0])} of traffic", 0, WeightsAt(spec, 0, weights));
        }

        if (step >= spec.Steps.Count)
        {
            return new RolloutDecision(RolloutAction.Promote, $"the rollout of {spec.Candidate} is past its last step", step);
        }

        TimeSpan interval = ParseInterval(spec.Interval);
        string at = $"step {step + 1} of {spec.Steps.Count} ({Percent(spec.Steps[step])})";
        int needed = Math.Max(1, spec.MinRequests ?? 1);
        bool enough = figures.Requests >= needed;
        bool over = now - stepStartedAt >= interval;
        if (enough && (over || spec.MinRequests is not null) && FailedGuard(spec, figures, at) is { } failure)
        {
            return new RolloutDecision(RolloutAction.RollBack, failure, step);
        }

        if (!over)
        {
            return new RolloutDecision(RolloutAction.Hold, $"interval not over: {Duration(interval - (now - stepStartedAt))} of {spec.Interval} left at {at}", step);
        }

        if (!enough)
        {
            return new RolloutDecision(RolloutAction.Hold, $"too few requests: {figures.Requests} of the {needed} needed at {at}", step);
        }

        string held = $"guards held at {at} over {spec.Interval} ({Figures(figures)})";
        if (step == spec.Steps.Count - 1)
        {
            return new RolloutDecision(RolloutAction.Promote, $"{held}: {spec.Candidate} promoted", step);
        }

        return new RolloutDecision(RolloutAction.Advance, $"{held}: {spec.Candidate} moves to {Percent(spec.Steps[step + 1])}", step + 1, WeightsAt(spec, step + 1, weights));
    }

    /// <summary>
    /// Every candidate's weight at <paramref name="step"/>: the rolled-out candidate gets the step's percent, the others
    /// share the rest in proportion to <paramref name="weights"/> (equally when theirs are all 0).
    /// </summary>
    public static IReadOnlyDictionary<string, double> WeightsAt(ExperimentRolloutSpec spec, int step, IReadOnlyDictionary<string, double> weights)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(step, spec.Steps.Count);
        double percent = Math.Clamp(spec.Steps[step], 0, 100);
        var others = weights.Where(w => w.Key != spec.Candidate).ToList();
        double total = others.Sum(w => Math.Max(0, w.Value));
        var result = new Dictionary<string, double>(StringComparer.Ordinal) { [spec.Candidate] = percent };
        foreach (var (key, weight) in others)
        {
            result[key] = total > 0 ? (100 - percent) * Math.Max(0, weight) / total : (100 - percent) / others.Count;
        }

        return result;
    }

    /// <summary>Reads an interval such as <c>30s</c>, <c>10m</c>, <c>1h</c>, <c>1h30m</c>, <c>500ms</c> or <c>1d</c>.</summary>
    /// <exception cref="FormatException">Not an interval, or not positive.</exception>
    public static TimeSpan ParseInterval(string text) =>
        TryParseInterval(text, out var interval) ? interval : throw new FormatException($"'{text}' is not an interval: write a number with a unit, e.g. 30s, 10m or 1h.");

    /// <summary>Reads an interval (see <see cref="ParseInterval"/>); false when it cannot be read or is not positive.</summary>
    public static bool TryParseInterval(string? text, out TimeSpan interval)
    {
        interval = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().AsSpan();
        double totalMs = 0;
        while (!s.IsEmpty)
        {
            int digits = 0;
            while (digits < s.Length && (char.IsAsciiDigit(s[digits]) || s[digits] == '.'))
            {
                digits++;
            }

            int unit = digits;
            while (unit < s.Length && char.IsAsciiLetter(s[unit]))
            {
                unit++;
            }

            if (digits == 0 || unit == digits
                || !double.TryParse(s[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
            {
                return false;
            }

            double? scale = s[digits..unit] switch
            {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => null,
            };
            if (scale is null)
            {
                return false;
            }

            totalMs += value * scale.Value;
            s = s[unit..];
        }

        if (!(totalMs > 0 && totalMs <= TimeSpan.MaxValue.TotalMilliseconds / 2))
        {
            return false;
        }

        interval = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    private static string? FailedGuard(ExperimentRolloutSpec spec, RolloutFigures figures, string at)
    {
        double errorRate = (double)figures.Errors / figures.Requests;
        if (spec.MaxErrorRate is { } maxErrorRate && errorRate > maxErrorRate)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"error rate {errorRate * 100:0.0} % ({figures.Errors} of {figures.Requests} requests) exceeded the limit of {maxErrorRate * 100:0.0} % at {at}: {spec.Candidate} rolled back to 0 %");
        }

        if (spec.MaxP95Ms is { } maxP95 && figures.P95Ms is { } p95 && p95 > maxP95)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"p95 latency {p95:0.#} ms (over {figures.Requests} requests) exceeded the limit of {maxP95:0.#} ms at {at}: {spec.Candidate} rolled back to 0 %");
        }

        return null;
    }

    private static string Figures(RolloutFigures f) => string.Create(CultureInfo.InvariantCulture,
        $"{f.Requests} requests, error rate {(double)f.Errors / f.Requests * 100:0.0} %{(f.P95Ms is { } p95 ? $", p95 {p95:0.#} ms" : "")}");

    private static string Percent(double p) => string.Create(CultureInfo.InvariantCulture, $"{p:0.##} %");

    private static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{Math.Max(0, (int)Math.Ceiling(t.TotalSeconds))}s";
}
