using System.Diagnostics;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Npgsql;

namespace Mds.IntegrationTests.Supervision;

/// <summary>
/// <c>./mds up</c> heals itself (issue 19): whatever exits is started again, and the services ride through each other's
/// restarts. One stack for the class; each test leaves it whole again (two Ready replicas of the iris sample).
/// </summary>
public sealed class SupervisedStackTests(SupervisedStack stack) : IClassFixture<SupervisedStack>
{
    [Fact]
    public async Task A_SIGKILLed_backend_is_back_within_15_s_and_the_same_models_answer_without_a_reload()
    {
        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(90));
        int loads = stack.LoadsSoFar();
        var before = stack.Services()["backend"];

        using var worker0 = stack.Client(stack.WorkerUrl(0));
        Assert.True(await SupervisedStack.InferAsync(worker0)); // the worker has asked the backend about this session

        var clock = Stopwatch.StartNew();
        Kill(before.Pid);
        await UntilAsync(() => Task.FromResult(stack.Services()["backend"] is { State: "running" } b && b.Pid != before.Pid), TimeSpan.FromSeconds(5), "the supervisor to start the backend again");
        var restarted = clock.Elapsed;
        if (TimeSpan.FromSeconds(6) - restarted is { Ticks: > 0 } rest)
        {
            await Task.Delay(rest); // past the worker's session check interval (5 s)
        }
        for (int i = 0; i < 10; i++)
        {
            int status = await SupervisedStack.InferStatusAsync(worker0);
            Assert.True(status == 200, $"a direct call to worker-0 while the backend is down answered {status}");
        }

        using var gateway = stack.Client(stack.Api);
        await UntilAsync(async () => await SupervisedStack.InferAsync(gateway), TimeSpan.FromSeconds(60), "the gateway to answer again");
        var back = clock.Elapsed;

        var after = stack.Services()["backend"];
        Assert.NotEqual(before.Pid, after.Pid);
        Assert.Equal(before.Restarts + 1, after.Restarts);
        Assert.Contains("[backend]  exited with code 137", stack.Output, StringComparison.Ordinal);

