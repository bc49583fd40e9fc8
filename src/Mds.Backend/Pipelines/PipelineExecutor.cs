using System.Diagnostics;
using System.Globalization;
using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines;

/// <summary>Calls a step's model (in the backend: a Ready replica through the gateway's replica-call policy).</summary>
public interface IStepInvoker
{
    /// <summary>Runs <paramref name="request"/> on <paramref name="step"/>'s model.</summary>
    /// <exception cref="StepCallException">The call failed; status and message say how.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled (a timeout or the caller left).</exception>
    Task<StepAnswer> InvokeAsync(PipelineStep step, InferenceRequest request, string caller, CancellationToken ct);
}

/// <summary>A step's model answered.</summary>
public sealed record StepAnswer(InferenceResponse Response, int ModelVersion);

/// <summary>A step's call failed: <see cref="Status"/> is what the caller of the pipeline gets (4xx from the model, 503 when no replica answered).</summary>
public sealed class StepCallException(int status, string message, int? modelVersion = null) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>The model version the step resolved to, when known (for the message).</summary>
    public int? ModelVersion { get; } = modelVersion;
}

/// <summary>
/// Runs a <see cref="PipelineGraph"/>: every step starts as soon as what it waits for is decided, so independent steps
/// run concurrently; skipped steps leave their outputs absent (no time windows: an outer join knows at once that a
/// skipped branch will never arrive). The first failure ends the run (the others are cancelled); a timeout ends it
/// with 504. Pure apart from <see cref="IStepInvoker"/>: tested with fake invokers, run in the backend with replicas.
/// </summary>
public sealed class PipelineExecutor(IStepInvoker invoker)
{
    /// <summary>Runs <paramref name="graph"/> (version <paramref name="version"/>) on <paramref name="request"/>.</summary>
    /// <param name="graph">The pipeline.</param>
    /// <param name="version">Its version (for the response and messages).</param>
    /// <param name="request">The caller's request.</param>
    /// <param name="requestId">The run's request id; step calls get <c>{requestId}.{step}</c>.</param>
    /// <param name="caller">Who called, for the step records.</param>
    /// <param name="timeout">The run's time limit (the graph's own, else the configured default).</param>
    /// <param name="ct">The caller went away.</param>
    public async Task<PipelineRun> RunAsync(PipelineGraph graph, int version, InferenceRequest request, string requestId, string caller, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        var run = new RunState(graph, version, request, requestId, caller, started);
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        runCts.CancelAfter(timeout);
        run.Cancel = runCts;

        var tasks = new Task[graph.Steps.Count];
        for (int i = 0; i < graph.Steps.Count; i++)
        {
            tasks[i] = RunStepAsync(run, graph.Steps[i], runCts.Token);
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // recorded below: a failure, a timeout or the caller leaving
        }

        InferenceResponse? response = null;
        if (run.Failure is null && run.Steps.TrueForAll(s => s.State != PipelineStepStates.NotRun))
        {
            try
            {
                response = AssembleOutput(run);
            }
            catch (StepCallException e)
            {
                run.Fail(e.Status, e.Message);
            }
        }

        if (run.Failure is null && response is null)
        {
            if (ct.IsCancellationRequested)
            {
                run.Fail(499, "the caller closed the request");
            }
            else
            {
                string running = string.Join(", ", run.Steps.Where(s => s.State == PipelineStepStates.NotRun && s.StartedMs is not null).Select(s => $"'{s.Step.Name}'"));
                run.Fail(StatusCodes.Status504GatewayTimeout, $"pipeline '{graph.Name}' timed out after {timeout.TotalMilliseconds:0} ms" + (running.Length > 0 ? $" (still running: {running})" : ""));
            }
        }

        return new PipelineRun(graph.Name, version, requestId, run.Failure?.Status ?? StatusCodes.Status200OK, run.Failure?.Message, response,
            run.Steps, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task RunStepAsync(RunState run, PipelineStep step, CancellationToken ct)
    {
        var record = run.Record(step.Name);
        Produced? produced = null;
        try
        {
            produced = await DecideAndRunAsync(run, step, record, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the run ended (failure elsewhere, timeout or the caller left): this step stays "not run"
        }
        catch (StepCallException e)
        {
            record.State = PipelineStepStates.Failed;
            record.Why = e.Message;
            run.Fail(e.Status, $"step '{step.Name}' ({Describe(step, e.ModelVersion ?? record.ModelVersion)}): {e.Message}");
        }
        catch (ConditionEvaluationException e)
        {
            record.State = PipelineStepStates.Failed;
            record.Why = e.Message;
            run.Fail(StatusCodes.Status400BadRequest, $"step '{step.Name}' condition '{step.When?.Text}': {e.Message}");
        }
        catch (Exception e) when (e is ArgumentException or InferenceProtocolException or InvalidCastException)
        {
            // The caller's tensors do not fit what the pipeline does with them (e.g. a scalar where rows are needed).
            record.State = PipelineStepStates.Failed;
            record.Why = e.Message;
            run.Fail(StatusCodes.Status400BadRequest, $"step '{step.Name}': {e.Message}");
        }
        finally
        {
            run.Publish(step.Name, produced);
        }
    }

    private async Task<Produced?> DecideAndRunAsync(RunState run, PipelineStep step, StepRecord record, CancellationToken ct)
    {
        // 1. Wait for what the step depends on, as its joins say.
        await WaitAsync(run, step.Inputs, step.InputsJoin, ct).ConfigureAwait(false);
        await WaitAsync(run, step.Triggers, step.TriggersJoin, ct).ConfigureAwait(false);
        if (step.When is { } condition)
        {
            await WaitAsync(run, condition.References, JoinType.Outer, ct).ConfigureAwait(false);
        }

        // 2. Decide whether it runs.
        var present = step.Inputs.Where(run.IsPresent).ToList();
        if (step.InputsJoin == JoinType.Any)
        {
            // 'any' takes the first present: alternatives that arrived later and feed the same name are left out (Assemble).
            present = [.. present.OrderBy(run.Arrival)];
        }

        if (step.InputsJoin == JoinType.Inner && present.Count < step.Inputs.Count)
        {
            return Skip(record, "input " + Absence(run, step.Inputs.First(r => !run.IsPresent(r))));
        }

        if (present.Count == 0)
        {
            return Skip(record, "none of its inputs is present");
        }

        if (step.Triggers.Count > 0)
        {
            int triggered = step.Triggers.Count(run.IsPresent);
            if (step.TriggersJoin == JoinType.Inner ? triggered < step.Triggers.Count : triggered == 0)
            {
                var missing = step.Triggers.First(r => !run.IsPresent(r));
                return Skip(record, "trigger " + Absence(run, missing));
            }
        }

        if (step.When is { } when && !step.PerRow && !when.Evaluate(run))
        {
            return Skip(record, $"condition is false: {when.Text}");
        }

        // 3. Its inputs, aligned on the rows they cover, renamed by tensorMap.
        var (inputs, rows) = Assemble(run, step, present);
        if (step.When is { } perRow && step.PerRow)
        {
            var selected = SelectRows(run, perRow);
            var all = rows ?? Enumerable.Range(0, run.TotalRows(step)).ToArray();
            var positions = new List<int>(all.Length);
            var kept = new List<int>(all.Length);
            for (int p = 0; p < all.Length; p++)
            {
                if (selected.Contains(all[p]))
                {
                    positions.Add(p);
                    kept.Add(all[p]);
                }
            }

            if (kept.Count == 0)
            {
                return Skip(record, $"condition selects no row: {perRow.Text}");
            }

            if (kept.Count < all.Length)
            {
                var span = positions.ToArray();
                inputs = inputs.ConvertAll(t => TensorRows.Take(t, span));
            }

            rows = [.. kept];
        }

        // 4. Call the model, within the step's time limit.
        record.Rows = rows;
        var request = new InferenceRequest { Id = record.RequestId, Inputs = inputs };
        record.Input = request;
        record.StartedMs = run.ElapsedMs();
        long callStarted = Stopwatch.GetTimestamp();
        StepAnswer answer;
        using (var stepCts = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            if (step.Timeout is { } limit)
            {
                stepCts.CancelAfter(limit);
            }

            try
            {
                answer = await invoker.InvokeAsync(step, request, run.Caller, stepCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stepCts.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                record.LatencyMs = Stopwatch.GetElapsedTime(callStarted).TotalMilliseconds;
                throw new StepCallException(StatusCodes.Status504GatewayTimeout, $"timed out after {step.Timeout!.Value.TotalMilliseconds:0} ms");
            }
            finally
            {
                record.LatencyMs = Stopwatch.GetElapsedTime(callStarted).TotalMilliseconds;
            }
        }

        record.State = PipelineStepStates.Ran;
        record.ModelVersion = answer.ModelVersion;
        record.Output = answer.Response;
        var outputs = new Dictionary<string, InferenceTensor>(answer.Response.Outputs.Count, StringComparer.Ordinal);
        foreach (var t in answer.Response.Outputs)
        {
            outputs[t.Name] = t;
        }

        return new Produced(outputs, rows);
    }

    private static Produced? Skip(StepRecord record, string why)
    {
        record.State = PipelineStepStates.Skipped;
        record.Why = why;
        return null;
    }

    private static string Absence(RunState run, TensorReference reference)
    {
        if (reference.Source == ReferenceSource.PipelineInputs)
        {
            return $"'{reference}' is absent (the request has no input '{reference.Tensor}')";
        }

        var source = run.Record(reference.Step);
        return source.State == PipelineStepStates.Skipped
            ? $"'{reference}' is absent (step '{reference.Step}' was skipped: {source.Why})"
            : $"'{reference}' is absent (step '{reference.Step}' has no output '{reference.Tensor}')";
    }

    /// <summary>Waits until the references' sources are decided: all of them, or (any) the first one present.</summary>
    private static async Task WaitAsync(RunState run, IReadOnlyList<TensorReference> references, JoinType join, CancellationToken ct)
    {
        var pending = references.Select(r => r.Step).Where(s => s != TensorReference.Pipeline).Distinct(StringComparer.Ordinal)
            .Select(run.Decided).Where(t => !t.IsCompleted).ToList();
        if (pending.Count == 0)
        {
            return;
        }

        if (join != JoinType.Any || references.Any(run.IsPresentNow))
        {
            if (join == JoinType.Any)
            {
                return; // something is present already
            }

            await Task.WhenAll(pending).WaitAsync(ct).ConfigureAwait(false);
            return;
        }

        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).WaitAsync(ct).ConfigureAwait(false);
            pending.Remove(done);
            if (references.Any(run.IsPresentNow))
            {
                return;
            }
        }
    }

    /// <summary>The step's input tensors under the names its model knows, sliced to the rows every one of them covers.</summary>
    private static (List<InferenceTensor> Inputs, int[]? Rows) Assemble(RunState run, PipelineStep step, List<TensorReference> present)
    {
        var parts = new List<(InferenceTensor Tensor, int[]? Rows, string From)>();
        foreach (var reference in present)
        {
            var (tensors, rows) = run.Tensors(reference);
            foreach (var t in tensors)
            {
                string key = new TensorReference(reference.Source, reference.Step, t.Name).ToString();
                string name = step.TensorMap.TryGetValue(key, out var mapped) ? mapped : t.Name;
                if (parts.FindIndex(p => p.Tensor.Name == name) is int clash and >= 0)
                {
                    if (step.InputsJoin == JoinType.Any)
                    {
                        continue; // an alternative to one that arrived first
                    }

                    throw new StepCallException(StatusCodes.Status400BadRequest,
                        $"two inputs are both named '{name}' ({parts[clash].From} and {key}); rename one with tensorMap");
                }

                parts.Add((TensorRows.Rename(t, name), rows, key));
            }
        }

        if (parts.All(p => p.Rows is null))
        {
            return (parts.ConvertAll(p => p.Tensor), null);
        }

        // Some inputs cover only some rows (they come after a per-row step): keep the rows all of them cover.
        var common = parts.Where(p => p.Rows is not null).Select(p => p.Rows!).Aggregate((a, b) => [.. a.Where(b.Contains)]);
        if (common.Length == 0)
        {
            throw new StepCallException(StatusCodes.Status400BadRequest, "its inputs cover no row in common");
        }

        var inputs = new List<InferenceTensor>(parts.Count);
        foreach (var (tensor, rows, _) in parts)
        {
            var positions = new int[common.Length];
            for (int i = 0; i < common.Length; i++)
            {
                positions[i] = rows is null ? common[i] : Array.IndexOf(rows, common[i]);
            }

            bool same = rows is not null && rows.Length == common.Length;
            inputs.Add(same ? tensor : TensorRows.Take(tensor, positions));
        }

        return (inputs, common);
    }

    /// <summary>The rows (of the pipeline's input) a per-row condition selects.</summary>
    private static HashSet<int> SelectRows(RunState run, Condition condition)
    {
        // The condition's tensors may come from steps that covered different rows: evaluate on the rows all of them cover.
        int[]? common = null;
        foreach (var reference in condition.References)
        {
            if (run.IsPresent(reference) && run.RowsOf(reference) is { } rows)
            {
                common = common is null ? rows : [.. common.Where(rows.Contains)];
            }
        }

        int total = run.TotalRows(null);
        var aligned = new AlignedTensors(run, common);
        bool[] mask = condition.EvaluateRows(aligned, common?.Length ?? total);
        var selected = new HashSet<int>();
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                selected.Add(common is null ? i : common[i]);
            }
        }

        return selected;
    }

