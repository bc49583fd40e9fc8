using Mds.Backend.Cluster;
using Mds.Backend.Gateway;
using Mds.Backend.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mds.UnitTests.Cluster;

/// <summary>
/// One "cluster changed" signal replaces the paired "refresh the routing table + wake the reconciler" calls: a writer
/// that raises it must reach both, and must not answer before the routing table has been rebuilt.
/// </summary>
public sealed class ClusterChangedTests
{
    [Fact]
    public void A_change_reaches_both_the_reconciler_and_the_routing_table_as_the_backend_composes_them()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.AddCluster();
        builder.AddScheduling();
        builder.Services.AddGateway();
        using var services = builder.Services.BuildServiceProvider();

        var listeners = services.GetServices<IClusterChangeListener>().ToList();

        // The reconciler's wake-up first (it cannot fail), then the routing table (a database read).
        Assert.Collection(listeners,
            l => Assert.Same(services.GetRequiredService<ReconcileSignal>(), l),
            l => Assert.IsType<RoutingTableListener>(l));
    }

    [Fact]
    public async Task Raising_wakes_the_reconcile_loop_at_once()
    {
        var signal = new ReconcileSignal();
        var changed = new ClusterChanged([signal]);

        Assert.False(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        await changed.RaiseAsync(CancellationToken.None);
        await changed.RaiseAsync(CancellationToken.None); // many changes collapse into one run

        Assert.True(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.False(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task A_writer_does_not_answer_before_every_listener_has_finished()
    {
        var slow = new SlowListener();
        var signal = new ReconcileSignal();
        var changed = new ClusterChanged([signal, slow]);

        var raised = changed.RaiseAsync(CancellationToken.None);
        Assert.False(raised.IsCompleted); // still waiting on the routing table's rebuild
        Assert.True(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));

        slow.Finish();
        await raised;
        Assert.Equal(1, slow.Calls);
    }

    [Fact]
    public async Task A_listener_that_fails_fails_the_writer_after_the_reconciler_was_woken()
    {
        var signal = new ReconcileSignal();
        var changed = new ClusterChanged([signal, new FailingListener()]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => changed.RaiseAsync(CancellationToken.None));
        Assert.True(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    private sealed class SlowListener : IClusterChangeListener
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls { get; private set; }

        public void Finish() => _done.SetResult();

        public Task OnClusterChangedAsync(CancellationToken ct)
        {
            Calls++;
            return _done.Task;
        }
    }

    private sealed class FailingListener : IClusterChangeListener
    {
        public Task OnClusterChangedAsync(CancellationToken ct) => Task.FromException(new InvalidOperationException("database down"));
    }
}
