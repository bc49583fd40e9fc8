using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Api;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Reads a pipeline spec from YAML or JSON text, in the flat form (<c>name</c>, <c>steps</c>, <c>output</c>, …) or in
/// Seldon Core V2's resource form (<c>apiVersion</c>, <c>kind: Pipeline</c>, <c>metadata.name</c>, <c>spec</c>).
/// Pure: no I/O.
/// </summary>
/// <remarks>
/// Both formats are first read into one small tree that keeps line numbers, then bound field by field. That is why
/// neither YamlDotNet's nor System.Text.Json's deserializer is used: they stop at the first unknown field and do not say
/// where a value sits, while a user's spec deserves every typo reported at once, with its path and line. YAML field
/// names are camelCase as written (like YamlDotNet's camelCase convention); JSON's are matched ignoring case.
/// </remarks>
public static class PipelineSpecParser
{
    /// <summary>The largest spec text accepted, in UTF-8 bytes.</summary>
    public const int MaxBytes = 256 * 1024;

    // Far above any real spec; bounds the work a hostile document can cause.
    private const int MaxDepth = 32;

    private static readonly string[] FlatFields = ["name", "steps", "output", "timeoutMs", "streaming"];
    private static readonly string[] ResourceFields = ["apiVersion", "kind", "metadata", "spec"];
    private static readonly string[] MetadataFields = ["name", "namespace", "labels", "annotations"];
    private static readonly string[] ResourceSpecFields = ["steps", "output", "timeoutMs", "streaming"];
    private static readonly string[] StepFields =
        ["name", "model", "inputs", "tensorMap", "inputsJoinType", "triggers", "triggersJoinType", "when", "perRow", "timeoutMs", "retries"];
    private static readonly string[] OutputFields = ["steps", "stepsJoin", "tensorMap"];

    /// <summary>
    /// Parses <paramref name="text"/>: YAML for <c>application/yaml</c>, <c>application/x-yaml</c>, <c>text/yaml</c>
    /// (or a <c>+yaml</c> type); JSON for <c>application/json</c> (or <c>+json</c>); otherwise JSON when the text starts
    /// with <c>{</c>, else YAML.
    /// </summary>
    /// <exception cref="PipelineSpecException">The text is too large, not well-formed, or has unknown or mistyped fields; every problem is listed.</exception>
    public static PipelineSpec Parse(string text, string? contentType)
    {
        ArgumentNullException.ThrowIfNull(text);
        var problems = new List<PipelineSpecProblemDto>();
        if (text.Length > MaxBytes || Encoding.UTF8.GetByteCount(text) > MaxBytes)
        {
            Throw(new PipelineSpecProblemDto("", $"the spec is larger than {MaxBytes / 1024} KiB"));
        }

        bool json = IsJson(text, contentType);
        Node? root = json ? ReadJson(text, problems) : ReadYaml(text, problems);
        if (problems.Count > 0)
        {
            throw new PipelineSpecException(problems);
        }

        if (root is null or Scalar { Kind: ScalarKind.Null })
        {
            Throw(new PipelineSpecProblemDto("", "the spec is empty"));
        }

        var spec = new Binder(ignoreCase: json, problems).Spec(root);
        if (problems.Count > 0)
        {
            throw new PipelineSpecException([.. problems.OrderBy(p => p.Line ?? 0)]);
        }

        return spec;
    }

