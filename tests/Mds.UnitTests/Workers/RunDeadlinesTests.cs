using Mds.ModelGen;
using Mds.Workers.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Mds.UnitTests.Workers;

/// <summary>The one timer that stops late ONNX Runtime runs stops exactly the late run, and never the next one.</summary>
public sealed class RunDeadlinesTests : IDisposable
{
    private readonly InferenceSession _slow = new(TestGraphs.Slow(512, 64));

    public void Dispose() => _slow.Dispose();

    [Fact]
    public void A_late_run_is_stopped_and_the_same_threads_next_run_is_not()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var late = RunDeadlines.Start(TimeSpan.FromMilliseconds(100)))
        {
            Assert.Throws<OnnxRuntimeException>(() => Run(late.Options, rows: 50_000));
            Assert.True(late.Stopped);
        }

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"stopped after {started.Elapsed}, not near the 100 ms deadline");

        // The thread's RunOptions had its Terminate flag set: the next run on this thread must not see it.
        using var next = RunDeadlines.Start(TimeSpan.FromSeconds(30));
        Assert.Equal(1, Run(next.Options, rows: 1));
        Assert.False(next.Stopped);
    }

    [Fact]
    public void A_run_within_its_deadline_is_left_alone()
    {
        for (int i = 0; i < 20; i++)
        {
            using var lease = RunDeadlines.Start(TimeSpan.FromSeconds(30));
            Assert.Equal(4, Run(lease.Options, rows: 4));
            Assert.False(lease.Stopped);
        }
    }

    private int Run(RunOptions options, int rows)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(new float[rows], [rows, 1]);
        using var outputs = _slow.Run(options, [_slow.InputNames[0]], [input], _slow.OutputNames);
        return (int)outputs[0].GetTensorTypeAndShape().Shape[0];
    }
}
