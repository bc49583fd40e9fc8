using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Gateway;

/// <summary>
/// Remembers, per backend process and in memory, the inputs whose sends lost their connection after the request went
/// out (the worker's process died while running it), so that <see cref="ReplicaCallPolicy"/> resends such a request
/// once to another replica but never lets one input stop a third worker: a key is SHA-256 of (model, version, request
/// bytes); its first loss allows the one resend, a loss on a second worker within <see cref="Window"/> ends the call,
/// and a key with two losses is refused without being sent anywhere until its window (counted from the first loss) ends.
/// Bounded: at most <see cref="DefaultCapacity"/> keys, the oldest dropped first. Nothing here is read on a request
/// that answers unless a key is refused right now (<see cref="AnyRefused"/>).
/// </summary>
public sealed class PoisonGuard
{
    /// <summary>The most keys kept; past it the oldest is dropped.</summary>
    public const int DefaultCapacity = 10_000;

    /// <summary>
    /// Losses on the same worker this close to the key's first loss are the same crash (several copies of one input
    /// were running on the worker when it died), not a second worker stopped.
    /// </summary>
    public static readonly TimeSpan SameCrash = TimeSpan.FromSeconds(2);

    private readonly Dictionary<UInt128, Entry> _entries = [];
    private readonly Queue<(UInt128 Key, long RecordedAt)> _order = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly ILogger? _log;
    private readonly int _capacity;
    private int _refused;

    public PoisonGuard(IOptions<GatewayOptions> options, TimeProvider clock, ILogger<PoisonGuard> log)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value.PoisonWindow, DefaultCapacity, clock, log)
    {
    }

    /// <summary>With the window, capacity and clock given (tests).</summary>
    internal PoisonGuard(TimeSpan window, int capacity, TimeProvider clock, ILogger? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Window = window;
        _capacity = capacity;
        _clock = clock ?? throw new ArgumentNullException(nameof(clock));
        _log = log;
    }

    /// <summary>How long a key is remembered after its first loss (<c>Mds:Gateway:PoisonWindow</c>).</summary>
    public TimeSpan Window { get; }

    /// <summary>Keys kept now (expired ones until the next record or check drops them).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Whether some key may be refused now: only then is a request's input hashed before its first send. One read; it
    /// may stay true for a refused key that has just expired until the next check drops it.
    /// </summary>
    public bool AnyRefused => Volatile.Read(ref _refused) > 0;

    /// <summary>The key of (model, version, request bytes), the bytes fed by <paramref name="input"/>; null when the bytes were not kept.</summary>
    public static async ValueTask<PoisonKey?> KeyAsync(string model, int version, RequestInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(model));
        Span<byte> separatorAndVersion = stackalloc byte[5];
        separatorAndVersion[0] = 0; // no model name contains NUL: "a" + version 11 and "a1" + version 1 differ
        BinaryPrimitives.WriteInt32LittleEndian(separatorAndVersion[1..], version);
        hash.AppendData(separatorAndVersion);
        if (!await input.FeedAsync(hash, ct))
        {
            return null;
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return new PoisonKey(BinaryPrimitives.ReadUInt128BigEndian(digest), model, version);
    }

    /// <summary>Whether <paramref name="key"/> has stopped two workers within the window (refuse it without sending).</summary>
    public bool IsRefused(PoisonKey key)
    {
        lock (_lock)
        {
            DropExpired();
            return _entries.TryGetValue(key.Hash, out var entry) && entry.Losses >= 2;
        }
    }

    /// <summary>
    /// Records that a send of <paramref name="key"/> lost its connection on <paramref name="workerId"/> and says what
    /// the policy may do next. Logs a warning (the key, never the bytes) whenever a loss is counted.
    /// </summary>
    public PoisonVerdict RecordLoss(PoisonKey key, long workerId, string workerName)
    {
        PoisonVerdict verdict;
        lock (_lock)
        {
            DropExpired();
            long now = _clock.GetTimestamp();
            if (!_entries.TryGetValue(key.Hash, out var entry))
            {
                while (_entries.Count >= _capacity && _order.TryDequeue(out var oldest))
                {
                    Remove(oldest.Key, oldest.RecordedAt);
                }

                _entries[key.Hash] = new Entry(now, workerId, 1);
                _order.Enqueue((key.Hash, now));
                verdict = PoisonVerdict.FirstLoss;
            }
            else if (entry.Losses >= 2)
            {
                verdict = PoisonVerdict.Refused; // a copy sent before the key was refused (concurrent calls)
            }
            else if (entry.WorkerId == workerId && _clock.GetElapsedTime(entry.FirstLossAt, now) < SameCrash)
            {
                verdict = PoisonVerdict.SameCrash;
            }
            else
            {
                _entries[key.Hash] = entry with { Losses = 2 };
                _refused++;
                verdict = PoisonVerdict.SecondWorker;
            }
        }

        switch (verdict)
        {
            case PoisonVerdict.FirstLoss:
                _log?.LogWarning("Gateway: a request to model '{Model}' version {Version} lost its connection after it was sent (worker '{Worker}' stopped while running it); its input {Key} is recorded for {Window} and the request is sent once more, to another replica",
                    key.Model, key.Version, workerName, key, Window);
                break;
            case PoisonVerdict.SecondWorker:
                _log?.LogWarning("Gateway: input {Key} of model '{Model}' version {Version} has now stopped two workers (the second: '{Worker}'); it is refused without being sent for the rest of its {Window} window",
                    key, key.Model, key.Version, workerName, Window);
                break;
        }

        return verdict;
    }

    /// <summary>Drops keys whose window has ended (oldest first: the queue is in order of first loss).</summary>
    private void DropExpired()
    {
        while (_order.TryPeek(out var oldest) && _clock.GetElapsedTime(oldest.RecordedAt) >= Window)
        {
            _order.Dequeue();
            Remove(oldest.Key, oldest.RecordedAt);
        }
    }

    private void Remove(UInt128 key, long recordedAt)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.FirstLossAt == recordedAt)
        {
            _entries.Remove(key);
            if (entry.Losses >= 2)
            {
                _refused--;
            }
        }
    }

    private readonly record struct Entry(long FirstLossAt, long WorkerId, int Losses);
}