    private static InferenceResponse AssembleOutput(RunState run)
    {
        var output = run.Graph.Output;
        var present = output.Steps.Where(run.IsPresent).ToList();
        if (output.Join == JoinType.Inner && present.Count < output.Steps.Count)
        {
            var missing = output.Steps.First(r => !run.IsPresent(r));
            throw new StepCallException(StatusCodes.Status400BadRequest,
                $"pipeline '{run.Graph.Name}': output {Absence(run, missing)}; the output joins inner (use stepsJoin: outer or any when a branch may be skipped)");
        }

        if (present.Count == 0)
        {
            throw new StepCallException(StatusCodes.Status400BadRequest,
                $"pipeline '{run.Graph.Name}': no output is present ({string.Join("; ", output.Steps.Select(r => Absence(run, r)))})");
        }

        // Gather, rename, and group by the name the caller sees.
        var groups = new List<(string Name, List<(InferenceTensor Tensor, int[]? Rows, string From)> Parts)>();
        foreach (var reference in present)
        {
            var (tensors, rows) = run.Tensors(reference);
            foreach (var t in tensors)
            {
                string key = new TensorReference(reference.Source, reference.Step, t.Name).ToString();
                string name = output.TensorMap.TryGetValue(key, out var mapped) ? mapped : t.Name;
                int g = groups.FindIndex(x => x.Name == name);
                if (g < 0)
                {
                    groups.Add((name, [(t, rows, key)]));
                }
                else if (output.Join != JoinType.Any)
                {
                    throw new StepCallException(StatusCodes.Status400BadRequest,
                        $"pipeline '{run.Graph.Name}': two outputs are both named '{name}' ({groups[g].Parts[0].From} and {key}); rename one with the output's tensorMap");
                }
                else
                {
                    groups[g].Parts.Add((t, rows, key));
                }
            }
        }

        var outputs = new List<InferenceTensor>(groups.Count);
        foreach (var (name, parts) in groups)
        {
            outputs.Add(output.Join == JoinType.Any ? MergeRows(run, name, parts) : TensorRows.Rename(parts[0].Tensor, name));
        }

        if (run.Request.Outputs is { Count: > 0 } requested)
        {
            var chosen = new List<InferenceTensor>(requested.Count);
            foreach (var r in requested)
            {
                chosen.Add(outputs.Find(o => o.Name == r.Name)
                    ?? throw new StepCallException(StatusCodes.Status400BadRequest, $"pipeline '{run.Graph.Name}' has no output '{r.Name}' (it has: {string.Join(", ", outputs.Select(o => o.Name))})"));
            }

            outputs = chosen;
        }

        return new InferenceResponse
        {
            ModelName = run.Graph.Name,
            ModelVersion = run.Version.ToString(CultureInfo.InvariantCulture),
            Id = run.Request.Id,
            Outputs = outputs,
        };
    }

