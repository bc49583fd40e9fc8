using System.Diagnostics;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Supervision;

/// <summary>
/// A crash loop does not take the stack down nor go on forever: <c>./mds up</c>'s supervisor (the script's own
/// functions, sourced) restarts a service that exits at every start with backoff, gives up on it at the fifth crash
/// and says so, while the other service keeps running.
/// </summary>
public sealed class SupervisorGiveUpTests
{
    [Fact]
    public async Task A_service_that_crashes_at_every_start_is_given_up_and_the_others_keep_running()
    {
        string state = Directory.CreateTempSubdirectory("mds-giveup-").FullName;
        try
        {
            const string Script = """
                source ./mds
                trap 'exit 143' TERM
                trap stop_stack EXIT
                start_crashy() { start_service crashy -- bash -c 'echo "cannot start"; exit 3'; }
                start_steady() { start_service steady -- bash -c 'exec sleep 300 # mds'; }
                ensure_state_dirs
                start_crashy
                start_steady
                watch_service crashy start_crashy
                watch_service steady start_steady
                supervise
                """;
            var start = new ProcessStartInfo("bash", ["-c", Script])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = TestEnvironment.RepoRoot,
            };
            start.Environment["MDS_STATE_DIR"] = state;
            start.Environment["MDS_RESTART_DELAY_FIRST"] = "1";
            start.Environment["MDS_RESTART_DELAY_MAX"] = "1";
            using var supervisor = Process.Start(start)!;
            var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
            supervisor.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
            supervisor.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
            supervisor.BeginOutputReadLine();
            supervisor.BeginErrorReadLine();
            string Text() => string.Join('\n', output);

            await Eventually.TrueAsync(() => Task.FromResult(Text().Contains("[crashy]   exited with code 3; gave up after 5 crashes", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(60), "the supervisor to give up on crashy:\n" + Text());
            await Task.Delay(TimeSpan.FromSeconds(3)); // and it stays given up

            Assert.False(supervisor.HasExited, Text());
            Assert.Equal(4, Text().Split('\n').Count(l => l.Contains("[crashy]   exited with code 3 after", StringComparison.Ordinal))); // restarted 4 times
            Assert.DoesNotContain("[steady]   exited", Text(), StringComparison.Ordinal);
            var table = File.ReadAllLines(Path.Combine(state, "run", "services.tsv")).Select(l => l.Split('\t')).ToDictionary(f => f[0]);
            Assert.Equal("gave-up", table["crashy"][1]);
            Assert.Equal("4", table["crashy"][3]);
            Assert.Equal("running", table["steady"][1]);

            // Stopping restarts nothing and stops what runs.
            using (var term = Process.Start("kill", ["-TERM", supervisor.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await supervisor.WaitForExitAsync(cts.Token);
            Assert.Contains("[steady]   stopped", Text(), StringComparison.Ordinal);
            Assert.Equal(4, Text().Split('\n').Count(l => l.Contains("[crashy]   started", StringComparison.Ordinal)) - 1);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
