using Mds.Backend.Gateway;

namespace Mds.UnitTests.Gateway;

/// <summary>The gateway's memory of inputs whose requests lost their connection (the worker died running them).</summary>
public sealed class PoisonGuardTests
{
    private readonly ManualClock _clock = new();

    [Fact]
    public async Task An_input_that_stopped_a_second_worker_is_refused_until_its_window_ends()
    {
        var guard = Guard();
        var key = await Key("iris", 1, [1, 2, 3]);

        Assert.Equal(PoisonVerdict.FirstLoss, guard.RecordLoss(key, 1, "w1"));
        Assert.False(guard.IsRefused(key));
        Assert.False(guard.AnyRefused);

        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(PoisonVerdict.SecondWorker, guard.RecordLoss(key, 2, "w2"));
        Assert.True(guard.AnyRefused);
        Assert.True(guard.IsRefused(key));

        _clock.Advance(TimeSpan.FromMinutes(9)); // the window counts from the first loss
        Assert.False(guard.IsRefused(key));
        Assert.False(guard.AnyRefused);
        Assert.Equal(0, guard.Count);
    }

    [Fact]
    public async Task Copies_of_one_input_lost_in_the_same_crash_count_as_one_worker_stopped()
    {
        var guard = Guard();
        var key = await Key("iris", 1, [1, 2, 3]);

        guard.RecordLoss(key, 1, "w1");
        _clock.Advance(TimeSpan.FromMilliseconds(50));

        Assert.Equal(PoisonVerdict.SameCrash, guard.RecordLoss(key, 1, "w1"));
        Assert.False(guard.IsRefused(key));
    }

    [Fact]
    public async Task The_same_worker_stopped_again_after_a_restart_counts_as_a_second_loss()
    {
        var guard = Guard();
        var key = await Key("iris", 1, [1, 2, 3]);

        guard.RecordLoss(key, 1, "w1");
        _clock.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(PoisonVerdict.SecondWorker, guard.RecordLoss(key, 1, "w1"));
        Assert.True(guard.IsRefused(key));
    }

    [Fact]
    public async Task A_first_loss_is_forgotten_after_the_window()
    {
        var guard = Guard();
        var key = await Key("iris", 1, [1, 2, 3]);

        guard.RecordLoss(key, 1, "w1");
        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(PoisonVerdict.FirstLoss, guard.RecordLoss(key, 2, "w2"));
    }

    [Fact]
    public async Task The_guard_keeps_at_most_its_capacity_and_drops_the_oldest_first()
    {
        var guard = new PoisonGuard(TimeSpan.FromMinutes(10), 3, _clock);
        var keys = new List<PoisonKey>();
        for (byte i = 0; i < 4; i++)
        {
            keys.Add(await Key("iris", 1, [i]));
            guard.RecordLoss(keys[^1], 1, "w1");
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(3, guard.Count);
        Assert.Equal(PoisonVerdict.FirstLoss, guard.RecordLoss(keys[0], 2, "w2")); // forgotten: first again
        Assert.Equal(PoisonVerdict.SecondWorker, guard.RecordLoss(keys[3], 2, "w2"));
    }

    [Fact]
    public async Task The_key_covers_the_model_the_version_and_every_byte()
    {
        var key = await Key("iris", 1, [1, 2, 3]);

        Assert.Equal(key, await Key("iris", 1, [1, 2, 3]));
        Assert.NotEqual(key.Hash, (await Key("iris", 2, [1, 2, 3])).Hash);
        Assert.NotEqual(key.Hash, (await Key("iris2", 1, [1, 2, 3])).Hash);
        Assert.NotEqual(key.Hash, (await Key("iris", 1, [1, 2, 4])).Hash);
        Assert.Equal(16, key.ToString().Length);
    }

    [Fact]
    public async Task Bytes_that_were_not_kept_give_no_key()
    {
        var input = new RequestInput(new object(), static (_, _, _) => ValueTask.FromResult(false));

        Assert.Null(await PoisonGuard.KeyAsync("iris", 1, input, CancellationToken.None));
        Assert.Null(await PoisonGuard.KeyAsync("iris", 1, default, CancellationToken.None));
    }

    private PoisonGuard Guard() => new(TimeSpan.FromMinutes(10), PoisonGuard.DefaultCapacity, _clock);

    private static async Task<PoisonKey> Key(string model, int version, byte[] bytes) =>
        (await PoisonGuard.KeyAsync(model, version, RequestInput.Of(bytes), CancellationToken.None))!.Value;

    /// <summary>A clock that moves only when told.</summary>
    internal sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