    /// <summary>
    /// <c>stepsJoin: any</c>: same-named tensors of branches. Whole-request branches: the first present. Per-row branches:
    /// merged by row in the original order; every row covered exactly once.
    /// </summary>
    private static InferenceTensor MergeRows(RunState run, string name, List<(InferenceTensor Tensor, int[]? Rows, string From)> parts)
    {
        if (parts.All(p => p.Rows is null))
        {
            return TensorRows.Rename(parts[0].Tensor, name);
        }

        int total = run.TotalRows(null);
        var coverage = new int[total];
        var pieces = new List<(InferenceTensor Part, int[] Rows)>(parts.Count);
        foreach (var (tensor, rows, from) in parts)
        {
            var covered = rows ?? Enumerable.Range(0, total).ToArray();
            if (TensorRows.RowsOf(tensor) != covered.Length)
            {
                throw new StepCallException(StatusCodes.Status400BadRequest,
                    $"pipeline '{run.Graph.Name}': output '{name}' from {from} has {TensorRows.RowsOf(tensor)} rows but its step ran on {covered.Length}: it cannot be merged by row");
            }

            if (pieces.Count > 0 && (tensor.Datatype != pieces[0].Part.Datatype || !tensor.Shape.AsSpan(1).SequenceEqual(pieces[0].Part.Shape.AsSpan(1))))
            {
                throw new StepCallException(StatusCodes.Status400BadRequest,
                    $"pipeline '{run.Graph.Name}': output '{name}' differs between branches ({tensor.Datatype.ToWireName()} [{string.Join(',', tensor.Shape)}] from {from}); they cannot be merged by row");
            }

            foreach (int r in covered)
            {
                coverage[r]++;
            }

            pieces.Add((tensor, covered));
        }

        var none = Enumerable.Range(0, total).Where(r => coverage[r] == 0).ToList();
        var twice = Enumerable.Range(0, total).Where(r => coverage[r] > 1).ToList();
        if (none.Count > 0 || twice.Count > 0)
        {
            string message = $"pipeline '{run.Graph.Name}': output '{name}' merges branches by row, but "
                + string.Join(" and ", new[]
                {
                    none.Count > 0 ? $"{Rows(none)} covered by no branch" : null,
                    twice.Count > 0 ? $"{Rows(twice)} covered by more than one" : null,
                }.Where(s => s is not null));
            throw new StepCallException(StatusCodes.Status400BadRequest, message);
        }

        return TensorRows.Merge(name, pieces, total);

        static string Rows(List<int> rows) =>
            (rows.Count == 1 ? "row " : "rows ") + string.Join(", ", rows.Take(20)) + (rows.Count > 20 ? $" … ({rows.Count} in all)" : "") + (rows.Count == 1 ? " is" : " are");
    }

