using System.Diagnostics.Metrics;
using Mds.Contracts.Inference;
using Mds.Workers;
using Mds.Workers.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mds.UnitTests.Workers;

/// <summary>
/// A worker's inference side without HTTP: a real session registry, loader and runner over ONNX files written to a
/// temporary directory. One per test.
/// </summary>
internal sealed class WorkerModels : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mds-worker-tests-").FullName;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private long _nextReplicaId = 1;

    public WorkerModels()
    {
        Loader = new ModelLoader(Options.Create(new WorkerOptions()));
        MeterFactory = _services.GetRequiredService<IMeterFactory>();
        Metrics = new WorkerMetrics(MeterFactory, Registry);
        Runner = new InferenceRunner(Registry, Metrics);
    }

    public WorkerMetrics Metrics { get; }

    /// <summary>The factory of this instance's meters (their <see cref="Meter.Scope"/>).</summary>
    public IMeterFactory MeterFactory { get; }

    public SessionRegistry Registry { get; } = new();

    public ModelLoader Loader { get; }

    public InferenceRunner Runner { get; }

    /// <summary>Writes <paramref name="onnx"/> to a file and loads it as the next replica of name/version (not registered).</summary>
    public async Task<LoadedModel> CreateAsync(byte[] onnx, string name = "m", int version = 1)
    {
        long replicaId = _nextReplicaId++;
        string path = Path.Combine(_directory, $"{replicaId}.onnx");
        await File.WriteAllBytesAsync(path, onnx);
        return await Loader.LoadAsync(replicaId, name, version, path, CancellationToken.None);
    }

    /// <summary>Loads and registers a model.</summary>
    public async Task<LoadedModel> LoadAsync(byte[] onnx, string name = "m", int version = 1)
    {
        var model = await CreateAsync(onnx, name, version);
        Assert.True(Registry.TryAdd(model));
        return model;
    }

    public InferenceResponse Infer(string name, params InferenceTensor[] inputs) =>
        Run(name, null, new InferenceRequest { Inputs = inputs });

    /// <summary>Runs a request through the runner and waits for it (at once unless the model batches).</summary>
    public InferenceResponse Run(string name, string? version, InferenceRequest request) =>
        Runner.InferAsync(name, version, request, System.Diagnostics.Stopwatch.GetTimestamp()).AsTask().GetAwaiter().GetResult();

    public void Dispose()
    {
        Registry.Dispose();
        Loader.Dispose();
        _services.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