    /// <summary>
    /// The spec as compact JSON in one fixed form (camelCase, nulls omitted, map keys sorted ordinally, steps in spec
    /// order): equal for specs that say the same, whatever format or field order they were written in.
    /// </summary>
    public static string Canonicalize(PipelineSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", spec.Name);
            w.WriteStartArray("steps");
            foreach (var step in spec.Steps)
            {
                w.WriteStartObject();
                w.WriteString("name", step.Name);
                WriteIfSet(w, "model", step.Model);
                WriteList(w, "inputs", step.Inputs);
                WriteMap(w, "tensorMap", step.TensorMap);
                WriteIfSet(w, "inputsJoinType", step.InputsJoinType);
                WriteList(w, "triggers", step.Triggers);
                WriteIfSet(w, "triggersJoinType", step.TriggersJoinType);
                WriteIfSet(w, "when", step.When);
                w.WriteBoolean("perRow", step.PerRow);
                WriteIfSet(w, "timeoutMs", step.TimeoutMs);
                WriteIfSet(w, "retries", step.Retries);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (spec.Output is { } output)
            {
                w.WriteStartObject("output");
                WriteList(w, "steps", output.Steps);
                WriteIfSet(w, "stepsJoin", output.StepsJoin);
                WriteMap(w, "tensorMap", output.TensorMap);
                w.WriteEndObject();
            }

            WriteIfSet(w, "timeoutMs", spec.TimeoutMs);
            w.WriteBoolean("streaming", spec.Streaming);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteIfSet(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteIfSet(Utf8JsonWriter w, string name, int? value)
    {
        if (value is int v)
        {
            w.WriteNumber(name, v);
        }
    }

    private static void WriteList(Utf8JsonWriter w, string name, List<string>? values)
    {
        if (values is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (string value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }

    private static void WriteMap(Utf8JsonWriter w, string name, Dictionary<string, string>? map)
    {
        if (map is null)
        {
            return;
        }

        w.WriteStartObject(name);
        foreach (var (key, value) in map.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(PipelineSpecProblemDto problem) => throw new PipelineSpecException([problem]);

    private static bool IsJson(string text, string? contentType)
    {
        string media = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (media is "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml" || media.EndsWith("+yaml", StringComparison.Ordinal))
        {
            return false;
        }

        if (media is "application/json" or "text/json" || media.EndsWith("+json", StringComparison.Ordinal))
        {
            return true;
        }

        foreach (char c in text)
        {
            if (!char.IsWhiteSpace(c) && c != '\uFEFF')
            {
                return c == '{';
            }
        }

        return false;
    }

    // ---- the tree both formats are read into ----

    private enum ScalarKind
    {
        /// <summary>A YAML plain scalar: text, number, bool or null by its content.</summary>
        Plain,
        /// <summary>A quoted YAML scalar or a JSON string: always text.</summary>
        Text,
        Number,
        Bool,
        Null,
    }

    private abstract record Node(int Line);

    private sealed record Scalar(string Value, ScalarKind Kind, int Line) : Node(Line);

    private sealed record Sequence(List<Node> Items, int Line) : Node(Line);

    private sealed record Mapping(List<(string Key, Node Value, int Line)> Entries, int Line) : Node(Line);

    /// <summary>Collects a container's children while its document is read.</summary>
    private sealed class Open(Node node)
    {
        public Node Node { get; } = node;

        public string? PendingKey { get; set; }

        public int PendingKeyLine { get; set; }
    }

    private static void Attach(Stack<Open> stack, Node node, ref Node? root, List<PipelineSpecProblemDto> problems)
    {
        if (stack.Count == 0)
        {
            root = node;
            return;
        }

        var open = stack.Peek();
        if (open.Node is Sequence seq)
        {
            seq.Items.Add(node);
        }
        else if (open.PendingKey is null)
        {
            if (node is Scalar key)
            {
                open.PendingKey = key.Value;
                open.PendingKeyLine = key.Line;
            }
            else
            {
                problems.Add(new PipelineSpecProblemDto("", "a field name must be text, not a list or mapping", node.Line));
                open.PendingKey = "";
                open.PendingKeyLine = node.Line;
            }
        }
        else
        {
            ((Mapping)open.Node).Entries.Add((open.PendingKey, node, open.PendingKeyLine));
            open.PendingKey = null;
        }
    }

    private static Node? ReadYaml(string text, List<PipelineSpecProblemDto> problems)
    {
        var parser = new Parser(new StringReader(text));
        var stack = new Stack<Open>();
        Node? root = null;
        int documents = 0;
        int lastLine = 1;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                int line = checked((int)current.Start.Line);
                lastLine = line;
                switch (current)
                {
                    case DocumentStart:
                        if (++documents > 1)
                        {
                            problems.Add(new PipelineSpecProblemDto("", "the text holds more than one YAML document; apply one pipeline at a time", line));
                            return null;
                        }

                        break;
                    case AnchorAlias alias:
                        problems.Add(new PipelineSpecProblemDto("", $"YAML aliases (*{alias.Value}) are not supported in a pipeline spec; write the value out", line));
                        return null;
                    case YamlDotNet.Core.Events.Scalar s:
                        var kind = s.Style is ScalarStyle.Plain or ScalarStyle.Any ? ScalarKind.Plain : ScalarKind.Text;
                        if (kind == ScalarKind.Plain && s.Value is "" or "~" or "null" or "Null" or "NULL")
                        {
                            kind = ScalarKind.Null;
                        }

                        Attach(stack, new Scalar(s.Value, kind, line), ref root, problems);
                        break;
                    case SequenceStart:
                    case MappingStart:
                        if (stack.Count >= MaxDepth)
                        {
                            problems.Add(new PipelineSpecProblemDto("", $"the spec is nested deeper than {MaxDepth} levels", line));
                            return null;
                        }

                        stack.Push(new Open(current is SequenceStart ? new Sequence([], line) : new Mapping([], line)));
                        break;
                    case SequenceEnd:
                    case MappingEnd:
                        var done = stack.Pop();
                        Attach(stack, done.Node, ref root, problems);
                        break;
                }
            }
        }
        catch (YamlException e)
        {
            problems.Add(new PipelineSpecProblemDto("", "YAML syntax error: " + YamlMessage(e), checked((int)e.Start.Line)));
            return null;
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this (not a YamlException) for some unclosed flow collections.
            problems.Add(new PipelineSpecProblemDto("", "YAML syntax error: " + e.Message, lastLine));
            return null;
        }

        return root;
    }

    private static string YamlMessage(YamlException e)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): "; the line is reported apart.
        string message = e.Message;
        int cut = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith('(') && cut >= 0 ? message[(cut + 3)..] : message;
    }

    private static Node? ReadJson(string text, List<PipelineSpecProblemDto> problems)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var newlines = new List<int>();
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                newlines.Add(i);
            }
        }

        int LineAt(long index)
        {
            int found = newlines.BinarySearch((int)index);
            return (found < 0 ? ~found : found) + 1;
        }

        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            MaxDepth = MaxDepth,
        });
        var stack = new Stack<Open>();
        Node? root = null;
        try
        {
            while (reader.Read())
            {
                int line = LineAt(reader.TokenStartIndex);
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        stack.Push(new Open(new Mapping([], line)));
                        break;
                    case JsonTokenType.StartArray:
                        stack.Push(new Open(new Sequence([], line)));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        Attach(stack, stack.Pop().Node, ref root, problems);
                        break;
                    case JsonTokenType.PropertyName:
                    case JsonTokenType.String:
                        Attach(stack, new Scalar(reader.GetString()!, ScalarKind.Text, line), ref root, problems);
                        break;
                    case JsonTokenType.Number:
                        Attach(stack, new Scalar(Encoding.UTF8.GetString(reader.ValueSpan), ScalarKind.Number, line), ref root, problems);
                        break;
                    case JsonTokenType.True:
                    case JsonTokenType.False:
                        Attach(stack, new Scalar(reader.TokenType == JsonTokenType.True ? "true" : "false", ScalarKind.Bool, line), ref root, problems);
                        break;
                    case JsonTokenType.Null:
                        Attach(stack, new Scalar("null", ScalarKind.Null, line), ref root, problems);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            string message = e.Message;
            int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            problems.Add(new PipelineSpecProblemDto("", "JSON syntax error: " + (cut > 0 ? message[..cut] : message), (int)(e.LineNumber ?? 0) + 1));
            return null;
        }

        return root;
    }

    // ---- binding the tree to PipelineSpec ----

    private sealed class Binder(bool ignoreCase, List<PipelineSpecProblemDto> problems)
    {
        private StringComparison Comparison => ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

        public PipelineSpec Spec(Node root)
        {
            var spec = new PipelineSpec();
            if (root is Mapping map && map.Entries.Any(e => ResourceFields.Any(f => string.Equals(f, e.Key, Comparison))))
            {
                var fields = Fields(root, "", ResourceFields);
                if (fields is null)
                {
                    return spec;
                }

                Text(fields, "apiVersion", "");
                if (fields.TryGetValue("kind", out var kindNode) && Text(kindNode, "kind") is { } kind && kind != "Pipeline")
                {
                    Problem("kind", $"kind must be Pipeline, not '{kind}'", kindNode.Line);
                }

                if (fields.TryGetValue("metadata", out var metadata) && Fields(metadata, "metadata", MetadataFields) is { } meta)
                {
                    spec.Name = Text(meta, "name", "metadata") ?? "";
                    Text(meta, "namespace", "metadata");
                    Map(meta, "labels", "metadata");
                    Map(meta, "annotations", "metadata");
                }

                if (!fields.TryGetValue("spec", out var body))
                {
                    Problem("spec", "a Pipeline resource needs a spec (steps, output)", root.Line);
                }
                else if (Fields(body, "spec", ResourceSpecFields) is { } specFields)
                {
                    Body(spec, specFields, "spec");
                }

                return spec;
            }

            if (Fields(root, "", FlatFields) is { } flat)
            {
                spec.Name = Text(flat, "name", "") ?? "";
                Body(spec, flat, "");
            }

            return spec;
        }

        private void Body(PipelineSpec spec, Dictionary<string, Node> fields, string path)
        {
            if (fields.TryGetValue("steps", out var steps))
            {
                string stepsPath = Join(path, "steps");
                if (steps is Sequence seq)
                {
                    for (int i = 0; i < seq.Items.Count; i++)
                    {
                        spec.Steps.Add(Step(seq.Items[i], $"{stepsPath}[{i}]"));
                    }
                }
                else if (!IsNull(steps))
                {
                    Problem(stepsPath, "expected a list of steps", steps.Line);
                }
            }

            if (fields.TryGetValue("output", out var output) && !IsNull(output))
            {
                string outputPath = Join(path, "output");
                if (Fields(output, outputPath, OutputFields) is { } outputFields)
                {
                    spec.Output = new PipelineOutputSpec
                    {
                        Steps = List(outputFields, "steps", outputPath) ?? [],
                        StepsJoin = Text(outputFields, "stepsJoin", outputPath),
                        TensorMap = Map(outputFields, "tensorMap", outputPath),
                    };
                }
            }

            spec.TimeoutMs = Int(fields, "timeoutMs", path);
            spec.Streaming = Bool(fields, "streaming", path);
        }

        private PipelineStepSpec Step(Node node, string path)
        {
            var step = new PipelineStepSpec();
            if (Fields(node, path, StepFields) is not { } f)
            {
                return step;
            }

            step.Name = Text(f, "name", path) ?? "";
            step.Model = Text(f, "model", path);
            step.Inputs = List(f, "inputs", path);
            step.TensorMap = Map(f, "tensorMap", path);
            step.InputsJoinType = Text(f, "inputsJoinType", path);
            step.Triggers = List(f, "triggers", path);
            step.TriggersJoinType = Text(f, "triggersJoinType", path);
            step.When = Text(f, "when", path);
            step.PerRow = Bool(f, "perRow", path);
            step.TimeoutMs = Int(f, "timeoutMs", path);
            step.Retries = Int(f, "retries", path);
            return step;
        }

        /// <summary>The known fields of a mapping; reports unknown and repeated ones.</summary>
        private Dictionary<string, Node>? Fields(Node node, string path, string[] known)
        {
            if (node is not Mapping map)
            {
                Problem(path, "expected a mapping of fields (" + string.Join(", ", known) + ")", node.Line);
                return null;
            }

            var result = new Dictionary<string, Node>(StringComparer.Ordinal);
            foreach (var (key, value, line) in map.Entries)
            {
                string? field = Array.Find(known, k => string.Equals(k, key, Comparison));
                if (field is null)
                {
                    string? hint = Array.Find(known, k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
                        ?? known.Where(k => Distance(k.ToUpperInvariant(), key.ToUpperInvariant()) <= 2).FirstOrDefault();
                    Problem(Join(path, key), $"unknown field '{key}'" + (hint is null ? $" (known: {string.Join(", ", known)})" : $"; did you mean '{hint}'?"), line);
                }
                else if (!result.TryAdd(field, value))
                {
                    Problem(Join(path, key), $"field '{key}' appears twice", line);
                }
            }

            return result;
        }

        private string? Text(Dictionary<string, Node> fields, string name, string path) =>
            fields.TryGetValue(name, out var node) ? Text(node, Join(path, name)) : null;

        private string? Text(Node node, string path)
        {
            switch (node)
            {
                case Scalar { Kind: ScalarKind.Null }:
                    return null;
                case Scalar { Kind: ScalarKind.Plain or ScalarKind.Text } s:
                    return s.Value;
                default:
                    Problem(path, "expected text", node.Line);
                    return null;
            }
        }

        private int? Int(Dictionary<string, Node> fields, string name, string path)
        {
            if (!fields.TryGetValue(name, out var node) || IsNull(node))
            {
                return null;
            }

            if (node is Scalar { Kind: ScalarKind.Plain or ScalarKind.Number } s
                && int.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                return value;
            }

            Problem(Join(path, name), "expected a whole number", node.Line);
            return null;
        }

        private bool Bool(Dictionary<string, Node> fields, string name, string path)
        {
            if (!fields.TryGetValue(name, out var node) || IsNull(node))
            {
                return false;
            }

            if (node is Scalar { Kind: ScalarKind.Plain or ScalarKind.Bool } s && bool.TryParse(s.Value, out bool value))
            {
                return value;
            }

            Problem(Join(path, name), "expected true or false", node.Line);
            return false;
        }

        private List<string>? List(Dictionary<string, Node> fields, string name, string path)
        {
            if (!fields.TryGetValue(name, out var node) || IsNull(node))
            {
                return null;
            }

            string listPath = Join(path, name);
            if (node is not Sequence seq)
            {
                Problem(listPath, "expected a list of references", node.Line);
                return null;
            }

            var result = new List<string>(seq.Items.Count);
            for (int i = 0; i < seq.Items.Count; i++)
            {
                if (IsNull(seq.Items[i]))
                {
                    Problem($"{listPath}[{i}]", "expected a reference, not an empty value", seq.Items[i].Line);
                }
                else if (Text(seq.Items[i], $"{listPath}[{i}]") is { } item)
                {
                    result.Add(item);
                }
            }

            return result;
        }

        private Dictionary<string, string>? Map(Dictionary<string, Node> fields, string name, string path)
        {
            if (!fields.TryGetValue(name, out var node) || IsNull(node))
            {
                return null;
            }

            string mapPath = Join(path, name);
            if (node is not Mapping map)
            {
                Problem(mapPath, "expected a mapping", node.Line);
                return null;
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value, line) in map.Entries)
            {
                string entryPath = $"{mapPath}[\"{key}\"]";
                if (IsNull(value))
                {
                    Problem(entryPath, "expected a name, not an empty value", line);
                }
                else if (Text(value, entryPath) is { } text && !result.TryAdd(key, text))
                {
                    Problem(entryPath, $"'{key}' appears twice", line);
                }
            }

            return result;
        }

        private static bool IsNull(Node node) => node is Scalar { Kind: ScalarKind.Null };

        private void Problem(string path, string message, int line) => problems.Add(new PipelineSpecProblemDto(path, message, line));

        private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

        private static int Distance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++)
            {
                previous[j] = j;
            }

            for (int i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                }

                (previous, current) = (current, previous);
            }

            return previous[b.Length];
        }
    }
}
