using System.Globalization;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Pipelines;

/// <summary>
/// An MDS for pipeline tests: a backend that serves gRPC, two workers, and the models the pipelines are made of,
/// deployed once. Each model's answer is simple arithmetic, so a pipeline's answer says which steps ran on which rows.
/// </summary>
public sealed class PipelineFixture : IAsyncLifetime
{
    /// <summary>x FP32 [-1,2] → y = 2x + 1.</summary>
    public const string Scale = "p-scale";

    /// <summary>x FP32 [-1,2] → y = x + 10.</summary>
    public const string Shift = "p-shift";

    /// <summary>x FP32 [-1,2] → y = -x.</summary>
    public const string Negate = "p-neg";

    /// <summary>x FP32 [-1,1] → y = x + 1.</summary>
    public const string Increment = "p-inc";

    /// <summary>x FP32 [-1,2] → label INT64 [-1,1] (argmax of the row), scores FP32 [-1,2] (softmax of the row).</summary>
    public const string Classify = "p-classify";

    /// <summary>x FP32 [-1,1] → y = x, at a cost of about 0.4 ms per row here (64 MatMuls of 512×512).</summary>
    public const string Slow = "p-slow";

    /// <summary>The same as <see cref="Slow"/> under another name, so that two branches do not share a model.</summary>
    public const string SlowToo = "p-slow-b";

    /// <summary>a, b FP32 [-1,1] → sum = a + b.</summary>
    public const string Sum = "p-sum";

    /// <summary>a, b FP32 [-1,2] → sum = a + b.</summary>
    public const string SumOfPairs = "p-sum2";

    /// <summary>x FP32 [-1,1] → y = [10, 20, 30][x]; x outside -3..2 makes ONNX Runtime fail the run.</summary>
    public const string Lookup = "p-lookup";

    /// <summary>x FP32 [-1,2] → y FP32 [-1,2], the signature of <see cref="Scale"/>, but any x outside -1..0 fails the run: a candidate that errors on purpose.</summary>
    public const string Failing = "p-fail";

    public PipelineFixture()
    {
        GrpcPort = TestEnvironment.FreePort();
        Cluster = new MdsCluster
        {
            InitialWorkers = 0,
            BackendSettings = new Dictionary<string, string>
            {
                ["Mds__Gateway__GrpcPort"] = GrpcPort.ToString(CultureInfo.InvariantCulture),
                ["Mds__Experiments__RolloutCheckInterval"] = "00:00:01", // the experiment tests' rollouts move every second
                ["Mds__Experiments__MirrorQueue"] = "32", // small enough for the stalled-mirror test to overflow it
            },
        };
    }

    public MdsCluster Cluster { get; }

    /// <summary>The backend's gRPC port.</summary>
    public int GrpcPort { get; }

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        for (int i = 0; i < 2; i++)
        {
            string port = TestEnvironment.FreePort().ToString(CultureInfo.InvariantCulture);
            await Cluster.StartWorkerAsync($"pipe-{i}", settings: new Dictionary<string, string>
            {
                ["Mds__Worker__GrpcPort"] = port,
                ["Mds__Worker__GrpcUrl"] = $"http://127.0.0.1:{port}",
            });
        }

        await Task.WhenAll(
            Cluster.DeployAsync(Scale, TestGraphs.Affine("x", "y", 2, 2f, 1f)),
            Cluster.DeployAsync(Shift, TestGraphs.Affine("x", "y", 2, 1f, 10f)),
            Cluster.DeployAsync(Negate, TestGraphs.Affine("x", "y", 2, -1f, 0f)),
            Cluster.DeployAsync(Increment, TestGraphs.Affine("x", "y", 1, 1f, 1f)),
            Cluster.DeployAsync(Classify, TestGraphs.Classifier("x", 2)),
            Cluster.DeployAsync(Slow, TestGraphs.Slow(512, 64)),
            Cluster.DeployAsync(SlowToo, TestGraphs.Slow(512, 64)),
            Cluster.DeployAsync(Sum, TestGraphs.Sum("a", "b", "sum", 1)),
            Cluster.DeployAsync(SumOfPairs, TestGraphs.Sum("a", "b", "sum", 2)),
            Cluster.DeployAsync(Lookup, TestGraphs.Lookup([10f, 20f, 30f])),
            Cluster.DeployAsync(Failing, TestGraphs.Lookup([10f], width: 2)));
    }

    public Task DisposeAsync() => Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipelines";
}
