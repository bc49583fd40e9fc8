using System.Globalization;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;
using Mds.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Mds.Workers.Inference;

/// <summary>
/// One replica's ONNX Runtime session: created once, shared by all concurrent requests, disposed when the replica is
/// unloaded and the last request using it has finished (reference counted).
/// </summary>
internal sealed class LoadedModel
{
    // One reference belongs to the registry; each request holds one more while it runs.
    private int _references = 1;
    private int _inFlight;
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <exception cref="ModelLoadException">The model has inputs or outputs the V2 protocol cannot carry.</exception>
    public LoadedModel(long replicaId, string name, int version, InferenceSession session, long memoryBytes, OnnxFileFacts? facts = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(session);
        ReplicaId = replicaId;
        Name = name;
        Version = version;
        VersionText = version.ToString(CultureInfo.InvariantCulture);
        Session = session;
        MemoryBytes = memoryBytes;
        Schema = OnnxSchema.FromSession(session, facts);
        if (Schema.Problems is { Count: > 0 } problems)
        {
            throw new ModelLoadException($"model '{name}' version {version} cannot be served: {string.Join("; ", problems)}");
        }

        Signature = ModelSignature.Of(session, facts);
    }

    public long ReplicaId { get; }

    /// <summary>The longest one run may take before ONNX Runtime is told to stop it; zero for no limit.</summary>
    public TimeSpan InferenceTimeout { get; init; }

    /// <summary>Running totals for the statistics extension, from this load on.</summary>
    public ModelCounters Counters { get; } = new();

    /// <summary>Its prometheus-net series, bound on its first request (<see cref="WorkerMetrics"/>).</summary>
    internal WorkerMetrics.ModelSeries? MetricSeries { get; set; }

    public string Name { get; }

    public int Version { get; }

    /// <summary>The version as V2 spells it (<c>"3"</c>).</summary>
    public string VersionText { get; }

    public InferenceSession Session { get; }

    /// <summary>Measured memory of the session (at least the model file's size).</summary>
    public long MemoryBytes { get; }

    /// <summary>The V2 schema (tensor inputs and outputs only), for model metadata.</summary>
    public OnnxSchema Schema { get; }

    /// <summary>What requests are validated against.</summary>
    public ModelSignature Signature { get; }

    /// <summary>Requests taken by this replica now: running on the session, queued in its batcher, or waiting at its gate.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>How many requests may run on the session at once; the others wait (<see cref="ModelGate.Waiting"/>).</summary>
    public ModelGate Gate { get; init; } = new(Math.Max(2, Environment.ProcessorCount));

    /// <summary>Requests waiting at the gate for their turn on the session.</summary>
    public int Waiting => Gate.Waiting;

    /// <summary>Requests taken and not waiting at the gate: running, or in the batcher (which runs one batch at a time).</summary>
    public int Running => Math.Max(0, InFlight - Waiting);

    /// <summary>The adaptive batcher requests go through, or null when each runs on its own.</summary>
    public DynamicBatcher? Batcher => Volatile.Read(ref _batcher);

    private DynamicBatcher? _batcher;

    /// <summary>
    /// Turns adaptive batching on with <paramref name="settings"/>, changes its settings, or turns it off (null).
    /// Requests already queued in a previous batcher are still served by it. Returns why batching cannot be used for
    /// this model (and stays off), or null.
    /// </summary>
    public string? ConfigureBatching(BatchingSettings? settings, WorkerMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (settings is not null && Signature.WhyNotBatchable is { } why)
        {
            Interlocked.Exchange(ref _batcher, null)?.Complete();
            return why;
        }

        var current = Volatile.Read(ref _batcher);
        if (current?.Settings == settings)
        {
            return null;
        }

        var replacement = settings is null ? null : new DynamicBatcher(this, settings, metrics);
        Interlocked.Exchange(ref _batcher, replacement)?.Complete();
        return null;
    }

    /// <summary>Completes when the session has been disposed (after unload and the last request).</summary>
    public Task Disposed => _disposed.Task;

    /// <summary>Takes a reference for one request; false once the session is being disposed.</summary>
    internal bool TryAcquire()
    {
        int current = Volatile.Read(ref _references);
        while (current > 0)
        {
            int seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                Interlocked.Increment(ref _inFlight);
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Ends a request taken with <see cref="TryAcquire"/>.</summary>
    internal void EndRequest()
    {
        Interlocked.Decrement(ref _inFlight);
        Release();
    }

    /// <summary>Drops a reference; the last one disposes the session.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            // Queued requests hold references, so nothing is waiting in the batcher now.
            Interlocked.Exchange(ref _batcher, null)?.Complete();
            Session.Dispose();
            _disposed.TrySetResult();
        }
    }
}

/// <summary>A request's hold on a <see cref="LoadedModel"/>: the session stays alive until this is disposed.</summary>
internal readonly struct ModelLease : IDisposable
{
    public ModelLease(LoadedModel model) => Model = model;

    public LoadedModel Model { get; }

    public void Dispose() => Model?.EndRequest();
}

