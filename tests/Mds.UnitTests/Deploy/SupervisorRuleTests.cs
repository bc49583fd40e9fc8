using System.Diagnostics;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// The restart rule of <c>./mds up</c>'s supervisor (the script's <c>restart_decision</c>, sourced and called in bash):
/// exponential backoff from 1 s doubling to 30 s, reset by a minute of health, and give-up at five crashes within the
/// window, so a crash loop neither hammers the machine nor goes on forever.
/// </summary>
public sealed class SupervisorRuleTests
{
    private static readonly string RepoRoot = DashboardTests.FindRepoRoot();

    [Theory]
    [InlineData(0, 0, 1, "1")]    // first crash: the first delay
    [InlineData(1, 2, 2, "2")]    // doubles while it keeps crashing
    [InlineData(2, 3, 3, "4")]
    [InlineData(8, 10, 4, "16")]
    [InlineData(16, 20, 4, "30")] // capped at 30 s
    [InlineData(30, 5, 4, "30")]
    [InlineData(30, 60, 1, "1")]  // a minute of health resets the delay
    [InlineData(16, 3600, 1, "1")]
    public void A_crash_loop_backs_off_exponentially_and_a_healthy_minute_resets_it(int lastDelay, int ranSeconds, int crashes, string expected) =>
        Assert.Equal(expected, Decide(lastDelay, ranSeconds, crashes));

    [Theory]
    [InlineData(0, 0, 5)]
    [InlineData(8, 1, 5)]
    [InlineData(30, 10, 6)]
    public void A_service_that_crashed_five_times_within_the_window_is_given_up(int lastDelay, int ranSeconds, int crashes) =>
        Assert.Equal("give-up", Decide(lastDelay, ranSeconds, crashes));

    [Fact]
    public void The_limits_are_settings()
    {
        var environment = new Dictionary<string, string>
        {
            ["MDS_RESTART_DELAY_FIRST"] = "2",
            ["MDS_RESTART_DELAY_MAX"] = "5",
            ["MDS_RESTART_LIMIT"] = "3",
        };
        Assert.Equal("2", Decide(0, 0, 1, environment));
        Assert.Equal("5", Decide(4, 1, 2, environment));
        Assert.Equal("give-up", Decide(4, 1, 3, environment));
    }

    private static string Decide(int lastDelay, int ranSeconds, int crashes, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoRoot,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"source ./mds && restart_decision {lastDelay} {ranSeconds} {crashes}");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var bash = Process.Start(start)!;
        string output = bash.StandardOutput.ReadToEnd();
        string error = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, error);
        return output;
    }
}