    private static string Describe(PipelineStep step, int? version) =>
        version is int v ? $"model {step.Model} v{v}" : $"model {step.Model}";

    /// <summary>What a step produced: its outputs, and the rows of the pipeline's input they cover (null: all).</summary>
    private sealed record Produced(Dictionary<string, InferenceTensor> Outputs, int[]? Rows);

    /// <summary>A condition's view of tensors, sliced to the rows all of its tensors cover.</summary>
    private sealed class AlignedTensors(RunState run, int[]? rows) : ITensorSource
    {
        public bool TryGet(TensorReference reference, out InferenceTensor tensor)
        {
            if (!run.TryGet(reference, out tensor))
            {
                return false;
            }

            var own = run.RowsOf(reference);
            if (rows is null || (own is not null && own.Length == rows.Length))
            {
                return true;
            }

            var positions = new int[rows.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                positions[i] = own is null ? rows[i] : Array.IndexOf(own, rows[i]);
            }

            tensor = TensorRows.Take(tensor, positions);
            return true;
        }
    }

    private sealed class RunState : ITensorSource
    {
        private readonly Dictionary<string, TaskCompletionSource<Produced?>> _decided = new(StringComparer.Ordinal);
        private readonly Dictionary<string, StepRecord> _records = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _arrivals = new(StringComparer.Ordinal);
        private readonly Produced _inputs;
        private readonly long _started;
        private readonly Lock _lock = new();

