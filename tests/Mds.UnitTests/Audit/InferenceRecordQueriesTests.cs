using Mds.Backend.Audit;

namespace Mds.UnitTests.Audit;

public sealed class InferenceRecordQueriesTests
{
    [Fact]
    public void A_UUIDv7_gives_back_the_millisecond_it_was_made_for()
    {
        var time = new DateTimeOffset(2026, 11, 25, 10, 30, 15, TimeSpan.Zero).AddTicks(1_234_567); // 123.4567 ms

        var id = Guid.CreateVersion7(time);

        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 30, 15, 123, TimeSpan.Zero), InferenceRecordQueries.TimeOf(id));
    }

    [Fact]
    public void Other_ids_have_no_time()
    {
        Assert.Null(InferenceRecordQueries.TimeOf(Guid.Parse("6f9619ff-8b86-4011-b42d-00cf4fc964ff"))); // version 4
        Assert.Null(InferenceRecordQueries.TimeOf(Guid.Empty));
    }
}
