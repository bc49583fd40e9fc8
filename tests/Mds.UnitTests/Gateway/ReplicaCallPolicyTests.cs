using Mds.Backend.Gateway;

namespace Mds.UnitTests.Gateway;

/// <summary>The replica-call policy's decisions, with a fake send that answers as told and a hand-made routing table.</summary>
public sealed class ReplicaCallPolicyTests
{
    private readonly List<(string Model, int Version, RouteLookup Stale)> _catchUps = [];
    private readonly PoisonGuard _guard = new(TimeSpan.FromMinutes(10), PoisonGuard.DefaultCapacity, new PoisonGuardTests.ManualClock());
    private RouteLookup? _caughtUp;

    [Fact]
    public async Task An_answer_is_returned_with_the_replica_that_gave_it_and_never_retried()
    {
        var route = Route(Replica(1), Replica(2));
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(route, "m", Send(sends, Answered(400)), extraAttempts: 5);

        Assert.True(result.Answered);
        Assert.Equal(400, result.Value);
        Assert.Equal(sends[0].Replica, result.Replica);
        Assert.Equal(7, result.Version);
        Assert.Single(sends);
    }

    [Fact]
    public async Task A_503_is_retried_once_on_another_replica()
    {
        var route = Route(Replica(1), Replica(2));
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(route, "m", Send(sends, Unavailable(), Answered(200)));

        Assert.True(result.Answered);
        Assert.Equal(2, sends.Count);
        Assert.NotEqual(sends[0].Replica, sends[1].Replica);
        Assert.Equal([false, true], sends.Select(s => s.LastTry));
        Assert.Equal([0, 1], sends.Select(s => s.Number));
    }