        public RunState(PipelineGraph graph, int version, InferenceRequest request, string requestId, string caller, long started)
        {
            Graph = graph;
            Version = version;
            Request = request;
            Caller = caller;
            _started = started;
            var inputs = new Dictionary<string, InferenceTensor>(request.Inputs.Count, StringComparer.Ordinal);
            foreach (var t in request.Inputs)
            {
                inputs[t.Name] = t;
            }

            _inputs = new Produced(inputs, null);
            Steps = new List<StepRecord>(graph.Steps.Count);
            foreach (var step in graph.Steps)
            {
                _decided[step.Name] = new TaskCompletionSource<Produced?>(TaskCreationOptions.RunContinuationsAsynchronously);
                var record = new StepRecord(step, $"{requestId}.{step.Name}");
                _records[step.Name] = record;
                Steps.Add(record);
            }
        }

        public PipelineGraph Graph { get; }
        public int Version { get; }
        public InferenceRequest Request { get; }
        public string Caller { get; }
        public List<StepRecord> Steps { get; }
        public (int Status, string Message)? Failure { get; private set; }
        public CancellationTokenSource? Cancel { get; set; }

        public double ElapsedMs() => Stopwatch.GetElapsedTime(_started).TotalMilliseconds;

        public StepRecord Record(string step) => _records[step];