/// <summary>What <see cref="PoisonGuard.RecordLoss"/> allows next.</summary>
public enum PoisonVerdict
{
    /// <summary>The input's first loss: it may be sent once more, to another replica.</summary>
    FirstLoss,

    /// <summary>Another loss on the same worker within <see cref="PoisonGuard.SameCrash"/>: still one worker stopped; it may be sent once more.</summary>
    SameCrash,

    /// <summary>The input has now stopped a second worker within the window: not sent again, and refused for the rest of the window.</summary>
    SecondWorker,

    /// <summary>The input was already refused (this copy had been sent before): not sent again.</summary>
    Refused,
}

/// <summary>A request's input as the poison guard knows it: SHA-256 (first 128 bits) of model, version and bytes.</summary>
public readonly record struct PoisonKey(UInt128 Hash, string Model, int Version)
{
    /// <summary>The first 16 hex digits, for logs.</summary>
    public override string ToString() => ((ulong)(Hash >> 64)).ToString("x16", CultureInfo.InvariantCulture);
}

/// <summary>
/// A request's bytes for the poison guard, read only after a lost connection (or while some input is refused): a state
/// the transport already holds and a static function that feeds its bytes to a hash, so that carrying one costs no
/// allocation on a request that answers. The function returns false when the bytes were not kept (nothing is resent).
/// </summary>
public readonly struct RequestInput(object state, Func<object, IncrementalHash, CancellationToken, ValueTask<bool>> feed)
{
    /// <summary>Whether there is anything to read (the default value has not).</summary>
    public bool HasValue => feed is not null;

    /// <summary>Feeds the bytes to <paramref name="hash"/>; false when they were not kept.</summary>
    public ValueTask<bool> FeedAsync(IncrementalHash hash, CancellationToken ct) =>
        feed is null ? ValueTask.FromResult(false) : feed(state, hash, ct);

    /// <summary>Bytes held in an array (the array is the state: nothing allocated).</summary>
    public static RequestInput Of(byte[] bytes) => new(bytes ?? throw new ArgumentNullException(nameof(bytes)), static (s, hash, _) =>
    {
        hash.AppendData((byte[])s);
        return ValueTask.FromResult(true);
    });
}
