namespace Mds.Workers.Inference;

/// <summary>
/// How many requests may run on one model's session at once. ONNX Runtime's <c>Run</c> is synchronous: each running
/// request holds a thread-pool thread for the whole run, so without a bound a CPU-bound model under many callers takes
/// every pool thread, and the requests behind them wait in the pool's queue (and Kestrel's), where nobody counts them.
/// With the gate, at most <see cref="Limit"/> threads block in <c>Run</c> per model; the others wait here without a
/// thread, and <see cref="Waiting"/> says how many (reported in the heartbeat and on <c>/metrics</c>, for autoscaling).
/// A request under the limit enters at once, on its own thread, without a hand-off.
/// </summary>
internal sealed class ModelGate
{
    private readonly SemaphoreSlim _slots;
    private int _waiting;

    public ModelGate(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
        _slots = new SemaphoreSlim(limit, limit);
    }

    /// <summary>The most requests that run on the session at once.</summary>
    public int Limit { get; }

    /// <summary>Requests waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Takes a slot if one is free now.</summary>
    public bool TryEnter() => _slots.Wait(0);

    /// <summary>Waits (without holding a thread) for a slot.</summary>
    public async ValueTask EnterAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    /// <summary>Gives back a slot taken with <see cref="TryEnter"/> or <see cref="EnterAsync"/>.</summary>
    public void Exit() => _slots.Release();
}
