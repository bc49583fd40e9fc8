using System.Globalization;
using System.Text.RegularExpressions;
using Mds.Contracts.Api;

namespace Mds.Backend.Experiments;

/// <summary>What the validator needs to know about the cluster: which models (with their versions) and pipelines exist.</summary>
/// <param name="ModelVersions">Model name → its version numbers.</param>
/// <param name="Pipelines">Pipeline names.</param>
/// <param name="TakenOver">Resource name → the running experiment whose default it is already.</param>
public sealed record ExperimentWorld(
    IReadOnlyDictionary<string, IReadOnlySet<int>> ModelVersions, IReadOnlySet<string> Pipelines, IReadOnlyDictionary<string, string> TakenOver);

/// <summary>Checks a spec against the rules and the cluster; every problem is named, one sentence each. Pure.</summary>
public static partial class ExperimentValidator
{
    /// <summary>The resource types an experiment can split.</summary>
    public const string Model = "model", Pipeline = "pipeline";

    /// <summary>The suffix that makes a model name mean an experiment (<c>/v2/models/{name}.experiment/infer</c>).</summary>
    public const string ModelSuffix = ".experiment";

    /// <summary>A candidate's key: the name, or <c>name@version</c>.</summary>
    public static string KeyOf(string name, int? version) =>
        version is int v ? name + "@" + v.ToString(CultureInfo.InvariantCulture) : name;

    /// <summary>Every problem with <paramref name="spec"/> in <paramref name="world"/>; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(ExperimentSpec spec, ExperimentWorld world)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(world);
        var problems = new List<string>();
        if (!NamePattern().IsMatch(spec.Name ?? ""))
        {
            problems.Add("name: 1 to 100 letters, digits, '.', '_' or '-'");
        }
        else if (spec.Name!.EndsWith(ModelSuffix, StringComparison.Ordinal) || spec.Name.EndsWith(Pipelines.PipelineRunner.ModelSuffix, StringComparison.Ordinal))
        {
            problems.Add($"name: must not end in '{ModelSuffix}' or '{Pipelines.PipelineRunner.ModelSuffix}'");
        }

        bool pipeline = spec.ResourceType == Pipeline;
        if (spec.ResourceType is not (Model or Pipeline))
        {
            problems.Add($"resourceType: '{spec.ResourceType}' is not one of model, pipeline");
        }

        var keys = new List<string>();
        var candidates = spec.Candidates ?? [];
        if (candidates.Count == 0 || (candidates.Count == 1 && spec.Mirror is null))
        {
            problems.Add("candidates: at least two are needed (one is allowed with a mirror)");
        }

        for (int i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            string key = KeyOf(c.Name, c.Version);
            if (keys.Contains(key, StringComparer.Ordinal))
            {
                problems.Add($"candidates[{i}]: '{key}' is a duplicate candidate");
            }

            keys.Add(key);
            if (Unknown(c.Name, c.Version, pipeline, spec.ResourceType, world) is { } unknown)
            {
                problems.Add($"candidates[{i}]: {unknown}");
            }

            if (!(c.Weight > 0) || double.IsInfinity(c.Weight))
            {
                problems.Add($"candidates[{i}].weight: '{key}' has weight {Describe(c.Weight)}; weights must be positive numbers");
            }
        }

        if (spec.Default is { } d)
        {
            int index = keys.IndexOf(d);
            if (index < 0)
            {
                problems.Add($"default: '{d}' is not one of the candidates ({string.Join(", ", keys)})");
            }
            else if (world.TakenOver.TryGetValue(candidates[index].Name, out var other) && other != spec.Name)
            {
                problems.Add($"default: '{candidates[index].Name}' is already the default of experiment '{other}'");
            }
        }

        if (spec.Mirror is { } m)
        {
            string key = KeyOf(m.Name, m.Version);
            if (keys.Contains(key, StringComparer.Ordinal))
            {
                problems.Add($"mirror: '{key}' is also a candidate; the mirror must be another model or version");
            }

            if (Unknown(m.Name, m.Version, pipeline, spec.ResourceType, world) is { } unknown)
            {
                problems.Add($"mirror: {unknown}");
            }

            if (!(m.Percent > 0 && m.Percent <= 100))
            {
                problems.Add($"mirror.percent: {Describe(m.Percent)} is not in (0, 100]");
            }
        }

        if (spec.Rollout is { } r)
        {
            if (!keys.Contains(r.Candidate, StringComparer.Ordinal))
            {
                problems.Add($"rollout.candidate: '{r.Candidate}' is not one of the candidates ({string.Join(", ", keys)})");
            }
            else if (candidates.Count < 2)
            {
                problems.Add("rollout: needs at least one other candidate to take the rest of the traffic");
            }

            var steps = r.Steps ?? [];
            bool increasing = steps.Count > 0;
            for (int i = 0; i < steps.Count; i++)
            {
                if (!(steps[i] > 0 && steps[i] <= 100) || (i > 0 && steps[i] <= steps[i - 1]))
                {
                    increasing = false;
                }
            }

            if (!increasing || steps[^1] != 100)
            {
                problems.Add($"rollout.steps: [{string.Join(", ", steps.Select(s => s.ToString(CultureInfo.InvariantCulture)))}] must increase, each in (0, 100], and end at 100");
            }

            if (ParseInterval(r.Interval) is null)
            {
                problems.Add($"rollout.interval: '{r.Interval}' is not a duration such as 30s, 10m or 1h");
            }

            if (r.MaxErrorRate is double e && !(e >= 0 && e <= 1))
            {
                problems.Add($"rollout.maxErrorRate: {Describe(e)} is not in [0, 1]");
            }

            if (r.MaxP95Ms is double p && !(p > 0))
            {
                problems.Add($"rollout.maxP95Ms: {Describe(p)} must be positive");
            }
        }

        return problems;
    }

    /// <summary>A duration such as <c>500ms</c>, <c>30s</c>, <c>10m</c>, <c>1h</c> (at least one second); null when it is not one.</summary>
    public static TimeSpan? ParseInterval(string? text)
    {
        var match = IntervalPattern().Match(text ?? "");
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > 1_000_000)
        {
            return null;
        }

        var span = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromHours(n),
        };
        return span >= TimeSpan.FromSeconds(1) ? span : null;
    }

    private static string? Unknown(string name, int? version, bool pipeline, string resourceType, ExperimentWorld world)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "a name is required";
        }

        if (pipeline)
        {
            if (version is not null)
            {
                return $"'{name}': pipeline candidates take no version";
            }

            return world.Pipelines.Contains(name) ? null
                : world.ModelVersions.ContainsKey(name) ? $"'{name}' is a model; candidates of a pipeline experiment must be pipelines"
                : $"unknown candidate: pipeline '{name}' does not exist";
        }

        if (resourceType != Model)
        {
            return null; // the resource type is reported on its own
        }

        if (!world.ModelVersions.TryGetValue(name, out var versions))
        {
            return world.Pipelines.Contains(name) ? $"'{name}' is a pipeline; this is a model experiment (resourceType: pipeline for pipelines)"
                : $"unknown candidate: model '{name}' does not exist";
        }

        return version is int v && !versions.Contains(v) ? $"unknown candidate: model '{name}' has no version {v}" : null;
    }

    private static string Describe(double value) => double.IsNaN(value) ? "missing" : value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^([0-9]+)(ms|s|m|h)$")]
    private static partial Regex IntervalPattern();
}
