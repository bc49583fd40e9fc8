using Mds.Workers;
using Mds.Workers.Cluster;

namespace Mds.UnitTests.Workers;

public sealed class WorkerOptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        var result = new WorkerOptionsValidator().Validate(null, new WorkerOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("BackendUrl", "not a url")]
    [InlineData("BackendUrl", "ftp://backend")]
    [InlineData("PublicUrl", "/relative")]
    [InlineData("Capabilities", " , ")]
    [InlineData("Name", "two words")]
    [InlineData("MemoryCapacityMb", "0")]
    [InlineData("HeartbeatIntervalMs", "-1")]
    [InlineData("InterOpThreads", "0")]
    public void A_bad_setting_fails_naming_its_key(string key, string value)
    {
        var options = new WorkerOptions();
        switch (key)
        {
            case "BackendUrl": options.BackendUrl = value; break;
            case "PublicUrl": options.PublicUrl = value; break;
            case "Capabilities": options.Capabilities = value; break;
            case "Name": options.Name = value; break;
            case "MemoryCapacityMb": options.MemoryCapacityMb = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "HeartbeatIntervalMs": options.HeartbeatIntervalMs = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "InterOpThreads": options.InterOpThreads = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        }

        var result = new WorkerOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Mds:Worker:" + key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Asking_for_CUDA_on_the_CPU_build_of_ONNX_Runtime_stops_the_worker_with_the_reason()
    {
        Assert.False(OrtProviders.HasCuda); // this test runs on the CPU build

        var result = new WorkerOptionsValidator().Validate(null, new WorkerOptions { ExecutionProvider = "cuda", Capabilities = "onnx,cpu" });

        Assert.True(result.Failed);
        Assert.Contains("Mds:Worker:ExecutionProvider is cuda", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("has no CUDA execution provider (it has: CPUExecutionProvider", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("-p:MdsGpu=true", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_declaring_gpu_on_auto_starts_on_the_CPU_build_and_runs_sessions_on_the_CPU()
    {
        var options = new WorkerOptions { ExecutionProvider = "auto", Capabilities = "onnx,gpu" };
        Assert.True(new WorkerOptionsValidator().Validate(null, options).Succeeded);
        Assert.False(options.UsesCuda(OrtProviders.HasCuda));
        Assert.True(options.DeclaresGpuOnAuto()); // the worker logs a warning saying so
    }

    [Theory]
    [InlineData("auto", "onnx,cpu", true, false)]
    [InlineData("AUTO", "onnx,gpu", true, true)]
    [InlineData("auto", "onnx,gpu", false, false)]
    [InlineData("cpu", "onnx,gpu", true, false)]
    [InlineData("cuda", "onnx", true, true)]
    [InlineData("cuda", "onnx", false, true)] // refused at start by the validator, as above
    public void CUDA_is_used_when_asked_for_or_when_auto_and_the_worker_declares_gpu_and_the_build_has_it(string provider, string capabilities, bool available, bool cuda)
    {
        Assert.Equal(cuda, new WorkerOptions { ExecutionProvider = provider, Capabilities = capabilities }.UsesCuda(available));
    }

    [Theory]
    [InlineData("tpu", "Mds:Worker:ExecutionProvider must be auto, cpu or cuda (got 'tpu')")]
    public void An_unknown_execution_provider_is_refused(string provider, string expected)
    {
        var result = new WorkerOptionsValidator().Validate(null, new WorkerOptions { ExecutionProvider = provider });

        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_get_the_configured_inter_op_threads_and_still_answer()
    {
        using var loader = new Mds.Workers.Inference.ModelLoader(Microsoft.Extensions.Options.Options.Create(
            new WorkerOptions { IntraOpThreads = 2, InterOpThreads = 2, ExecutionProvider = "cpu" }));
        string path = Path.Combine(Directory.CreateTempSubdirectory("mds-ort-options-").FullName, "two.onnx");
        await File.WriteAllBytesAsync(path, Mds.ModelGen.TestGraphs.TwoInputsTwoOutputs());

        var model = await loader.LoadAsync(1, "two", 1, path, CancellationToken.None);

        Assert.Equal("CPU, 2 intra-op and 2 inter-op threads per session", loader.Describe());
        var response = Mds.Workers.Inference.TensorBinding.Run(model, new Mds.Contracts.Inference.InferenceRequest
        {
            Inputs =
            [
                new Mds.Contracts.Inference.InferenceTensor("a", Mds.Contracts.Inference.TensorDatatype.Fp32, [1, 3], new[] { 1f, 2f, 3f }),
                new Mds.Contracts.Inference.InferenceTensor("b", Mds.Contracts.Inference.TensorDatatype.Fp32, [1, 3], new[] { 4f, 5f, 6f }),
            ],
        });
        Assert.Equal(new[] { 5f, 7f, 9f }, response.Outputs.Single(o => o.Name == "sum").Data);
        Assert.Equal(new[] { 4f, 10f, 18f }, response.Outputs.Single(o => o.Name == "product").Data);
        model.Release();
    }

    [Fact]
    public void Capabilities_are_split_trimmed_lowercased_and_deduplicated()
    {
        var options = new WorkerOptions { Capabilities = " ONNX, cpu,,gpu ,onnx" };

        Assert.Equal(["onnx", "cpu", "gpu"], options.CapabilityList());
    }

    [Fact]
    public void Worker_key_and_database_are_required()
    {
        var result = new ClusterOptionsValidator().Validate(null, new ClusterOptions());

        Assert.True(result.Failed);
        Assert.Contains("Mds:Cluster:WorkerKey", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:Mds", result.FailureMessage, StringComparison.Ordinal);
    }
}