    [Fact]
    public async Task With_one_replica_the_first_try_is_the_last_so_a_503_passes_through()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1)), "m", Send(sends, Unavailable("queue full")));

        Assert.True(Assert.Single(sends).LastTry);
        Assert.Equal("model 'm': replica on worker 'w1' answered 503 (queue full)", result.Failure);
    }

    [Fact]
    public async Task A_connection_failure_suspends_the_worker_and_retries_on_another()
    {
        var (a, b) = (Replica(1), Replica(2));
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(a, b), "m", Send(sends, Failed("refused"), Answered(200)));

        Assert.True(result.Answered);
        Assert.True(sends[0].Replica.Outstanding.IsSuspended);
        Assert.False(sends[1].Replica.Outstanding.IsSuspended);
        Assert.Equal(sends[1].Replica, result.Replica);
        Assert.Empty(_catchUps);
    }

    [Fact]
    public async Task Not_loaded_catches_up_the_table_and_retries_on_what_is_ready_now()
    {
        var stale = Route(Replica(1));
        _caughtUp = Route(Replica(2));
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(stale, "m", Send(sends, NotLoaded(), Answered(200)));

        Assert.True(result.Answered);
        var catchUp = Assert.Single(_catchUps);
        Assert.Equal(("m", 7), (catchUp.Model, catchUp.Version));
        Assert.Same(stale, catchUp.Stale);
        Assert.Equal(["w1", "w2"], sends.Select(s => s.Replica.WorkerName));
        Assert.False(sends[0].Replica.Outstanding.IsSuspended); // the worker is fine, the table was behind
    }

    [Fact]
    public async Task A_replica_that_said_not_loaded_is_not_tried_again_when_the_table_still_lists_it()
    {
        var route = Route(Replica(1));
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(route, "m", Send(sends, NotLoaded()), extraAttempts: 3);

        Assert.Single(sends);
        Assert.Equal("model 'm': replica on worker 'w1' no longer has it loaded (it is being moved; try again)", result.Failure);
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 3)]
    [InlineData(3, 5)]
    public async Task Extra_attempts_follow_503s_and_connection_failures(int extra, int expectedSends)
    {
        var sends = new List<ReplicaAttempt>();
        var outcomes = Enumerable.Range(0, 10).Select(i => i % 2 == 0 ? Unavailable() : Failed("reset")).ToArray();

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send(sends, outcomes), extraAttempts: extra);

        Assert.False(result.Answered);
        Assert.Equal(expectedSends, sends.Count);
        Assert.True(sends[^1].LastTry);
        Assert.All(sends.SkipLast(1), s => Assert.False(s.LastTry));
    }

    [Fact]
    public async Task Extra_attempts_go_back_to_a_tried_replica_when_no_other_is_left()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1)), "m", Send(sends, Unavailable(), Failed("reset"), Answered(200)), extraAttempts: 2);

        Assert.True(result.Answered);
        Assert.Equal(3, sends.Count);
        Assert.All(sends, s => Assert.Equal("w1", s.Replica.WorkerName));
    }

    [Fact]
    public async Task Extra_attempts_do_not_follow_a_not_loaded_answer()
    {
        var sends = new List<ReplicaAttempt>();
        _caughtUp = Route(Replica(1), Replica(2), Replica(3));

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send(sends, NotLoaded(), NotLoaded(), Answered(200)), extraAttempts: 5);

        Assert.False(result.Answered);
        Assert.Equal(2, sends.Count);
        Assert.Equal(2, _catchUps.Count);
    }

    [Fact]
    public async Task Without_extra_attempts_a_tried_replica_is_not_tried_again()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1)), "m", Send(sends, Failed("refused"), Answered(200)));

        Assert.Single(sends);
        Assert.Equal("model 'm': replica on worker 'w1' could not be reached (refused)", result.Failure);
    }

    [Fact]
    public async Task The_final_message_names_the_last_failure()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send(sends, Failed("refused"), Unavailable()));

        Assert.Equal($"model 'm': replica on worker '{sends[1].Replica.WorkerName}' answered 503", result.Failure);
    }

    [Fact]
    public async Task With_no_replica_to_try_the_message_says_so()
    {
        var sends = new List<ReplicaAttempt>();

        var rest = await Policy().RunAsync(Route(), "m", Send(sends, Answered(200)));
        var grpc = await Policy().RunAsync(Route(Replica(1)), "m", Send(sends, Answered(200)), grpc: true);

        Assert.Empty(sends);
        Assert.Equal("model 'm' has no ready replica left to try", rest.Failure);
        Assert.Equal("model 'm' version 7 has no ready replica that serves gRPC", grpc.Failure);
    }

    [Fact]
    public async Task Grpc_calls_go_only_to_workers_that_serve_grpc()
    {
        var sends = new List<ReplicaAttempt>();

        await Policy().RunAsync(Route(Replica(1), Replica(2, grpc: true), Replica(3)), "m", Send(sends, Unavailable(), Answered(200)), grpc: true);

        Assert.Equal(["w2"], sends.Select(s => s.Replica.WorkerName));
    }

    [Fact]
    public async Task Outstanding_requests_are_counted_during_the_send_only()
    {
        var replica = Replica(1);
        int during = -1;

        await Policy().RunAsync<int>(Route(replica), "m", (attempt, _) =>
        {
            during = attempt.Replica.Outstanding.Value;
            return ValueTask.FromResult(SendOutcome<int>.Answered(200));
        });

        Assert.Equal((1, 0), (during, replica.Outstanding.Value));
    }

    [Fact]
    public async Task A_request_whose_worker_died_while_running_it_is_resent_once_to_another_replica_and_answered()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m",
            Send(sends, Lost(), Answered(200)), input: Input([1, 2, 3]));

        Assert.True(result.Answered);
        Assert.Equal(2, sends.Count);
        Assert.NotEqual(sends[0].Replica, sends[1].Replica);
        Assert.Equal(sends[1].Replica, result.Replica);
        Assert.True(sends[0].Replica.Outstanding.IsSuspended);
        Assert.True(sends[1].LastTry); // a 503 from the resend passes through: nothing follows it
        Assert.Equal(1, _guard.Count);
    }

    [Fact]
    public async Task A_lost_connection_is_resent_once_only_even_with_extra_attempts_and_replicas_left()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2), Replica(3)), "m",
            Send(sends, Lost(), Failed("refused"), Answered(200)), extraAttempts: 5, input: Input([1]));

        Assert.False(result.Answered);
        Assert.Equal(2, sends.Count);
        Assert.NotEqual(sends[0].Replica, sends[1].Replica);
        Assert.Equal($"model 'm': replica on worker '{sends[1].Replica.WorkerName}' could not be reached (refused)", result.Failure);
    }

    [Fact]
    public async Task A_request_that_timed_out_waiting_for_the_answer_is_not_resent()
    {
        var sends = new List<ReplicaAttempt>();
        int reads = 0;

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m",
            Send(sends, SendOutcome<int>.TimedOut("no answer within 100 s"), Answered(200)), extraAttempts: 5, input: Counting(() => reads++));

        Assert.Single(sends);
        Assert.Equal(502, result.FailureStatus);
        Assert.Equal($"model 'm': replica on worker '{sends[0].Replica.WorkerName}' gave no answer in time after the request was sent (no answer within 100 s); "
            + "the request was not sent again, as it is slow rather than lost", result.Failure);
        Assert.Equal(0, reads);
        Assert.Equal(0, _guard.Count);
    }

    [Fact]
    public async Task An_input_that_loses_its_connection_on_a_second_worker_gets_502_without_a_third_send()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1), Replica(2), Replica(3)), "m",
            Send(sends, Lost(), Lost(), Answered(200)), extraAttempts: 5, input: Input([1, 2, 3]));

        Assert.Equal(2, sends.Count);
        Assert.Equal(502, result.FailureStatus);
        Assert.EndsWith("this request's input has now stopped a worker twice within 10 min, so it was not sent again", result.Failure, StringComparison.Ordinal);
        Assert.True(_guard.AnyRefused);
    }

    [Fact]
    public async Task An_input_that_stopped_a_worker_in_an_earlier_call_is_not_resent_when_it_stops_another()
    {
        var first = new List<ReplicaAttempt>();
        var second = new List<ReplicaAttempt>();
        var policy = Policy();

        var answered = await policy.RunAsync(Route(Replica(1), Replica(2)), "m", Send(first, Lost(), Answered(200)), input: Input([9]));
        var refused = await policy.RunAsync(Route(Replica(3), Replica(4)), "m", Send(second, Lost(), Answered(200)), input: Input([9]));

        Assert.True(answered.Answered);
        Assert.Single(second);
        Assert.Equal(502, refused.FailureStatus);
        Assert.Contains("stopped a worker twice within 10 min, so it was not sent again", refused.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_known_poison_input_is_refused_without_any_send()
    {
        var policy = Policy();
        await policy.RunAsync(Route(Replica(1), Replica(2), Replica(3)), "m", Send([], Lost(), Lost()), extraAttempts: 1, input: Input([7]));
        var sends = new List<ReplicaAttempt>();

        var result = await policy.RunAsync(Route(Replica(1), Replica(2)), "m", Send(sends, Answered(200)), input: Input([7]));
        var other = await policy.RunAsync(Route(Replica(1), Replica(2)), "m", Send(sends, Answered(200)), input: Input([8]));

        Assert.Equal(502, result.FailureStatus);
        Assert.Equal("model 'm': this request's input stopped a worker twice within 10 min (the connection was lost while a worker ran it, each time); "
            + "it is refused without being sent until that long after the first", result.Failure);
        Assert.True(other.Answered); // another input goes through
        Assert.Single(sends);
    }

    [Fact]
    public async Task With_one_replica_a_lost_connection_ends_in_502_as_before()
    {
        var sends = new List<ReplicaAttempt>();

        var result = await Policy().RunAsync(Route(Replica(1)), "m", Send(sends, Lost(), Answered(200)), extraAttempts: 5, input: Input([1]));

        Assert.Single(sends);
        Assert.Equal(502, result.FailureStatus);
        Assert.Equal("model 'm': replica on worker 'w1' lost the connection after the request was sent (ResponseEnded); "
            + "there is no other replica to send it to, so it was not sent again", result.Failure);
    }

    [Fact]
    public async Task Without_the_request_bytes_a_lost_connection_is_not_resent()
    {
        var (first, second) = (new List<ReplicaAttempt>(), new List<ReplicaAttempt>());
        var notKept = new RequestInput(new object(), static (_, _, _) => ValueTask.FromResult(false));

        var withoutInput = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send(first, Lost(), Answered(200)));
        var bodyNotKept = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send(second, Lost(), Answered(200)), input: notKept);

        Assert.Equal((1, 1), (first.Count, second.Count));
        Assert.Equal((502, 502), (withoutInput.FailureStatus, bodyNotKept.FailureStatus));
        Assert.Contains("larger than the gateway keeps for a resend", bodyNotKept.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_request_bytes_are_not_read_when_the_request_answers_or_is_retried_for_a_refused_connection()
    {
        int reads = 0;

        var answered = await Policy().RunAsync(Route(Replica(1), Replica(2)), "m", Send([], Failed("refused"), Unavailable(), Answered(200)), extraAttempts: 1,
            input: Counting(() => reads++));

        Assert.True(answered.Answered);
        Assert.Equal(0, reads);
    }

    [Fact]
    public void Only_a_failure_to_connect_counts_as_never_sent()
    {
        Assert.True(ReplicaCallPolicy.IsConnectFailure(new HttpRequestException(HttpRequestError.ConnectionError, "refused")));
        Assert.True(ReplicaCallPolicy.IsConnectFailure(new InvalidOperationException("x",
            new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused))));
        Assert.False(ReplicaCallPolicy.IsConnectFailure(new HttpRequestException(HttpRequestError.ResponseEnded, "ended")));
        Assert.False(ReplicaCallPolicy.IsConnectFailure(new IOException("reset")));
        Assert.False(ReplicaCallPolicy.IsConnectFailure(null));
    }

    [Fact]
    public async Task A_failed_send_after_the_caller_cancelled_throws_instead_of_answering_503()
    {
        using var cts = new CancellationTokenSource();
        var sends = new List<ReplicaAttempt>();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Policy().RunAsync<int>(Route(Replica(1), Replica(2)), "m", (attempt, _) =>
        {
            sends.Add(attempt);
            cts.Cancel();
            return ValueTask.FromResult(SendOutcome<int>.ConnectionFailed("canceled"));
        }, ct: cts.Token));

        Assert.Single(sends);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(6)]
    public async Task Extra_attempts_outside_0_to_5_are_refused(int extra)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            Policy().RunAsync(Route(Replica(1)), "m", Send([], Answered(200)), extraAttempts: extra));
    }

    [Fact]
    public async Task A_send_given_state_gets_it_on_every_attempt()
    {
        var seen = new List<(string State, int Attempt)>();

        var result = await Policy().RunAsync<string, int>(Route(Replica(1), Replica(2)), "m", "the request", (state, attempt, _) =>
        {
            seen.Add((state, attempt.Number));
            return ValueTask.FromResult(attempt.Number == 0 ? Unavailable() : Answered(200));
        });

        Assert.True(result.Answered);
        Assert.Equal([("the request", 0), ("the request", 1)], seen);
    }

    private ReplicaCallPolicy Policy() => new((model, version, stale, _) =>
    {
        _catchUps.Add((model, version, stale));
        return ValueTask.FromResult(_caughtUp ?? stale);
    }, TimeSpan.Zero, guard: _guard);

    private static RequestInput Input(byte[] bytes) => RequestInput.Of(bytes);

    private static RequestInput Counting(Action read) => new(read, static (r, hash, _) =>
    {
        ((Action)r)();
        hash.AppendData([0]);
        return ValueTask.FromResult(true);
    });

    private static SendOutcome<int> Lost() => SendOutcome<int>.ConnectionLost("ResponseEnded");

    private static Func<ReplicaAttempt, CancellationToken, ValueTask<SendOutcome<int>>> Send(List<ReplicaAttempt> sends, params SendOutcome<int>[] outcomes) =>
        (attempt, _) =>
        {
            sends.Add(attempt);
            return ValueTask.FromResult(outcomes[Math.Min(sends.Count - 1, outcomes.Length - 1)]);
        };

    private static SendOutcome<int> Answered(int status) => SendOutcome<int>.Answered(status);

    private static SendOutcome<int> Unavailable(string? detail = null) => SendOutcome<int>.Unavailable(detail);

    private static SendOutcome<int> NotLoaded() => SendOutcome<int>.NotLoaded();

    private static SendOutcome<int> Failed(string detail) => SendOutcome<int>.ConnectionFailed(detail);

    private static ReplicaEndpoint Replica(int id, bool grpc = false) => RouteLookupTests.Replica(id, grpc);

    private static RouteLookup Route(params ReplicaEndpoint[] ready) => RouteLookupTests.Route(ready);
}