        // Longer than the heartbeat timeout: the restarted backend must not take the outage for dead workers.
        await Task.Delay(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 20; i++)
        {
            Assert.True(await SupervisedStack.InferAsync(gateway), $"request {i} after the restart failed:\n{stack.Output}");
        }

        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(5));
        Assert.Equal(loads, stack.LoadsSoFar()); // no worker loaded anything again
        // 15 s, or the backend's own cold start in this run plus 5 s where the machine is so busy that it starts slower.
        var limit = TimeSpan.FromSeconds(Math.Max(15, stack.BackendColdStartSeconds() + 5));
        Assert.True(back < limit, $"back after {back} (started again after {restarted}; limit {limit}; its first start took {stack.BackendColdStartSeconds()} s)");
    }

    [Fact]
    public async Task A_SIGKILLed_worker_is_restarted_and_a_two_replica_model_fails_no_request()
    {
        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(90));
        var before = stack.Services()["worker-0"];
        using var gateway = stack.Client(stack.Api);
        int sent = 0, failed = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var done = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                sent++;
                int status = await SupervisedStack.InferStatusAsync(gateway);
                if (status != 200)
                {
                    failed++;
                    failures.Enqueue(status);
                }
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(1));
        Kill(before.Pid);
        await UntilAsync(() => Task.FromResult(stack.Services()["worker-0"] is { State: "running" } w && w.Pid != before.Pid), TimeSpan.FromSeconds(20), "worker-0 to be restarted");
        await Task.Delay(TimeSpan.FromSeconds(8)); // past the heartbeat timeout: the backend sees the old replica gone
        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(90));
        await done.CancelAsync();
        await load;

        Assert.True(sent > 10, $"only {sent} requests were sent");
        // None: the request the killed worker was running lost its connection and was resent once to the other replica
        // (ReplicaCallPolicy; its input had stopped one worker only, so the poison guard allowed it), a request to the
        // dead worker's port could not connect and was retried there too, and every later call goes to the other replica.
        Assert.True(failed == 0, $"{failed} of {sent} requests failed (HTTP {string.Join(", ", failures)}):\n{stack.Output}");
        Assert.Equal(before.Restarts + 1, stack.Services()["worker-0"].Restarts);
    }

    [Fact]
    public async Task A_PostgreSQL_stopped_under_load_is_restarted_no_inference_fails_and_every_answer_is_audited()
    {
        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(90));
        var before = stack.Services()["pg"];
        using var worker0 = stack.Client(stack.WorkerUrl(0));
        using var worker1 = stack.Client(stack.WorkerUrl(1));
        string run = Guid.NewGuid().ToString("N")[..8];
        int answered = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        var load = Task.Run(async () =>
        {
            for (int n = 0; clock.Elapsed < TimeSpan.FromSeconds(20); n++)
            {
                if (await SupervisedStack.InferAsync(n % 2 == 0 ? worker0 : worker1, $"pg-{run}-{n}"))
                {
                    answered++;
                }
                else
                {
                    failed++;
                }
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(2));
        await PgCtlStopImmediateAsync();
        await load;
        Assert.True(failed == 0, $"{failed} inference calls to the workers failed while PostgreSQL was away:\n{stack.Output}");
        Assert.True(answered > 20, $"only {answered} answered");

        var after = stack.Services()["pg"];
        Assert.True(after.Restarts > before.Restarts, $"PostgreSQL was not restarted:\n{stack.Output}");
        long stored = 0;
        await UntilAsync(async () =>
        {
            stored = await CountAsync($"pg-{run}-%");
            return stored >= answered;
        }, TimeSpan.FromSeconds(60), $"{answered} audit records");
        Assert.Equal(answered, await CountAsync($"pg-{run}-%"));

        // The reconciler and Hangfire's orders work again: scale down (an unload order) and back up (a load order).
        using var api = stack.Client(stack.Api);
        (await api.PutAsJsonAsync($"/api/models/{SupervisedStack.Model}/versions/1/replicas", new ScaleRequest(1))).EnsureSuccessStatusCode();
        await UntilAsync(async () =>
        {
            var version = await api.GetFromJsonAsync<ModelVersionDto>($"/api/models/{SupervisedStack.Model}/versions/1");
            return version!.ReplicaStates.Count == 1;
        }, TimeSpan.FromSeconds(60), "the scale-down to 1 replica");
        (await api.PutAsJsonAsync($"/api/models/{SupervisedStack.Model}/versions/1/replicas", new ScaleRequest(2))).EnsureSuccessStatusCode();
        await stack.WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(60));
    }

    /// <summary>Eventually, with the supervisor's output as it is when time runs out.</summary>
    private async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        try
        {
            await Eventually.TrueAsync(condition, timeout, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n./mds up:\n{stack.Output}", e);
        }
    }

    private static void Kill(int pid)
    {
        Assert.True(pid > 0);
        using var kill = Process.Start("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private async Task PgCtlStopImmediateAsync()
    {
        string bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).Order().Last();
        string data = Path.GetFullPath(Path.Combine(stack.StateDirectory, "pg"));
        var start = Environment.UserName == "root"
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", Path.Combine(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"])
            : new ProcessStartInfo(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var pgCtl = Process.Start(start)!;
        string output = await pgCtl.StandardOutput.ReadToEndAsync() + await pgCtl.StandardError.ReadToEndAsync();
        await pgCtl.WaitForExitAsync();
        Assert.True(pgCtl.ExitCode == 0, output);
    }

    private async Task<long> CountAsync(string pattern)
    {
        try
        {
            await using var connection = new NpgsqlConnection(stack.DatabaseConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", connection);
            command.Parameters.AddWithValue("p", pattern);
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (NpgsqlException)
        {
            return -1; // not back yet
        }
    }
}
