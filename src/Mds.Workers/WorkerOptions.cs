using System.Globalization;
using Microsoft.Extensions.Options;

namespace Mds.Workers;

/// <summary>The worker's settings, bound from <c>Mds:Worker</c> and validated at start.</summary>
internal sealed class WorkerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Worker";

    /// <summary>Unique worker name; default <c>worker-{port}</c> of the REST URL.</summary>
    public string? Name { get; set; }

    /// <summary>Where the backend's REST API is.</summary>
    public string BackendUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The REST URL registered with the backend; default: the first address Kestrel listens on.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>
    /// Port of the Open Inference Protocol's gRPC endpoint (cleartext HTTP/2, on the REST URL's host); 0, the default,
    /// serves no gRPC. <c>./mds</c> sets it to the REST port + 1.
    /// </summary>
    public int GrpcPort { get; set; }

    /// <summary>The gRPC URL registered with the backend, if any.</summary>
    public string? GrpcUrl { get; set; }

    /// <summary>Comma-separated capabilities, e.g. <c>onnx,cpu</c>.</summary>
    public string Capabilities { get; set; } = "onnx,cpu";

    /// <summary>Memory the scheduler may fill with models, in MiB.</summary>
    public int MemoryCapacityMb { get; set; } = 4096;

    /// <summary>Artifact cache; default <c>.mds/cache/{Name}</c>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>
    /// Where the worker keeps its own credential (issued by the backend at the first registration; mode 600);
    /// default <c>{CacheDirectory}/worker.credential</c>.
    /// </summary>
    public string? CredentialFile { get; set; }

    /// <summary>When true, <c>/metrics</c> needs a credential (a JWT or API key, as for inference); default open.</summary>
    public bool MetricsRequireToken { get; set; }

    /// <summary>Heartbeat period when the backend does not say; the backend's answer to registration wins.</summary>
    public int HeartbeatIntervalMs { get; set; } = 2000;

    /// <summary>Largest inference request body accepted, in MiB (larger gets 413).</summary>
    public int MaxRequestBodyMb { get; set; } = 64;

    /// <summary>
    /// The longest one ONNX Runtime run may take; past it the run is terminated (<c>RunOptions.Terminate</c>) and the
    /// request answered 504 (gRPC DeadlineExceeded), which the gateway does not retry. Zero: no limit.
    /// </summary>
    public TimeSpan InferenceTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// gRPC <c>ModelInfer</c>: the most inputs, requested outputs, <c>raw_input_contents</c> entries and parameters per
    /// map in one message, counted before it is parsed (RESOURCE_EXHAUSTED beyond). Keep equal to the gateway's.
    /// </summary>
    public int MaxGrpcTensors { get; set; } = Mds.Contracts.Inference.Grpc.GrpcRequestLimits.DefaultMaxTensors;

    /// <summary>
    /// gRPC <c>ModelInfer</c>: the most repeated elements (typed contents, shape dimensions, unknown fields) in one
    /// message, counted before it is parsed. Keep equal to the gateway's.
    /// </summary>
    public int MaxGrpcElements { get; set; } = Mds.Contracts.Inference.Grpc.GrpcRequestLimits.DefaultMaxElements;

    /// <summary>
    /// How long the backend's answer to "is this user's JWT still a live session?" is reused (per user and stamp): a
    /// signed-out, demoted, deleted or re-passworded user's token is refused by this worker within this time. When the
    /// backend cannot be asked and the answer is older, users' JWTs are refused with 503 (after <see cref="SessionOutageGrace"/>
    /// for sessions it confirmed). Zero: ask on every request.
    /// </summary>
    public TimeSpan SessionCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// While the backend cannot be reached (restarting, say), a user's JWT whose session the backend confirmed live
    /// within this time is still accepted, so direct calls ride through a backend restart; zero: refuse at once (503).
    /// A revocation made meanwhile on another backend takes effect when this worker reaches its backend again.
    /// </summary>
    public TimeSpan SessionOutageGrace { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>ONNX Runtime intra-op threads per session; 0 picks min(4, cores / 2), at least 1.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// ONNX Runtime inter-op threads per session: 1 (the default) runs a graph's nodes one after another; more runs
    /// independent branches of the graph in parallel (ORT's parallel execution mode).
    /// </summary>
    public int InterOpThreads { get; set; } = 1;

    /// <summary>
    /// Where sessions run: <c>auto</c> (the default: CUDA when the worker declares the <c>gpu</c> capability and this
    /// build of ONNX Runtime has the CUDA provider, else the CPU, with a warning when <c>gpu</c> is declared), <c>cpu</c>,
    /// or <c>cuda</c>. CUDA needs the worker built with <c>-p:MdsGpu=true</c> (ONNX Runtime's CUDA package) on a machine
    /// with CUDA 12 and cuDNN 9; the worker refuses to start when <c>cuda</c> is asked for and the provider is absent.
    /// </summary>
    public string ExecutionProvider { get; set; } = "auto";

    /// <summary>The CUDA device sessions run on.</summary>
    public int GpuDeviceId { get; set; }

    /// <summary>
    /// Whether sessions run on CUDA: asked for outright, or <c>auto</c> on a worker that declares <c>gpu</c> when
    /// <paramref name="cudaAvailable"/> (this build of ONNX Runtime has the CUDA provider).
    /// </summary>
    public bool UsesCuda(bool cudaAvailable) =>
        string.Equals(ExecutionProvider, "cuda", StringComparison.OrdinalIgnoreCase)
        || (cudaAvailable && DeclaresGpuOnAuto());

    /// <summary>Whether the provider is <c>auto</c> and the capabilities declare <c>gpu</c>.</summary>
    public bool DeclaresGpuOnAuto() =>
        string.Equals(ExecutionProvider, "auto", StringComparison.OrdinalIgnoreCase) && CapabilityList().Contains("gpu");

    /// <summary>The capabilities as a list: trimmed, lower case, no empties.</summary>
    public IReadOnlyList<string> CapabilityList() =>
        Capabilities.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(c => c.ToLowerInvariant())
            .Distinct(StringComparer.Ordinal)
            .ToArray();

    /// <summary>The intra-op thread count to give each session.</summary>
    public int EffectiveIntraOpThreads() =>
        IntraOpThreads > 0 ? IntraOpThreads : Math.Clamp(Environment.ProcessorCount / 2, 1, 4);

    /// <summary>
    /// Requests that run on one model's session at once (ONNX Runtime's <c>Run</c> holds a thread each); the rest wait
    /// in the model's queue, without a thread, and are reported as waiting. 0 picks max(2, cores / intra-op threads).
    /// </summary>
    public int ModelConcurrency { get; set; }

    /// <summary>The per-model concurrency to use.</summary>
    public int EffectiveModelConcurrency() =>
        ModelConcurrency > 0 ? ModelConcurrency : Math.Max(2, Environment.ProcessorCount / EffectiveIntraOpThreads());
}

