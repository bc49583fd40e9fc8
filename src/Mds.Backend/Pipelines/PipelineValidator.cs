using System.Globalization;
using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Checks a <see cref="PipelineSpec"/> and compiles it into a <see cref="PipelineGraph"/>: names, references, joins,
/// limits, conditions, cycles and, where the models' schemas are known, the tensors' names, datatypes and shapes.
/// Pure: the schemas come through <see cref="ModelSchemaLookup"/>.
/// </summary>
public static class PipelineValidator
{
    public const int MaxSteps = 64;
    public const int MaxNameLength = 100;

    /// <summary>
    /// Longest step name: a step's model call is recorded with request id <c>{run request id}.{step}</c>, and run ids
    /// are at most 64 characters, so the two fit the 128 characters of an inference record's request id.
    /// </summary>
    public const int MaxStepNameLength = 63;
    public const int MaxTimeoutMs = 600_000;
    public const int MaxRetries = 5;

    /// <summary>Validates <paramref name="spec"/> and builds its graph.</summary>
    /// <exception cref="PipelineSpecException">With every problem found, each at its path (<c>steps[1].inputs[0]</c>).</exception>
    public static PipelineGraph Validate(PipelineSpec spec, ModelSchemaLookup schemas)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(schemas);
        return new Validation(spec, schemas).Run();
    }

    /// <summary>1–100 ASCII letters, digits, <c>-</c>, <c>_</c> or (when <paramref name="allowDot"/>) <c>.</c>.</summary>
    internal static bool IsName(string name, bool allowDot) =>
        name.Length is > 0 and <= MaxNameLength
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' || (allowDot && c == '.'));

    internal static bool TryParseJoin(string? text, out JoinType join)
    {
        join = (text?.Trim().ToLowerInvariant()) switch
        {
            null or "inner" => JoinType.Inner,
            "outer" => JoinType.Outer,
            "any" => JoinType.Any,
            _ => JoinType.Inner,
        };
        return text is null || text.Trim().ToLowerInvariant() is "inner" or "outer" or "any";
    }

    /// <summary>The state of one validation; holds the problems found so far.</summary>
    private sealed class Validation(PipelineSpec spec, ModelSchemaLookup lookup)
    {
        private readonly List<PipelineSpecProblemDto> _problems = [];
        private readonly Dictionary<string, int> _stepIndex = new(StringComparer.Ordinal);
        private readonly Dictionary<(string, int?), ModelSchema?> _schemas = [];
        private StepInfo[] _steps = [];

        public PipelineGraph Run()
        {
            CheckName();
            CheckSteps();
            int[] order = Order();
            foreach (var step in _steps)
            {
                CheckTypes(step);
            }

            var output = CheckOutput();
            if (_problems.Count > 0)
            {
                throw new PipelineSpecException(_problems);
            }

            return new PipelineGraph
            {
                Name = spec.Name,
                Steps = [.. order.Select(i => _steps[i].Build())],
                Output = output!,
                Timeout = spec.TimeoutMs is int ms ? TimeSpan.FromMilliseconds(ms) : null,
            };
        }

        private void Problem(string path, string message) => _problems.Add(new PipelineSpecProblemDto(path, message));

        private void CheckName()
        {
            string name = spec.Name;
            if (string.IsNullOrEmpty(name))
            {
                Problem("name", "the pipeline needs a name");
            }
            else if (!IsName(name, allowDot: true))
            {
                Problem("name", $"'{name}' is not a valid name: use 1–{MaxNameLength} letters, digits, '-', '_' or '.'");
            }
            else if (name.EndsWith(".pipeline", StringComparison.Ordinal) || name.EndsWith(".experiment", StringComparison.Ordinal))
            {
                Problem("name", $"'{name}' must not end with '.pipeline' or '.experiment' (those suffixes address pipelines and experiments in /v2/models/)");
            }

            CheckTimeout(spec.TimeoutMs, "timeoutMs");
        }

        private void CheckTimeout(int? timeoutMs, string path)
        {
            if (timeoutMs is int ms and (< 1 or > MaxTimeoutMs))
            {
                Problem(path, $"must be between 1 and {MaxTimeoutMs} ms, not {ms}");
            }
        }

        private void CheckSteps()
        {
            if (spec.Steps.Count == 0)
            {
                Problem("steps", "a pipeline needs at least one step");
            }
            else if (spec.Steps.Count > MaxSteps)
            {
                Problem("steps", $"a pipeline has at most {MaxSteps} steps, not {spec.Steps.Count}");
            }

            // Names first: references may point forward in the list.
            for (int i = 0; i < spec.Steps.Count; i++)
            {
                string name = spec.Steps[i].Name;
                string path = $"steps[{i}].name";
                if (string.IsNullOrEmpty(name))
                {
                    Problem(path, "the step needs a name");
                }
                else if (!IsName(name, allowDot: false) || name.Length > MaxStepNameLength)
                {
                    // No dots: a reference 'a.b.outputs' reads as step 'a', so such a step could never be referred to.
                    Problem(path, $"'{name}' is not a valid step name: use 1–{MaxStepNameLength} letters, digits, '-' or '_'");
                }
                else if (name == TensorReference.Pipeline)
                {
                    Problem(path, "'pipeline' is reserved (pipeline.inputs refers to the pipeline's inputs)");
                }
                else if (!_stepIndex.TryAdd(name, i))
                {
                    Problem(path, $"step name '{name}' is used twice (also steps[{_stepIndex[name]}])");
                }
            }

            _steps = [.. spec.Steps.Select((s, i) => CheckStep(s, i))];
        }

        private StepInfo CheckStep(PipelineStepSpec step, int i)
        {
            string path = $"steps[{i}]";
            var info = new StepInfo(step.Name, i);
            info.Valid = _stepIndex.TryGetValue(step.Name, out int first) && first == i;
            CheckModel(step, info, path);

            if (!TryParseJoin(step.InputsJoinType, out var inputsJoin))
            {
                Problem($"{path}.inputsJoinType", $"'{step.InputsJoinType}' is not a join type (inner, outer or any)");
            }

            if (!TryParseJoin(step.TriggersJoinType, out var triggersJoin))
            {
                Problem($"{path}.triggersJoinType", $"'{step.TriggersJoinType}' is not a join type (inner, outer or any)");
            }

            info.InputsJoin = inputsJoin;
            info.TriggersJoin = triggersJoin;

            if (step.Inputs is not { Count: > 0 })
            {
                info.Inputs.Add((new TensorReference(ReferenceSource.PipelineInputs, TensorReference.Pipeline, null), $"{path}.inputs"));
            }
            else
            {
                for (int k = 0; k < step.Inputs.Count; k++)
                {
                    if (Reference(step.Inputs[k], $"{path}.inputs[{k}]", step.Name, needsTensor: false) is { } r)
                    {
                        info.Inputs.Add((r, $"{path}.inputs[{k}]"));
                    }
                    else
                    {
                        info.InputsBroken = true;
                    }
                }
            }

            for (int k = 0; k < (step.Triggers?.Count ?? 0); k++)
            {
                if (Reference(step.Triggers![k], $"{path}.triggers[{k}]", step.Name, needsTensor: false) is { } r)
                {
                    info.Triggers.Add((r, $"{path}.triggers[{k}]"));
                }
            }

            info.TensorMap = TensorMap(step.TensorMap, $"{path}.tensorMap", step.Name, info.Inputs.Select(x => x.Ref).ToList(), "the step's inputs");

            if (step.When is not null)
            {
                try
                {
                    info.When = ConditionParser.Parse(step.When);
                    foreach (var r in info.When.References)
                    {
                        if (Check(r, r.ToString(), $"{path}.when", step.Name))
                        {
                            info.ConditionReferences.Add(r);
                        }
                    }
                }
                catch (ConditionSyntaxException e)
                {
                    Problem($"{path}.when", e.Message);
                }
            }

            if (step.PerRow && step.When is null)
            {
                Problem($"{path}.perRow", "perRow needs a 'when' condition to select the rows");
            }

            info.PerRow = step.PerRow;
            CheckTimeout(step.TimeoutMs, $"{path}.timeoutMs");
            info.TimeoutMs = step.TimeoutMs;
            if (step.Retries is int retries and (< 0 or > MaxRetries))
            {
                Problem($"{path}.retries", $"must be between 0 and {MaxRetries}, not {retries}");
            }

            info.Retries = step.Retries ?? 0;
            return info;
        }

        private void CheckModel(PipelineStepSpec step, StepInfo info, string path)
        {
            string text = step.Model ?? step.Name;
            if (step.Model is null && text.Length == 0)
            {
                return; // reported as the missing name
            }

            int colon = text.LastIndexOf(':');
            string name = colon < 0 ? text : text[..colon];
            int? version = null;
            bool valid = true;
            if (colon >= 0)
            {
                if (int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 1)
                {
                    version = v;
                }
                else
                {
                    Problem($"{path}.model", $"'{text}': the version after ':' must be a positive whole number");
                    valid = false;
                }
            }

            // The registry's rule for model names (RegistryApi): a letter or digit, then letters, digits, '.', '_', '-'.
            if (name.Length is 0 or > 128 || !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                if (step.Model is not null)
                {
                    Problem($"{path}.model", $"'{name}' is not a model name (a letter or digit, then letters, digits, '.', '_' or '-'; up to 128)");
                }

                valid = false;
            }

            info.Model = name;
            info.ModelVersion = version;
            info.Schema = valid ? Schema(name, version) : null;
        }

        private ModelSchema? Schema(string model, int? version)
        {
            if (!_schemas.TryGetValue((model, version), out var schema))
            {
                schema = lookup(model, version);
                _schemas[(model, version)] = schema;
            }

            return schema;
        }

        /// <summary>Parses a reference and checks that its step exists and is not <paramref name="self"/>.</summary>
        private TensorReference? Reference(string? text, string path, string? self, bool needsTensor)
        {
            if (!TensorReference.TryParse(text, out var r, out string? error))
            {
                Problem(path, error);
                return null;
            }

            if (needsTensor && r.Tensor is null)
            {
                Problem(path, $"'{text}' must name one tensor (step.outputs.tensor or pipeline.inputs.tensor)");
                return null;
            }

            return Check(r, text!, path, self) ? r : null;
        }

        private bool Check(TensorReference r, string text, string path, string? self)
        {
            if (r.Source != ReferenceSource.StepOutputs)
            {
                return true;
            }

            if (r.Step == self)
            {
                Problem(path, $"'{text}': a step cannot use its own outputs");
                return false;
            }

            if (!_stepIndex.ContainsKey(r.Step))
            {
                Problem(path, $"'{text}' refers to unknown step '{r.Step}' (steps: {string.Join(", ", _stepIndex.Keys)})");
                return false;
            }

            return true;
        }

        /// <summary>Checks a tensorMap: keys name one tensor that one of <paramref name="covering"/> brings; targets are names.</summary>
        private Dictionary<string, string> TensorMap(Dictionary<string, string>? map, string path, string? self, List<TensorReference> covering, string what)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, target) in map ?? [])
            {
                string entryPath = $"{path}[\"{key}\"]";
                if (Reference(key, entryPath, self, needsTensor: true) is not { } r)
                {
                    continue;
                }

                if (string.IsNullOrWhiteSpace(target))
                {
                    Problem(entryPath, "the name to map to is empty");
                }
                else if (!covering.Any(c => c.Source == r.Source && c.Step == r.Step && (c.Tensor is null || c.Tensor == r.Tensor)))
                {
                    Problem(entryPath, $"'{key}' is not among {what}, so it has nothing to rename");
                }
                else if (!result.TryAdd(r.ToString(), target))
                {
                    Problem(entryPath, $"'{r}' is mapped twice");
                }
            }

            return result;
        }

        /// <summary>The steps in topological order (ties in spec order); reports each cycle once.</summary>
        private int[] Order()
        {
            var dependsOn = _steps.Select(s => s.Valid ? s.DependsOn(_stepIndex) : []).ToArray();
            var placed = new bool[_steps.Length];
            var order = new List<int>(_steps.Length);
            bool progress = true;
            while (progress)
            {
                progress = false;
                for (int i = 0; i < _steps.Length; i++)
                {
                    if (!placed[i] && dependsOn[i].All(d => placed[d]))
                    {
                        placed[i] = true;
                        order.Add(i);
                        progress = true;
                        break; // restart from the top: ties go to the earliest step in the spec
                    }
                }
            }

            var left = Enumerable.Range(0, _steps.Length).Where(i => !placed[i]).ToHashSet();
            while (FindCycle(left, dependsOn) is { } cycle)
            {
                // Shown in the direction data flows (producer → consumer), from the earliest step in the spec.
                cycle.Reverse();
                int start = cycle.IndexOf(cycle.Min());
                var names = cycle.Skip(start).Concat(cycle.Take(start)).Select(i => _steps[i].Name).ToList();
                names.Add(names[0]);
                Problem($"steps[{cycle.Min()}]", $"the steps form a cycle: {string.Join(" → ", names)}");
                left.ExceptWith(cycle);
            }

            return [.. order];
        }

        private static List<int>? FindCycle(HashSet<int> nodes, List<int>[] dependsOn)
        {
            var state = new Dictionary<int, int>(); // 1: on the path, 2: done
            var path = new List<int>();

            List<int>? Visit(int node)
            {
                state[node] = 1;
                path.Add(node);
                foreach (int next in dependsOn[node].Where(nodes.Contains))
                {
                    if (state.GetValueOrDefault(next) == 1)
                    {
                        return path.Skip(path.IndexOf(next)).ToList();
                    }

                    if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                    {
                        return found;
                    }
                }

                path.RemoveAt(path.Count - 1);
                state[node] = 2;
                return null;
            }

            foreach (int node in nodes.Order())
            {
                if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle)
                {
                    return cycle;
                }
            }

            return null;
        }

        private ModelSchema? SchemaOfStep(string step) =>
            _stepIndex.TryGetValue(step, out int i) ? _steps[i].Schema : null;

        private static string Describe(ModelSchema schema) => $"model {schema.Model} v{schema.Version}";

        private static string Names(IEnumerable<TensorMetadata> tensors) => string.Join(", ", tensors.Select(t => t.Name));

        private static string Shape(long[] shape) => "[" + string.Join(",", shape) + "]";

        /// <summary>The output <paramref name="r"/> names, when its step's model is known; reports a missing one.</summary>
        private TensorMetadata? Output(TensorReference r, string path, out bool missing)
        {
            missing = false;
            if (r.Source != ReferenceSource.StepOutputs || r.Tensor is null || SchemaOfStep(r.Step) is not { } producer)
            {
                return null;
            }

            var output = producer.Outputs.FirstOrDefault(o => o.Name == r.Tensor);
            if (output is null)
            {
                missing = true;
                Problem(path, $"step '{r.Step}' ({Describe(producer)}) has no output '{r.Tensor}'; it has: {Names(producer.Outputs)}");
            }

            return output;
        }

        private void CheckTypes(StepInfo step)
        {
            foreach (var (r, path) in step.Triggers)
            {
                Output(r, path, out _);
            }

            foreach (var r in step.ConditionReferences)
            {
                Output(r, $"steps[{step.Index}].when", out _);
            }

            var consumer = step.Schema;
            var fed = new Dictionary<string, string>(StringComparer.Ordinal); // model input → the path that feeds it
            bool fedUnknown = step.InputsBroken;

            void Feed(string reference, string name, TensorMetadata? produced, string path, bool renamed)
            {
                if (!fed.TryAdd(name, path) && step.InputsJoin != JoinType.Any)
                {
                    Problem(path, $"input '{name}' is fed twice (also by {fed[name]}); rename one with tensorMap or use inputsJoinType: any");
                }

                if (consumer is null)
                {
                    return;
                }

                var input = consumer.Inputs.FirstOrDefault(t => t.Name == name);
                if (input is null)
                {
                    string what = renamed ? $"'{reference}' (mapped to '{name}')" : $"'{reference}'";
                    Problem(path, $"{what} is not an input of {Describe(consumer)}; it has: {Names(consumer.Inputs)}" + (renamed ? "" : "; rename it with tensorMap"));
                    return;
                }

                if (produced is null)
                {
                    return;
                }

                if (!string.Equals(produced.Datatype, input.Datatype, StringComparison.OrdinalIgnoreCase))
                {
                    Problem(path, $"'{reference}' is {produced.Datatype} but input '{name}' of {Describe(consumer)} is {input.Datatype}");
                }
                else if (produced.Shape.Length != input.Shape.Length
                    || produced.Shape.Skip(1).Zip(input.Shape.Skip(1)).Any(d => d.First != -1 && d.Second != -1 && d.First != d.Second))
                {
                    Problem(path, $"'{reference}' has shape {Shape(produced.Shape)} but input '{name}' of {Describe(consumer)} takes {Shape(input.Shape)}");
                }
            }

            foreach (var (r, path) in step.Inputs)
            {
                if (r.Source == ReferenceSource.PipelineInputs && r.Tensor is null)
                {
                    fedUnknown = true; // the caller's tensors, named as the model names them
                    continue;
                }

                if (r.Tensor is not null)
                {
                    var produced = Output(r, path, out bool missing);
                    fedUnknown |= missing;
                    if (!missing)
                    {
                        bool renamed = step.TensorMap.TryGetValue(r.ToString(), out string? name);
                        Feed(r.ToString(), name ?? r.Tensor, produced, path, renamed);
                    }

                    continue;
                }

                if (SchemaOfStep(r.Step) is not { } producer)
                {
                    fedUnknown = true;
                    continue;
                }

                foreach (var o in producer.Outputs)
                {
                    string reference = new TensorReference(ReferenceSource.StepOutputs, r.Step, o.Name).ToString();
                    bool renamed = step.TensorMap.TryGetValue(reference, out string? name);
                    Feed(reference, name ?? o.Name, o, path, renamed);
                }
            }

            if (consumer is null || fedUnknown || step.InputsJoin != JoinType.Inner)
            {
                return;
            }

            foreach (var input in consumer.Inputs.Where(t => !fed.ContainsKey(t.Name)))
            {
                Problem($"steps[{step.Index}].inputs",
                    $"input '{input.Name}' of {Describe(consumer)} is not fed; reference a tensor for it, or rename one to it with tensorMap (tensorMap: {{\"step.outputs.tensor\": \"{input.Name}\"}})");
            }
        }

        private PipelineOutput? CheckOutput()
        {
            if (spec.Output is null)
            {
                if (_steps.Length == 0 || !_steps[^1].Valid)
                {
                    return null;
                }

                return new PipelineOutput
                {
                    Steps = [new TensorReference(ReferenceSource.StepOutputs, _steps[^1].Name, null)],
                    Join = JoinType.Inner,
                    TensorMap = new Dictionary<string, string>(),
                };
            }

            var output = spec.Output;
            if (!TryParseJoin(output.StepsJoin, out var join))
            {
                Problem("output.stepsJoin", $"'{output.StepsJoin}' is not a join type (inner, outer or any)");
            }

            if (output.Steps.Count == 0)
            {
                Problem("output.steps", "the output needs at least one reference (step.outputs or step.outputs.tensor)");
            }

            var refs = new List<(TensorReference Ref, string Path)>();
            for (int k = 0; k < output.Steps.Count; k++)
            {
                if (Reference(output.Steps[k], $"output.steps[{k}]", null, needsTensor: false) is { } r)
                {
                    refs.Add((r, $"output.steps[{k}]"));
                }
            }

            var map = TensorMap(output.TensorMap, "output.tensorMap", null, refs.Select(x => x.Ref).ToList(), "output.steps");
            var names = new Dictionary<string, string>(StringComparer.Ordinal);

            void Name(string reference, string tensor, string path)
            {
                string name = map.GetValueOrDefault(reference, tensor);
                if (!names.TryAdd(name, path) && join != JoinType.Any)
                {
                    Problem(path, $"output tensor '{name}' comes twice (also from {names[name]}); rename one with output.tensorMap, or use stepsJoin: any to merge branches");
                }
            }

            foreach (var (r, path) in refs)
            {
                if (r.Tensor is not null)
                {
                    Output(r, path, out bool missing);
                    if (!missing)
                    {
                        Name(r.ToString(), r.Tensor, path);
                    }
                }
                else if (r.Source == ReferenceSource.StepOutputs && SchemaOfStep(r.Step) is { } producer)
                {
                    foreach (var o in producer.Outputs)
                    {
                        Name(new TensorReference(ReferenceSource.StepOutputs, r.Step, o.Name).ToString(), o.Name, path);
                    }
                }
            }

            return new PipelineOutput { Steps = [.. refs.Select(x => x.Ref)], Join = join, TensorMap = map };
        }
    }

    /// <summary>What validation learns about one step.</summary>
    private sealed class StepInfo(string name, int index)
    {
        public string Name { get; } = name;

        public int Index { get; } = index;

        /// <summary>The step's name is valid and its first use (only such steps can be referred to).</summary>
        public bool Valid { get; set; }

        public string Model { get; set; } = "";

        public int? ModelVersion { get; set; }

        public ModelSchema? Schema { get; set; }

        public List<(TensorReference Ref, string Path)> Inputs { get; } = [];

        /// <summary>An input reference was not valid (reported): what the step is fed is not known.</summary>
        public bool InputsBroken { get; set; }

        public List<(TensorReference Ref, string Path)> Triggers { get; } = [];

        public List<TensorReference> ConditionReferences { get; } = [];

        public Dictionary<string, string> TensorMap { get; set; } = [];

        public JoinType InputsJoin { get; set; }

        public JoinType TriggersJoin { get; set; }

        public Condition? When { get; set; }

        public bool PerRow { get; set; }

        public int? TimeoutMs { get; set; }

        public int Retries { get; set; }

        public List<string> DependsOnNames() =>
            Inputs.Select(x => x.Ref).Concat(Triggers.Select(x => x.Ref)).Concat(ConditionReferences)
                .Where(r => r.Source == ReferenceSource.StepOutputs)
                .Select(r => r.Step)
                .Distinct(StringComparer.Ordinal)
                .ToList();

        public List<int> DependsOn(Dictionary<string, int> index) => [.. DependsOnNames().Select(n => index[n])];

        public PipelineStep Build() => new()
        {
            Name = Name,
            Index = Index,
            Model = Model,
            ModelVersion = ModelVersion,
            Inputs = [.. Inputs.Select(x => x.Ref)],
            InputsJoin = InputsJoin,
            TensorMap = TensorMap,
            Triggers = [.. Triggers.Select(x => x.Ref)],
            TriggersJoin = TriggersJoin,
            When = When,
            PerRow = PerRow,
            Timeout = TimeoutMs is int ms ? TimeSpan.FromMilliseconds(ms) : null,
            Retries = Retries,
            DependsOn = DependsOnNames(),
        };
    }
}
