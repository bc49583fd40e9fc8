using System.Globalization;
using System.Text.RegularExpressions;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Experiments;

/// <summary>What the validator needs to know about the cluster: which models (with their versions) and pipelines exist.</summary>
/// <param name="ModelVersions">Model name → its version numbers.</param>
/// <param name="Pipelines">Pipeline names.</param>
/// <param name="TakenOver">Resource name → the running experiment whose default it is already.</param>
/// <param name="Signatures">
/// Candidate key (<c>name</c> or <c>name@version</c>) → the inputs and outputs it serves (a model without a version: its
/// live version's); a key not in it (or null) is not compared.
/// </param>
public sealed record ExperimentWorld(
    IReadOnlyDictionary<string, IReadOnlySet<int>> ModelVersions, IReadOnlySet<string> Pipelines, IReadOnlyDictionary<string, string> TakenOver,
    IReadOnlyDictionary<string, ExperimentSignature>? Signatures = null);

/// <summary>The tensors a candidate takes and answers, as its metadata declares them.</summary>
public sealed record ExperimentSignature(IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<TensorMetadata> Outputs);

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

        CheckSignatures(spec, world, problems);
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

    /// <summary>
    /// A caller's request must mean the same to every candidate, and its answer must read the same: each candidate (and
    /// the mirror) takes exactly the reference's inputs — the default, else the first candidate — with the same
    /// datatypes and compatible shapes, and each candidate answers at least the reference's outputs (the mirror's answer
    /// is never returned, so only its inputs are compared).
    /// </summary>
    private static void CheckSignatures(ExperimentSpec spec, ExperimentWorld world, List<string> problems)
    {
        var candidates = spec.Candidates ?? [];
        if (world.Signatures is not { } signatures || candidates.Count == 0)
        {
            return;
        }

        int referenceIndex = Math.Max(0, candidates.ToList().FindIndex(c => KeyOf(c.Name, c.Version) == spec.Default));
        string referenceKey = KeyOf(candidates[referenceIndex].Name, candidates[referenceIndex].Version);
        if (!signatures.TryGetValue(referenceKey, out var reference))
        {
            return;
        }

        for (int i = 0; i < candidates.Count; i++)
        {
            string key = KeyOf(candidates[i].Name, candidates[i].Version);
            if (i != referenceIndex && signatures.TryGetValue(key, out var other) && Mismatch(reference, other, outputs: true) is { } why)
            {
                problems.Add($"candidates[{i}]: '{key}' is not interchangeable with '{referenceKey}': {why}");
            }
        }

        if (spec.Mirror is { } m && signatures.TryGetValue(KeyOf(m.Name, m.Version), out var mirror) && Mismatch(reference, mirror, outputs: false) is { } mirrorWhy)
        {
            problems.Add($"mirror: '{KeyOf(m.Name, m.Version)}' cannot take the requests of '{referenceKey}': {mirrorWhy}");
        }
    }

    /// <summary>Why <paramref name="other"/> cannot stand in for <paramref name="reference"/>; null when it can.</summary>
    public static string? Mismatch(ExperimentSignature reference, ExperimentSignature other, bool outputs)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(other);
        if (reference.Inputs.Count == 0 || other.Inputs.Count == 0)
        {
            return null; // not known (a pipeline with no live version yet)
        }

        if (Unmatched(reference.Inputs, other.Inputs, "input", "takes") is { } inputs)
        {
            return inputs;
        }

        if (other.Inputs.FirstOrDefault(t => reference.Inputs.All(r => r.Name != t.Name)) is { } extra)
        {
            return $"it also needs input '{extra.Name}', which callers of the reference do not send";
        }

        return outputs ? Unmatched(reference.Outputs, other.Outputs, "output", "answers") : null;
    }

    /// <summary>The first of <paramref name="wanted"/> that <paramref name="offered"/> lacks or declares otherwise, in words.</summary>
    private static string? Unmatched(IReadOnlyList<TensorMetadata> wanted, IReadOnlyList<TensorMetadata> offered, string kind, string verb)
    {
        foreach (var tensor in wanted)
        {
            var match = offered.FirstOrDefault(t => t.Name == tensor.Name);
            if (match is null)
            {
                return $"it has no {kind} '{tensor.Name}' (it {verb} {Names(offered)})";
            }

            if (TensorMismatch(tensor, match) is { } why)
            {
                return $"{kind} '{tensor.Name}' {why}";
            }
        }

        return null;
    }

    private static string? TensorMismatch(TensorMetadata reference, TensorMetadata other)
    {
        if (!string.Equals(reference.Datatype, other.Datatype, StringComparison.Ordinal))
        {
            return $"is {other.Datatype} there, {reference.Datatype} here";
        }

        bool compatible = reference.Shape.Length == other.Shape.Length
            && reference.Shape.Zip(other.Shape).All(p => p.First < 0 || p.Second < 0 || p.First == p.Second);
        return compatible ? null : $"has shape [{string.Join(", ", other.Shape)}] there, [{string.Join(", ", reference.Shape)}] here";
    }

    private static string Names(IReadOnlyList<TensorMetadata> tensors) =>
        tensors.Count == 0 ? "none" : string.Join(", ", tensors.Select(t => "'" + t.Name + "'"));

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
