using Mds.ServiceDefaults;
using Microsoft.Extensions.Configuration;

namespace Mds.UnitTests.Monitoring;

/// <summary>The fallback poll interval of the Hangfire queues, as the backend and the workers read it.</summary>
public sealed class JobQueuePollingTests
{
    private static IConfiguration With(string? value) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [JobQueuePolling.Setting] = value }).Build();

    [Fact]
    public void Unset_is_two_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), JobQueuePolling.IntervalFrom(With(null)));
        Assert.Equal(TimeSpan.FromSeconds(2), JobQueuePolling.IntervalFrom(With(" ")));
    }

    [Fact]
    public void A_time_span_is_taken_as_given()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(250), JobQueuePolling.IntervalFrom(With("00:00:00.250")));
        Assert.Equal(TimeSpan.FromMinutes(10), JobQueuePolling.IntervalFrom(With("00:10:00")));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    public void Anything_else_stops_the_start_naming_the_setting(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => JobQueuePolling.IntervalFrom(With(value)));
        Assert.Contains("Mds:Jobs:QueuePollInterval", error.Message, StringComparison.Ordinal);
        Assert.Contains(value, error.Message, StringComparison.Ordinal);
    }
}
