using System.Diagnostics;
using Mds.Backend.Pipelines;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Pipelines;

/// <summary>
/// Models for executor tests: each model name computes a real answer from its request (simple math on tensors), after
/// an optional delay that honours the token, or fails with a <see cref="StepCallException"/>. Every call is recorded
/// with its request (so tests see the rows and names a step sent) and its start and end on one clock.
/// </summary>
internal sealed class FakeStepInvoker : IStepInvoker
{
    private readonly Dictionary<string, FakeModel> _models = new(StringComparer.Ordinal);
    private readonly List<StepCall> _calls = [];
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public IReadOnlyList<StepCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The one call of <paramref name="step"/>.</summary>
    public StepCall Call(string step) => Assert.Single(Calls, c => c.Step == step);

    public FakeStepInvoker Model(string name, Func<InferenceRequest, IEnumerable<InferenceTensor>> compute, int delayMs = 0, int version = 1)
    {
        _models[name] = new FakeModel(compute, delayMs, version, null);
        return this;
    }

    public FakeStepInvoker Failing(string name, int status, string message, int? version = null, int delayMs = 0)
    {
        _models[name] = new FakeModel(null, delayMs, version ?? 1, new StepCallException(status, message, version));
        return this;
    }

    public async Task<StepAnswer> InvokeAsync(PipelineStep step, InferenceRequest request, string caller, CancellationToken ct)
    {
        var model = _models[step.Model];
        var call = new StepCall(step.Name, step.Model, request, _clock.Elapsed.TotalMilliseconds);
        lock (_lock)
        {
            _calls.Add(call);
        }

        try
        {
            if (model.DelayMs > 0)
            {
                await Task.Delay(model.DelayMs, ct).ConfigureAwait(false);
            }

            if (model.Failure is { } failure)
            {
                throw failure;
            }

            var outputs = model.Compute!(request).ToList();
            return new StepAnswer(new InferenceResponse { ModelName = step.Model, ModelVersion = $"{model.Version}", Id = request.Id, Outputs = outputs }, model.Version);
        }
        catch (OperationCanceledException)
        {
            call.Cancelled = true;
            throw;
        }
        finally
        {
            call.EndMs = _clock.Elapsed.TotalMilliseconds;
        }
    }

    private sealed record FakeModel(Func<InferenceRequest, IEnumerable<InferenceTensor>>? Compute, int DelayMs, int Version, StepCallException? Failure);
}

/// <summary>One call a step made: what it sent, and when (ms on the fake's clock).</summary>
internal sealed class StepCall(string step, string model, InferenceRequest request, double startMs)
{
    public string Step { get; } = step;
    public string Model { get; } = model;
    public InferenceRequest Request { get; } = request;
    public double StartMs { get; } = startMs;
    public double EndMs { get; set; }
    public bool Cancelled { get; set; }

    public InferenceTensor Input(string name) => Assert.Single(Request.Inputs, t => t.Name == name);

    public IEnumerable<string> InputNames => Request.Inputs.Select(t => t.Name);
}

/// <summary>What the fake models compute, and tensor shortcuts.</summary>
internal static class Fake
{
    public static InferenceTensor Fp32(string name, long[] shape, params float[] data) => new(name, TensorDatatype.Fp32, shape, data);

    public static float[] Floats(InferenceTensor tensor) => (float[])tensor.Data;

    /// <summary><paramref name="output"/> = f(each element of the request's one input), same shape.</summary>
    public static Func<InferenceRequest, IEnumerable<InferenceTensor>> Map(string output, Func<float, float> f) => request =>
    {
        var x = Assert.Single(request.Inputs);
        return [Fp32(output, x.Shape, Array.ConvertAll(Floats(x), v => f(v)))];
    };

    /// <summary><paramref name="output"/> = the elementwise sum of every input (all of one shape).</summary>
    public static Func<InferenceRequest, IEnumerable<InferenceTensor>> Sum(string output) => request =>
    {
        var sum = new float[request.Inputs[0].Data.Length];
        foreach (var t in request.Inputs)
        {
            var values = Floats(t);
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += values[i];
            }
        }

        return [Fp32(output, request.Inputs[0].Shape, sum)];
    };

    /// <summary><paramref name="output"/> = INT64 [n], the position of each row's largest element of the one [n,k] input.</summary>
    public static Func<InferenceRequest, IEnumerable<InferenceTensor>> Argmax(string output) => request =>
    {
        var x = Assert.Single(request.Inputs);
        int rows = (int)x.Shape[0], k = (int)x.Shape[1];
        var values = Floats(x);
        var labels = new long[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 1; j < k; j++)
            {
                if (values[r * k + j] > values[r * k + labels[r]])
                {
                    labels[r] = j;
                }
            }
        }

        return [new InferenceTensor(output, TensorDatatype.Int64, [rows], labels)];
    };

    /// <summary>Answers the request's inputs under their names (to see what a step was sent, and pass it on).</summary>
    public static IEnumerable<InferenceTensor> Echo(InferenceRequest request) => request.Inputs;
}
