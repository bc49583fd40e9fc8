using Mds.Contracts.Inference;
using Mds.ModelGen;
using Mds.Workers.Inference;

namespace Mds.UnitTests.Workers;

/// <summary>Which session serves a request, and when a session may be disposed.</summary>
public sealed class SessionRegistryTests : IDisposable
{
    private readonly WorkerModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public async Task The_bare_name_resolves_to_the_highest_loaded_version()
    {
        await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m", version: 2);
        await _models.LoadAsync(TestGraphs.Linear([1f], 10f), "m", version: 10);
        await _models.LoadAsync(TestGraphs.Linear([1f], 3f), "m", version: 3);

        Assert.True(_models.Registry.TryFind("m", null, out var model));

        Assert.Equal(10, model.Version);
        Assert.Equal(["10", "3", "2"], _models.Registry.VersionsOf("m"));
        Assert.Equal(new[] { 10f }, Infer("m", null).Outputs[0].Data);
    }

    [Fact]
    public async Task A_version_resolves_to_exactly_that_version()
    {
        await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m", version: 2);
        await _models.LoadAsync(TestGraphs.Linear([1f], 3f), "m", version: 3);

        Assert.Equal(new[] { 2f }, Infer("m", "2").Outputs[0].Data);
        Assert.Equal("2", Infer("m", "2").ModelVersion);
    }

    [Theory]
    [InlineData("other", null)]
    [InlineData("m", "4")]
    [InlineData("m", "latest")]
    [InlineData("M", null)]
    public async Task An_unknown_model_or_version_is_not_found(string name, string? version)
    {
        await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m", version: 2);

        Assert.False(_models.Registry.TryFind(name, version, out _));
        var error = Assert.Throws<ModelNotLoadedException>(() => Infer(name, version));
        Assert.Contains($"model '{name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not loaded on this worker", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unloading_waits_for_the_request_in_flight_then_disposes_the_session()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m");
        Assert.True(_models.Registry.TryAcquire("m", null, out var lease));

        var disposed = _models.Registry.Remove(model.ReplicaId);

        Assert.NotNull(disposed);
        Assert.False(disposed.IsCompleted);
        Assert.False(_models.Registry.TryFind("m", null, out _));
        Assert.False(_models.Registry.TryAcquire("m", null, out _));
        Assert.Equal(1, model.InFlight);
        // The request still holding the session can run on it.
        var still = TensorBinding.Run(lease.Model, Request());
        Assert.Equal(new[] { 2f }, still.Outputs[0].Data);

        lease.Dispose();

        await disposed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, model.InFlight);
    }

    [Fact]
    public async Task Unloading_an_idle_replica_disposes_it_at_once()
    {
        var model = await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m");

        var disposed = _models.Registry.Remove(model.ReplicaId);

        Assert.NotNull(disposed);
        Assert.True(disposed.IsCompletedSuccessfully);
        Assert.Equal(0, _models.Registry.Count);
    }

    [Fact]
    public void Unloading_an_unknown_replica_does_nothing()
    {
        Assert.Null(_models.Registry.Remove(12345));
    }

    [Fact]
    public async Task Loading_the_same_replica_twice_keeps_the_first_session()
    {
        var first = await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "m");
        var second = await _models.CreateAsync(TestGraphs.Linear([1f], 5f), "m");
        var duplicate = new LoadedModel(first.ReplicaId, "m", 1, second.Session, second.MemoryBytes);

        Assert.False(_models.Registry.TryAdd(duplicate));

        Assert.True(_models.Registry.TryGetReplica(first.ReplicaId, out var kept));
        Assert.Same(first, kept);
        Assert.Equal(1, _models.Registry.Count);
        second.Release();
    }

    [Fact]
    public async Task Heartbeat_view_lists_every_loaded_replica_with_its_memory()
    {
        var a = await _models.LoadAsync(TestGraphs.Linear([1f], 2f), "a");
        var b = await _models.LoadAsync(TestGraphs.TwoInputsTwoOutputs(), "b");

        var loaded = _models.Registry.Loaded;

        Assert.Equal([a.ReplicaId, b.ReplicaId], loaded.Select(m => m.ReplicaId));
        Assert.All(loaded, m => Assert.True(m.MemoryBytes > 0));
    }

    private InferenceResponse Infer(string name, string? version) => _models.Run(name, version, Request());

    private static InferenceRequest Request() => new()
    {
        // x = 0, so y is the bias: which model answered.
        Inputs = [new InferenceTensor("x", TensorDatatype.Fp32, [1, 1], new[] { 0f })],
    };
}
