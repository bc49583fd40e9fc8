using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mds.Backend.Experiments;

/// <summary>
/// Reads an experiment spec from YAML or JSON (the flat form: <c>name</c>, <c>resourceType</c>, <c>candidates</c>,
/// <c>default</c>, <c>mirror</c>, <c>rollout</c>). Every problem is listed at once, by its path. Pure: no I/O.
/// </summary>
public static class ExperimentSpecParser
{
    /// <summary>The largest spec text accepted, in UTF-8 bytes.</summary>
    public const int MaxBytes = 64 * 1024;

    private static readonly string[] SpecFields = ["name", "resourceType", "candidates", "default", "mirror", "rollout"];
    private static readonly string[] CandidateFields = ["name", "version", "weight"];
    private static readonly string[] MirrorFields = ["name", "version", "percent"];
    private static readonly string[] RolloutFields = ["candidate", "steps", "interval", "maxErrorRate", "maxP95Ms", "minRequests"];

    /// <summary>Parses <paramref name="text"/>: JSON when the content type says so or the text starts with <c>{</c>, else YAML.</summary>
    /// <exception cref="ExperimentSpecException">Not well-formed, or unknown or mistyped fields; every problem is listed.</exception>
    public static ExperimentSpec Parse(string text, string? contentType)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Encoding.UTF8.GetByteCount(text) > MaxBytes)
        {
            throw new ExperimentSpecException([$"the spec is larger than {MaxBytes / 1024} KiB"]);
        }

        bool json = contentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true
            || (contentType?.Contains("yaml", StringComparison.OrdinalIgnoreCase) != true && text.TrimStart().StartsWith('{'));
        JsonNode? root;
        try
        {
            root = json ? JsonNode.Parse(text, new JsonNodeOptions { PropertyNameCaseInsensitive = true }, new JsonDocumentOptions { MaxDepth = 16 }) : FromYaml(text);
            Materialize(root); // a JsonObject reads its fields on first use: a field given twice throws here, not later
        }
        catch (ArgumentException e) when (json)
        {
            throw new ExperimentSpecException([$"the spec is not well-formed JSON: {e.Message}"]);
        }
        catch (Exception e) when (e is JsonException or YamlException)
        {
            throw new ExperimentSpecException([$"the spec is not well-formed {(json ? "JSON" : "YAML")}: {e.Message}"]);
        }

        if (root is not JsonObject spec)
        {
            throw new ExperimentSpecException(["the spec must be an object with name, resourceType and candidates"]);
        }

        var problems = new List<string>();
        Unknown(spec, SpecFields, "", problems);
        string name = Text(spec, "name", "name", problems, required: true) ?? "";
        string resourceType = Text(spec, "resourceType", "resourceType", problems, required: false) ?? "model";
        var candidates = new List<ExperimentCandidateSpec>();
        if (Get(spec, "candidates") is JsonArray list)
        {
            for (int i = 0; i < list.Count; i++)
            {
                string path = $"candidates[{i}]";
                if (list[i] is not JsonObject c)
                {
                    problems.Add($"{path}: must be an object with name, version and weight");
                    continue;
                }

                Unknown(c, CandidateFields, path + ".", problems);
                candidates.Add(new ExperimentCandidateSpec(
                    Text(c, "name", path + ".name", problems, required: true) ?? "",
                    Int(c, "version", path + ".version", problems),
                    Number(c, "weight", path + ".weight", problems) ?? double.NaN));
            }
        }
        else if (Get(spec, "candidates") is null)
        {
            problems.Add("candidates: required");
        }
        else
        {
            problems.Add("candidates: must be a list");
        }

        string? defaultKey = Text(spec, "default", "default", problems, required: false);
        ExperimentMirrorSpec? mirror = null;
        if (Get(spec, "mirror") is JsonObject m)
        {
            Unknown(m, MirrorFields, "mirror.", problems);
            mirror = new ExperimentMirrorSpec(Text(m, "name", "mirror.name", problems, required: true) ?? "",
                Int(m, "version", "mirror.version", problems), Number(m, "percent", "mirror.percent", problems) ?? 100);
        }
        else if (Get(spec, "mirror") is not null)
        {
            problems.Add("mirror: must be an object with name, version and percent");
        }

        ExperimentRolloutSpec? rollout = null;
        if (Get(spec, "rollout") is JsonObject r)
        {
            Unknown(r, RolloutFields, "rollout.", problems);
            var steps = new List<double>();
            if (Get(r, "steps") is JsonArray s)
            {
                for (int i = 0; i < s.Count; i++)
                {
                    if (s[i] is JsonValue v && TryNumber(v, out double step))
                    {
                        steps.Add(step);
                    }
                    else
                    {
                        problems.Add($"rollout.steps[{i}]: must be a number");
                    }
                }
            }
            else
            {
                problems.Add("rollout.steps: required, a list of percentages ending at 100");
            }

            rollout = new ExperimentRolloutSpec(Text(r, "candidate", "rollout.candidate", problems, required: true) ?? "", steps,
                Text(r, "interval", "rollout.interval", problems, required: true) ?? "",
                Number(r, "maxErrorRate", "rollout.maxErrorRate", problems), Number(r, "maxP95Ms", "rollout.maxP95Ms", problems),
                Int(r, "minRequests", "rollout.minRequests", problems));
        }
        else if (Get(spec, "rollout") is not null)
        {
            problems.Add("rollout: must be an object with candidate, steps and interval");
        }

        if (problems.Count > 0)
        {
            throw new ExperimentSpecException(problems);
        }

        return new ExperimentSpec(name, resourceType, candidates, defaultKey, mirror, rollout);
    }

    /// <summary>The spec as canonical JSON (what is stored).</summary>
    public static string Canonicalize(ExperimentSpec spec) => JsonSerializer.Serialize(spec, ExperimentJson.Options);

    /// <summary>The stored spec back.</summary>
    public static ExperimentSpec FromStored(string json) =>
        JsonSerializer.Deserialize<ExperimentSpec>(json, ExperimentJson.Options) ?? throw new InvalidOperationException("an experiment's stored spec is empty");

    private static JsonNode? Get(JsonObject o, string field)
    {
        foreach (var (key, value) in o)
        {
            if (string.Equals(key, field, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    private static void Unknown(JsonObject o, string[] known, string prefix, List<string> problems)
    {
        foreach (var (key, _) in o)
        {
            if (!known.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{prefix}{key}: unknown field (known: {string.Join(", ", known)})");
            }
        }
    }

    private static string? Text(JsonObject o, string field, string path, List<string> problems, bool required)
    {
        switch (Get(o, field))
        {
            case null:
                if (required)
                {
                    problems.Add($"{path}: required");
                }

                return null;
            case JsonValue v when v.TryGetValue(out string? s):
                return s;
            case JsonValue v when TryNumber(v, out double d):
                return d.ToString(CultureInfo.InvariantCulture);
            default:
                problems.Add($"{path}: must be text");
                return null;
        }
    }

    private static double? Number(JsonObject o, string field, string path, List<string> problems)
    {
        var node = Get(o, field);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && TryNumber(v, out double d))
        {
            return d;
        }

        problems.Add($"{path}: must be a number");
        return null;
    }

    private static int? Int(JsonObject o, string field, string path, List<string> problems)
    {
        double? d = Number(o, field, path, problems);
        if (d is null)
        {
            return null;
        }

        if (d != Math.Floor(d.Value) || d < 1 || d > int.MaxValue)
        {
            problems.Add($"{path}: must be a whole number ≥ 1");
            return null;
        }

        return (int)d.Value;
    }

    private static bool TryNumber(JsonValue v, out double d) => v.TryGetValue(out d);

    private static void Materialize(JsonNode? node)
    {
        if (node is JsonObject o)
        {
            foreach (var (_, value) in o)
            {
                Materialize(value);
            }
        }
        else if (node is JsonArray a)
        {
            foreach (var item in a)
            {
                Materialize(item);
            }
        }
    }

    private static JsonNode? FromYaml(string text)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(text);
        try
        {
            stream.Load(reader);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these (not a YamlException) for some unclosed flow collections and stray events: still a 400.
            throw new YamlException(e.Message);
        }

        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode, 0);
    }

    private static JsonNode? Convert(YamlNode node, int depth)
    {
        if (depth > 16)
        {
            throw new YamlException("the spec is nested too deeply");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject(new JsonNodeOptions { PropertyNameCaseInsensitive = true });
                foreach (var (key, value) in map.Children)
                {
                    string k = (key as YamlScalarNode)?.Value ?? throw new YamlException(key.Start, key.End, "keys must be plain text");
                    if (o.ContainsKey(k))
                    {
                        throw new YamlException(key.Start, key.End, $"'{k}' is given twice");
                    }

                    o[k] = Convert(value, depth + 1);
                }

                return o;
            case YamlSequenceNode seq:
                var a = new JsonArray();
                foreach (var item in seq.Children)
                {
                    a.Add(Convert(item, depth + 1));
                }

                return a;
            case YamlScalarNode scalar:
                if (scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null")
                {
                    return null;
                }

                if (scalar.Style == ScalarStyle.Plain && double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
                {
                    return JsonValue.Create(d);
                }

                return JsonValue.Create(scalar.Value);
            default:
                throw new YamlException(node.Start, node.End, "anchors and aliases are not supported here");
        }
    }
}

/// <summary>An experiment spec that cannot be read or is not valid: every problem, one sentence each.</summary>
public sealed class ExperimentSpecException : Exception
{
    public ExperimentSpecException(IReadOnlyList<string> problems)
        : base(problems is { Count: > 0 } ? string.Join("; ", problems) : "the experiment spec is not valid")
    {
        Problems = problems ?? [];
    }

    public ExperimentSpecException()
        : this(["the experiment spec is not valid"])
    {
    }

    public ExperimentSpecException(string message)
        : this([message])
    {
    }

    public ExperimentSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<string> Problems { get; }
}

/// <summary>How experiments' JSON is written and read (specs, weights).</summary>
internal static class ExperimentJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