        public Task Decided(string step) => _decided[step].Task;

        public void Publish(string step, Produced? produced)
        {
            lock (_lock)
            {
                _arrivals[step] = _arrivals.Count + 1;
            }

            _decided[step].TrySetResult(produced);
        }

        /// <summary>When the reference's source was decided, relative to the others (the pipeline's inputs first; undecided last).</summary>
        public int Arrival(TensorReference reference)
        {
            if (reference.Step == TensorReference.Pipeline)
            {
                return 0;
            }

            lock (_lock)
            {
                return _arrivals.TryGetValue(reference.Step, out int order) ? order : int.MaxValue;
            }
        }

        public void Fail(int status, string message)
        {
            lock (_lock)
            {
                Failure ??= (status, message);
            }

            try
            {
                Cancel?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the run is over
            }
        }

        private Produced? ProducedBy(string step) =>
            step == TensorReference.Pipeline ? _inputs
            : _decided[step].Task is { IsCompletedSuccessfully: true } t ? t.Result : null;

        /// <summary>Present once decided (used after waiting).</summary>
        public bool IsPresent(TensorReference reference) => IsPresentNow(reference);

        public bool IsPresentNow(TensorReference reference) =>
            ProducedBy(reference.Step) is { } p && (reference.Tensor is null || p.Outputs.ContainsKey(reference.Tensor));

        public (IEnumerable<InferenceTensor> Tensors, int[]? Rows) Tensors(TensorReference reference)
        {
            var p = ProducedBy(reference.Step)!;
            return (reference.Tensor is null ? p.Outputs.Values : [p.Outputs[reference.Tensor]], p.Rows);
        }

        public int[]? RowsOf(TensorReference reference) => ProducedBy(reference.Step)?.Rows;

        public bool TryGet(TensorReference reference, out InferenceTensor tensor)
        {
            if (reference.Tensor is not null && ProducedBy(reference.Step) is { } p && p.Outputs.TryGetValue(reference.Tensor, out var t))
            {
                tensor = t;
                return true;
            }

            tensor = null!;
            return false;
        }

        /// <summary>Rows of the pipeline's input: the first dimension its inputs share.</summary>
        public int TotalRows(PipelineStep? step)
        {
            long rows = -1;
            foreach (var t in Request.Inputs)
            {
                long r = TensorRows.RowsOf(t);
                if (r < 0)
                {
                    continue;
                }

                if (rows >= 0 && r != rows)
                {
                    throw new StepCallException(StatusCodes.Status400BadRequest,
                        $"per-row routing needs every input to have the same number of rows (first dimension), but '{t.Name}' has {r} and another has {rows}"
                        + (step is null ? "" : $" (step '{step.Name}')"));
                }

                rows = r;
            }

            return rows < 0
                ? throw new StepCallException(StatusCodes.Status400BadRequest, "per-row routing needs inputs with rows (a first dimension)")
                : (int)rows;
        }
    }
}

/// <summary>One step of a run, as the run record keeps it.</summary>
public sealed class StepRecord(PipelineStep step, string requestId)
{
    public PipelineStep Step { get; } = step;
    public string RequestId { get; } = requestId;
    public string State { get; set; } = PipelineStepStates.NotRun;
    public string? Why { get; set; }
    public int? ModelVersion { get; set; } = step.ModelVersion;
    public double? StartedMs { get; set; }
    public double? LatencyMs { get; set; }
    public int[]? Rows { get; set; }
    public InferenceRequest? Input { get; set; }
    public InferenceResponse? Output { get; set; }
}

/// <summary>The outcome of a run: the response (on success) or the status and error, and every step's record.</summary>
public sealed record PipelineRun(
    string Pipeline, int Version, string RequestId, int Status, string? Error, InferenceResponse? Response,
    IReadOnlyList<StepRecord> Steps, double LatencyMs);