/// <summary>Checks <see cref="WorkerOptions"/> at start so that a bad setting stops the process with a clear message.</summary>
internal sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var failures = new List<string>();
        if (!IsHttpUrl(options.BackendUrl))
        {
            failures.Add($"{WorkerOptions.Section}:BackendUrl must be an absolute http(s) URL (got '{options.BackendUrl}').");
        }

        if (options.PublicUrl is not null && !IsHttpUrl(options.PublicUrl))
        {
            failures.Add($"{WorkerOptions.Section}:PublicUrl must be an absolute http(s) URL (got '{options.PublicUrl}').");
        }

        if (options.GrpcUrl is not null && !IsHttpUrl(options.GrpcUrl))
        {
            failures.Add($"{WorkerOptions.Section}:GrpcUrl must be an absolute http(s) URL (got '{options.GrpcUrl}').");
        }

        if (options.Name is not null && (options.Name.Length is 0 or > 128 || options.Name.Any(char.IsWhiteSpace)))
        {
            failures.Add($"{WorkerOptions.Section}:Name must be 1 to 128 characters without spaces.");
        }

        if (options.CapabilityList().Count == 0)
        {
            failures.Add($"{WorkerOptions.Section}:Capabilities must name at least one capability (e.g. 'onnx,cpu').");
        }

        Positive(options.MemoryCapacityMb, "MemoryCapacityMb", failures);
        Positive(options.HeartbeatIntervalMs, "HeartbeatIntervalMs", failures);
        Positive(options.MaxRequestBodyMb, "MaxRequestBodyMb", failures);
        Positive(options.MaxGrpcTensors, "MaxGrpcTensors", failures);
        Positive(options.MaxGrpcElements, "MaxGrpcElements", failures);
        if (options.GrpcPort is < 0 or > 65535)
        {
            failures.Add($"{WorkerOptions.Section}:GrpcPort must be 0 (no gRPC) or a port number (got {options.GrpcPort.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (options.SessionCheckInterval < TimeSpan.Zero || options.SessionCheckInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{WorkerOptions.Section}:SessionCheckInterval must be between 0 and 1 minute.");
        }

        if (options.SessionOutageGrace < TimeSpan.Zero || options.SessionOutageGrace > TimeSpan.FromHours(1))
        {
            failures.Add($"{WorkerOptions.Section}:SessionOutageGrace must be between 0 and 1 hour.");
        }

        if (options.InferenceTimeout < TimeSpan.Zero)
        {
            failures.Add($"{WorkerOptions.Section}:InferenceTimeout must be zero (no limit) or positive.");
        }

        if (options.ModelConcurrency < 0)
        {
            failures.Add($"{WorkerOptions.Section}:ModelConcurrency must be 0 (automatic) or positive.");
        }

        if (options.IntraOpThreads < 0)
        {
            failures.Add($"{WorkerOptions.Section}:IntraOpThreads must be 0 (automatic) or positive.");
        }

        Positive(options.InterOpThreads, "InterOpThreads", failures);
        if (options.ExecutionProvider.ToLowerInvariant() is not ("auto" or "cpu" or "cuda"))
        {
            failures.Add($"{WorkerOptions.Section}:ExecutionProvider must be auto, cpu or cuda (got '{options.ExecutionProvider}').");
        }
        else if (string.Equals(options.ExecutionProvider, "cuda", StringComparison.OrdinalIgnoreCase) && !OrtProviders.HasCuda)
        {
            failures.Add($"{WorkerOptions.Section}:ExecutionProvider is cuda, but this build of ONNX Runtime has no CUDA execution provider " +
                $"(it has: {string.Join(", ", OrtProviders.Available)}). Build the worker with -p:MdsGpu=true, or use auto or cpu.");
        }

        if (options.GpuDeviceId < 0)
        {
            failures.Add($"{WorkerOptions.Section}:GpuDeviceId must be 0 or more.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(int value, string key, List<string> failures)
    {
        if (value <= 0)
        {
            failures.Add($"{WorkerOptions.Section}:{key} must be positive (got {value.ToString(CultureInfo.InvariantCulture)}).");
        }
    }

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}

/// <summary>The execution providers compiled into the ONNX Runtime this worker runs on.</summary>
internal static class OrtProviders
{
    private static readonly Lazy<string[]> Providers = new(() => Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders());

    /// <summary>E.g. <c>CPUExecutionProvider</c>, and <c>CUDAExecutionProvider</c> in the GPU build.</summary>
    public static IReadOnlyList<string> Available => Providers.Value;

    /// <summary>Whether the CUDA execution provider is there.</summary>
    public static bool HasCuda => Providers.Value.Contains("CUDAExecutionProvider", StringComparer.Ordinal);
}
