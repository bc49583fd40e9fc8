using System.Diagnostics;
using Mds.Onnx;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Mds.Workers.Inference;

/// <summary>
/// Creates ONNX Runtime sessions and measures what each costs in memory. Creations run one at a time so that the
/// process's resident-memory growth around one creation belongs to that model.
/// </summary>
internal sealed class ModelLoader : IDisposable
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly int _intraOpThreads;
    private readonly int _interOpThreads;
    private readonly int? _cudaDevice;
    private readonly TimeSpan _inferenceTimeout;
    private readonly int _modelConcurrency;

    public ModelLoader(IOptions<WorkerOptions> options, ILogger<ModelLoader>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _intraOpThreads = options.Value.EffectiveIntraOpThreads();
        _interOpThreads = Math.Max(1, options.Value.InterOpThreads);
        _inferenceTimeout = options.Value.InferenceTimeout;
        _modelConcurrency = options.Value.EffectiveModelConcurrency();

        // Runs block their threads (at most the model concurrency per model): keep enough threads beyond them that one
        // busy model never leaves Kestrel waiting for the pool to inject more (it adds about one a second when starved).
        ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
        ThreadPool.SetMinThreads(Math.Max(minWorkers, Environment.ProcessorCount + _modelConcurrency), minIo);
        _cudaDevice = options.Value.UsesCuda(OrtProviders.HasCuda) ? options.Value.GpuDeviceId : null;

        // Start ONNX Runtime's environment now, so that its one-time cost is not counted against the first model.
        var environment = OrtEnv.Instance();
        logger?.LogInformation("ONNX Runtime {Version}: sessions run on {Where}", environment.GetVersionString(), Describe());
        if (_cudaDevice is null && options.Value.DeclaresGpuOnAuto())
        {
            logger?.LogWarning(
                "The worker declares the gpu capability, but this build of ONNX Runtime has no CUDA execution provider (it has: {Providers}): " +
                "sessions run on the CPU. Build the worker with -p:MdsGpu=true (MDS_GPU=1 ./mds up) to run them on CUDA.",
                string.Join(", ", OrtProviders.Available));
        }
    }

    /// <summary>Loads the ONNX file at <paramref name="path"/> as replica <paramref name="replicaId"/> of name/version.</summary>
    /// <exception cref="ModelLoadException">ONNX Runtime cannot load the file; the message says why.</exception>
    public async Task<LoadedModel> LoadAsync(long replicaId, string name, int version, string path, CancellationToken cancellationToken)
    {
        // A model unpacked from a bundle counts its external-data files too (ONNX Runtime may map them rather than read them).
        long fileSize = File.Exists(Path.Combine(Path.GetDirectoryName(path)!, Mds.Contracts.Cluster.ModelBundle.ManifestName))
            ? new DirectoryInfo(Path.GetDirectoryName(path)!).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : new FileInfo(path).Length;
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        InferenceSession? session = null;
        try
        {
            long before = ResidentBytes();
            using (var options = CreateSessionOptions())
            {
                session = new InferenceSession(path, options);
            }

            long grown = ResidentBytes() - before;
            OnnxFileFacts facts;
            try
            {
                // After ONNX Runtime accepted the file, so a broken file is described by ONNX Runtime's own words.
                facts = OnnxFileFacts.Read(path);
            }
            catch (InvalidOnnxModelException e)
            {
                throw new ModelLoadException($"model '{name}' version {version}: {e.Message}", e);
            }

            var model = new LoadedModel(replicaId, name, version, session, Math.Max(grown, fileSize), facts) { InferenceTimeout = _inferenceTimeout, Gate = new ModelGate(_modelConcurrency) };
            session = null;
            return model;
        }
        catch (OnnxRuntimeException e)
        {
            // ONNX Runtime names the file it read: the path is this machine's business, not the reader's.
            throw new ModelLoadException($"ONNX Runtime cannot load model '{name}' version {version}: {OrtMessages.Clean(e.Message).Replace(path, "the model file", StringComparison.Ordinal)}", e);
        }
        finally
        {
            session?.Dispose();
            _oneAtATime.Release();
        }
    }

    /// <summary>Where sessions run, for the log: <c>CUDA device 0</c> or <c>CPU</c>, with the thread counts.</summary>
    public string Describe() =>
        (_cudaDevice is int device ? $"CUDA device {device}" : "CPU") + $", {_intraOpThreads} intra-op and {_interOpThreads} inter-op threads per session";

    public void Dispose() => _oneAtATime.Dispose();

    // The options live in Mds.Onnx so that the backend's upload inspector creates sessions exactly as workers do.
    private SessionOptions CreateSessionOptions() => OnnxSessions.CreateOptions(_intraOpThreads, _interOpThreads, _cudaDevice);

    private static long ResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}

/// <summary>A model file that ONNX Runtime cannot load.</summary>
internal sealed class ModelLoadException : Exception
{
    public ModelLoadException(string message, Exception inner) : base(message, inner) { }

    public ModelLoadException(string message) : base(message) { }

    public ModelLoadException() { }
}

/// <summary>ONNX Runtime's messages, made readable for people.</summary>
internal static class OrtMessages
{
    /// <summary>Drops the <c>[ErrorCode:...] </c> prefix ONNX Runtime puts on its messages.</summary>
    public static string Clean(string message) => OnnxSessions.CleanMessage(message);
}