/// <summary>One model input as requests are checked against it.</summary>
/// <param name="Name">Input name.</param>
/// <param name="Datatype">V2 datatype; Invalid when V2 cannot carry it.</param>
/// <param name="Shape">Dimensions, -1 where free.</param>
/// <param name="Unsupported">Why V2 cannot feed this input (a sequence, a map, an unsupported element type), or null.</param>
internal sealed record ModelInput(string Name, TensorDatatype Datatype, long[] Shape, string? Unsupported);

/// <summary>
/// One model output; <paramref name="Unsupported"/> says why V2 cannot carry it, or is null. <paramref name="Form"/>
/// says how ONNX Runtime's value becomes a V2 tensor (as it is, or converted from a sequence).
/// </summary>
internal sealed record ModelOutput(string Name, TensorDatatype Datatype, long[] Shape, string? Unsupported, OutputForm Form);

/// <summary>A session's inputs and outputs in model order, precomputed once so requests are checked without allocation.</summary>
internal sealed class ModelSignature
{
    private ModelSignature(ModelInput[] inputs, ModelOutput[] outputs)
    {
        Inputs = inputs;
        Outputs = outputs;
        InputNames = Array.ConvertAll(inputs, i => i.Name);
        DefaultOutputNames = outputs.Where(o => o.Unsupported is null).Select(o => o.Name).ToArray();
        InputList = string.Join(", ", InputNames);
        WhyNotBatchable = FindWhyNotBatchable(inputs, outputs);
    }

    /// <summary>
    /// Why requests to this model cannot be batched along the first dimension (an input or output whose first
    /// dimension is fixed, or a scalar), or null when they can.
    /// </summary>
    public string? WhyNotBatchable { get; }

    public ModelInput[] Inputs { get; }

    public ModelOutput[] Outputs { get; }

    /// <summary>Input names in model order (the order values are passed to Run).</summary>
    public string[] InputNames { get; }

    /// <summary>The outputs returned when a request names none: every output V2 can carry.</summary>
    public string[] DefaultOutputNames { get; }

    /// <summary>"a, b" for error messages.</summary>
    public string InputList { get; }

    public int IndexOfInput(string name)
    {
        var inputs = Inputs;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (string.Equals(inputs[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    public ModelOutput? FindOutput(string name)
    {
        foreach (var output in Outputs)
        {
            if (string.Equals(output.Name, name, StringComparison.Ordinal))
            {
                return output;
            }
        }

        return null;
    }

    public static ModelSignature Of(InferenceSession session, OnnxFileFacts? facts = null)
    {
        var inputs = new List<ModelInput>(session.InputMetadata.Count);
        foreach (var (name, node) in session.InputMetadata)
        {
            var (datatype, unsupported) = Describe(node);
            inputs.Add(new ModelInput(name, datatype, Array.ConvertAll(node.Dimensions, d => d < 0 ? -1L : d), unsupported));
        }

        var outputs = new List<ModelOutput>(session.OutputMetadata.Count);
        foreach (var (name, node) in session.OutputMetadata)
        {
            var form = OutputForm.Of(name, node, facts?.ZipMapLabels.GetValueOrDefault(name));
            outputs.Add(form.Metadata is { } tensor
                ? new ModelOutput(name, TensorDatatypes.Parse(tensor.Datatype), tensor.Shape, null, form)
                : new ModelOutput(name, TensorDatatype.Invalid, [], form.Problem, form));
        }

        return new ModelSignature([.. inputs], [.. outputs]);
    }

    private static string? FindWhyNotBatchable(ModelInput[] inputs, ModelOutput[] outputs)
    {
        if (inputs.Length == 0)
        {
            return "the model has no inputs";
        }

        foreach (var input in inputs)
        {
            if (input.Unsupported is null && (input.Shape.Length == 0 || input.Shape[0] >= 0))
            {
                return $"input '{input.Name}' has no free first (batch) dimension";
            }
        }

        foreach (var output in outputs)
        {
            if (output.Unsupported is null && output.Form.Kind == OutputKind.SequenceOfTensors)
            {
                return $"output '{output.Name}' is a sequence of tensors, whose first axis is the sequence, not the rows";
            }

            if (output.Unsupported is null && (output.Shape.Length == 0 || output.Shape[0] >= 0))
            {
                return $"output '{output.Name}' has no free first (batch) dimension";
            }
        }

        return null;
    }

    private static (TensorDatatype Datatype, string? Unsupported) Describe(NodeMetadata node)
    {
        if (!node.IsTensor)
        {
            return (TensorDatatype.Invalid, $"it is a {Describe(node.OnnxValueType)}, not a tensor, and the V2 protocol carries tensors only");
        }

        var datatype = OnnxTypes.ToDatatype(node.ElementDataType);
        return datatype == TensorDatatype.Invalid
            ? (datatype, $"its element type {node.ElementDataType} has no V2 datatype")
            : (datatype, null);
    }

    private static string Describe(OnnxValueType type) => type switch
    {
        OnnxValueType.ONNX_TYPE_SEQUENCE => "sequence",
        OnnxValueType.ONNX_TYPE_MAP => "map",
        OnnxValueType.ONNX_TYPE_OPTIONAL => "optional value",
        OnnxValueType.ONNX_TYPE_SPARSETENSOR => "sparse tensor",
        _ => "non-tensor value",
    };
}
