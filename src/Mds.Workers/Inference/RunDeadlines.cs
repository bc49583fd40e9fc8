using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Mds.Workers.Inference;

/// <summary>
/// Stops ONNX Runtime runs that outlive their deadline (<c>Mds:Worker:InferenceTimeout</c>) with one shared timer,
/// instead of a timer, a cancellation registration and a native <see cref="RunOptions"/> created and freed per
/// request. A run is synchronous on its thread, so each thread that runs models keeps one <see cref="RunOptions"/>
/// and one deadline slot; while any run is under way the timer looks at the slots every <see cref="Tick"/> and sets
/// <see cref="RunOptions.Terminate"/> on the runs past their deadline (so a run stops at most a tick late). A slot's run
/// number makes sure the flag is set only on the run that is late, never on the next one of the same thread.
/// </summary>
internal static class RunDeadlines
{
    /// <summary>How often the deadlines are looked at while a run is under way.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    private const int PruneAbove = 256;

    [ThreadStatic]
    private static Slot? t_slot;

    private static readonly List<Slot> Slots = [];
    private static readonly Lock SlotsLock = new();
    private static readonly Timer Timer = new(static _ => Check(), null, Timeout.Infinite, Timeout.Infinite);
    private static int s_running;
    private static int s_ticking;

    /// <summary>Begins a run on this thread that must end within <paramref name="timeout"/>; dispose the lease when the run returns.</summary>
    public static Lease Start(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        var slot = t_slot ??= Register();
        lock (slot)
        {
            if (slot.Terminated)
            {
                slot.Options.Terminate = false; // the thread's previous run was stopped: clear the flag for this one
                slot.Terminated = false;
            }

            slot.Deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        }

        if (Interlocked.Increment(ref s_running) == 1 && Interlocked.Exchange(ref s_ticking, 1) == 0)
        {
            Timer.Change(Tick, Tick);
        }

        return new Lease(slot);
    }

    /// <summary>A run under way: its <see cref="RunOptions"/>, and whether the deadline stopped it.</summary>
    public readonly struct Lease(Slot slot) : IDisposable
    {
        public RunOptions Options => slot.Options;

        /// <summary>Whether this run was stopped for being late (read after ONNX Runtime returned or threw).</summary>
        public bool Stopped
        {
            get
            {
                lock (slot)
                {
                    return slot.Terminated;
                }
            }
        }

        public void Dispose()
        {
            lock (slot)
            {
                slot.Deadline = 0;
            }

            Interlocked.Decrement(ref s_running);
        }
    }

    /// <summary>One thread's run state, guarded by locking it.</summary>
    internal sealed class Slot
    {
        public RunOptions Options { get; } = new();

        public Thread Thread { get; } = Thread.CurrentThread;

        /// <summary>The run's deadline as a <see cref="Stopwatch"/> timestamp; 0 while no run is under way.</summary>
        public long Deadline { get; set; }

        /// <summary>Whether the flag was set on this slot's options (and must be cleared before the next run).</summary>
        public bool Terminated { get; set; }
    }

    private static Slot Register()
    {
        var slot = new Slot();
        lock (SlotsLock)
        {
            if (Slots.Count >= PruneAbove)
            {
                // Threads come and go with the thread pool: forget the slots of threads that have ended.
                foreach (var gone in Slots.Where(s => !s.Thread.IsAlive).ToList())
                {
                    Slots.Remove(gone);
                    gone.Options.Dispose();
                }
            }

            Slots.Add(slot);
        }

        return slot;
    }

    private static void Check()
    {
        if (Volatile.Read(ref s_running) == 0)
        {
            Volatile.Write(ref s_ticking, 0);
            Timer.Change(Timeout.Infinite, Timeout.Infinite);
            if (Volatile.Read(ref s_running) > 0 && Interlocked.Exchange(ref s_ticking, 1) == 0)
            {
                Timer.Change(Tick, Tick); // a run began while the timer was being stopped
            }

            return;
        }

        long now = Stopwatch.GetTimestamp();
        Slot[] slots;
        lock (SlotsLock)
        {
            slots = [.. Slots];
        }

        foreach (var slot in slots)
        {
            lock (slot)
            {
                if (slot.Deadline != 0 && now > slot.Deadline && !slot.Terminated)
                {
                    slot.Options.Terminate = true;
                    slot.Terminated = true;
                }
            }
        }
    }
}
