namespace Mds.Backend.Gateway;

// The one home of "which replica, and what next" for every way the backend calls a replica (REST forwarding, gRPC,
// in-process calls for batches, explanations and pipelines). Each transport keeps only its own send and reports what
// one send came to; this class picks, counts, suspends, catches up, retries and words the final 503.
//
// The three copies this replaces differed; each difference was settled for the more careful behaviour:
// - Catch-up: REST and gRPC caught up the routing table only after a "not loaded here" answer (and only on the first
//   try); the batch caller caught up before every retry whatever went wrong. Now: after every "not loaded" answer, and
//   only then (a connection failure or a 503 says nothing about the table).
// - Suspension: REST suspended a worker after ForwarderError.Request/RequestTimedOut only, gRPC only when the
//   Unavailable carried an HttpRequestException, the batch caller after any HttpRequestException. Now: every send that
//   is classed as a connection failure suspends the worker (each transport says which of its errors are one).
// - Other 5xx: the batch caller retried a 500 on another replica; REST and gRPC passed it through. Now: any answer that
//   is not "not loaded" or a held-back 503 is the answer (a model that fails on a request fails on every replica).
// - No replica left after a failure: REST said "has no ready replica left to try" even when a replica had just
//   failed; gRPC and the batch caller named the last failure. Now: the last failure is named; "no ready replica left to
//   try" only when nothing was tried.
// - Wording of a 503: REST "answered 503", gRPC "is unavailable (detail)", batch "answered 503: detail". Now one
//   sentence, "answered 503", with the worker's detail in parentheses when the transport has it.
// - Replicas tried: each copy excluded only the replica of the previous try. Now every replica already tried is passed
//   over while another is left; one that said "not loaded" is never tried again.
// - Cancellation: a send that failed because the caller's token was cancelled is not a 503: the policy throws
//   OperationCanceledException (REST reports an aborted request as answered: nothing more can be sent to that caller).
// - Extra attempts (pipelines' per-step retries): beyond the usual two attempts, only after a connection failure or a
//   503; they may go back to a replica already tried (after a short pause) when no other is left.
// - A request whose connection died after it went out (the worker's process died while running it: closed or reset)
//   is sent once more, to another replica, never to the same one and never a third time: as Envoy's retry-on-reset,
//   so a 2-replica model loses no request when a worker is killed. The request may be what kills workers, so the
//   resend is guarded per input (<see cref="PoisonGuard"/>: SHA-256 of model, version and request bytes, kept in
//   memory for Mds:Gateway:PoisonWindow): an input that stops a second worker within the window is not sent again
//   (502), and one that has stopped two is refused without any send for the rest of the window (502). The bytes are
//   read only after a loss (or while some input is refused), never on a request that answers. A send that timed out
//   waiting for the answer is not resent (the request is slow, not lost; resending it doubles the load): 502. A lost
//   connection or a timeout suspends the worker. <see cref="IsConnectFailure"/> is the one classification the
//   transports use (nothing sent: retried like a 503; else lost, or timed out where the transport knows it).
public sealed class ReplicaCallPolicy
{
    /// <summary>Attempts for every call: the first and one retry on another replica.</summary>
    public const int DefaultAttempts = 2;

    /// <summary>The most extra attempts a caller may ask for.</summary>
    public const int MaxExtraAttempts = 5;

    /// <summary>How long a worker that could not be reached is passed over (until heartbeats tell the truth).</summary>
    public static readonly TimeSpan Suspension = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan DefaultRetryPause = TimeSpan.FromMilliseconds(100);

    private readonly Func<string, int, RouteLookup, CancellationToken, ValueTask<RouteLookup>> _catchUp;
    private readonly TimeSpan _retryPause;
    private readonly GatewayLoad? _load;
    private readonly PoisonGuard _guard;
    private readonly ILogger? _log;

    public ReplicaCallPolicy(RoutingTable routing, GatewayLoad load, PoisonGuard guard, ILogger<ReplicaCallPolicy> log)
        : this((routing ?? throw new ArgumentNullException(nameof(routing))).CatchUpAsync, DefaultRetryPause, load, guard, log)
    {
    }

    /// <summary>With the routing table's catch-up given as a function (tests) and the pause before going back to a tried replica.</summary>
    internal ReplicaCallPolicy(Func<string, int, RouteLookup, CancellationToken, ValueTask<RouteLookup>> catchUp, TimeSpan retryPause, GatewayLoad? load = null,
        PoisonGuard? guard = null, ILogger? log = null)
    {
        _catchUp = catchUp;
        _retryPause = retryPause;
        _load = load;
        _guard = guard ?? new PoisonGuard(TimeSpan.FromMinutes(10), PoisonGuard.DefaultCapacity, TimeProvider.System);
        _log = log;
    }

    /// <summary>
    /// Calls a Ready replica of <paramref name="route"/>'s version with <paramref name="send"/> until one answers or
    /// the attempts run out: <see cref="DefaultAttempts"/>, plus <paramref name="extraAttempts"/> that follow only a
    /// connection failure or a 503. Never retries an answer (a 2xx, a 4xx other than "not loaded", a 5xx passed through).
    /// </summary>
    /// <param name="route">A route whose status is <see cref="RouteStatus.Found"/>.</param>
    /// <param name="name">The model's name as the caller gave it, for the messages.</param>
    /// <param name="send">One transport's send to one replica; it reports the outcome and throws only for what no retry can help.</param>
    /// <param name="extraAttempts">0 to <see cref="MaxExtraAttempts"/>.</param>
    /// <param name="grpc">Only replicas on workers that serve gRPC.</param>
    /// <param name="input">
    /// The request's bytes for the poison guard, read only after a lost connection (or while some input is refused);
    /// without them a lost connection is not resent.
    /// </param>
    /// <param name="ct">The caller's token; when it is cancelled after a failed send, <see cref="OperationCanceledException"/>.</param>
    public Task<ReplicaCallResult<TResult>> RunAsync<TResult>(
        RouteLookup route, string name, Func<ReplicaAttempt, CancellationToken, ValueTask<SendOutcome<TResult>>> send,
        int extraAttempts = 0, bool grpc = false, RequestInput input = default, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(send);
        return RunAsync(route, name, send, static (send, attempt, ct) => send(attempt, ct), extraAttempts, grpc, input, ct);
    }

    /// <summary>
    /// As <see cref="RunAsync{TResult}(RouteLookup, string, Func{ReplicaAttempt, CancellationToken, ValueTask{SendOutcome{TResult}}}, int, bool, RequestInput, CancellationToken)"/>,
    /// with the send's <paramref name="state"/> passed to it, so a hot path's send can be a static lambda (no closure and
    /// delegate per call).
    /// </summary>
    public async Task<ReplicaCallResult<TResult>> RunAsync<TState, TResult>(
        RouteLookup route, string name, TState state, Func<TState, ReplicaAttempt, CancellationToken, ValueTask<SendOutcome<TResult>>> send,
        int extraAttempts = 0, bool grpc = false, RequestInput input = default, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(send);
        ArgumentOutOfRangeException.ThrowIfNegative(extraAttempts);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(extraAttempts, MaxExtraAttempts);
        if (route.Status != RouteStatus.Found || route.Model is null || route.Version is null)
        {
            throw new ArgumentException("the route must have found a version", nameof(route));
        }

        // Outstanding for the autoscaler from here until the answer (retries included); one async method, not two (the
        // bookkeeping used to wrap a second one: a state machine more per request).
        var load = _load?.For(route.Model.Name, route.Version.Version);
        long started = load?.Begin() ?? 0;
        bool answered = false;
        try
        {
            int attempts = DefaultAttempts + extraAttempts;
            bool mayRepeat = extraAttempts > 0;
            int version = route.Version!.Version;
            string model = route.Model!.Name;
            List<ReplicaEndpoint>? tried = null; // made on the first failure: an answered call needs neither list
            List<ReplicaEndpoint>? notLoaded = null;
            string? failure = null;
            PoisonKey? key = null;
            bool lost = false; // a connection was lost in this call: one more send at most, to another replica

            // An input that has stopped two workers is not sent anywhere (hashed first only while some input is refused).
            if (_guard.AnyRefused && input.HasValue && await PoisonGuard.KeyAsync(model, version, input, ct) is { } known)
            {
                key = known;
                if (_guard.IsRefused(known))
                {
                    return new ReplicaCallResult<TResult>(default, null, version,
                        $"model '{name}': this request's input stopped a worker twice within {Window(_guard.Window)} (the connection was lost while "
                        + "a worker ran it, each time); it is refused without being sent until that long after the first",
                        StatusCodes.Status502BadGateway);
                }
            }

            for (int attempt = 0; attempt < attempts; attempt++)
            {
                var replica = Pick(route, tried, notLoaded, mayRepeat, grpc);
                if (replica is null)
                {
                    break;
                }

                if (tried?.Contains(replica) == true && _retryPause > TimeSpan.Zero)
                {
                    await Task.Delay(_retryPause * attempt, ct); // back to a replica that just failed: give it a moment
                }

                // Last when no further attempt could follow a 503 from this one (the transport then passes a 503 through).
                bool lastTry = attempt + 1 >= attempts || !CanRetryAfter(route, replica, tried, notLoaded, mayRepeat, grpc);
                SendOutcome<TResult> outcome;
                replica.Outstanding.Increment();
                try
                {
                    outcome = await send(state, new ReplicaAttempt(replica, attempt, lastTry), ct);
                }
                finally
                {
                    replica.Outstanding.Decrement();
                }

                if (outcome.Kind == SendOutcomeKind.Answered)
                {
                    answered = true;
                    return new ReplicaCallResult<TResult>(outcome.Value, replica, version, null);
                }

                ct.ThrowIfCancellationRequested(); // a send cut short by the caller is not the replica's failure
                tried ??= new List<ReplicaEndpoint>(2);
                if (!tried.Contains(replica))
                {
                    tried.Add(replica);
                }

                failure = Failure(name, replica, outcome);
                switch (outcome.Kind)
                {
                    case SendOutcomeKind.ConnectionFailed:
                        replica.Outstanding.Suspend(Suspension);
                        break;
                    case SendOutcomeKind.TimedOut:
                        replica.Outstanding.Suspend(Suspension);
                        return Lost(failure + "; the request was not sent again, as it is slow rather than lost");
                    case SendOutcomeKind.ConnectionLost:
                        replica.Outstanding.Suspend(Suspension);
                        if (lost)
                        {
                            // Never a third send. The guard counts this worker too (it may be the input's second).
                            bool twice = key is { } again2 && _guard.RecordLoss(again2, replica.WorkerId, replica.WorkerName) is PoisonVerdict.SecondWorker or PoisonVerdict.Refused;
                            return Lost(failure + (twice
                                ? $"; it had already lost a connection on another replica: {StoppedTwo()}"
                                : "; it had already lost a connection on another replica and is not sent a third time"));
                        }

                        if (!input.HasValue)
                        {
                            return Lost(failure + "; the request was not sent again (its bytes were not kept)");
                        }

                        key ??= await PoisonGuard.KeyAsync(model, version, input, ct);
                        if (key is not { } k)
                        {
                            return Lost(failure + "; the request was not sent again, as its body could not be read back (larger than the gateway keeps for a resend, or the caller's upload broke off)");
                        }

                        var verdict = _guard.RecordLoss(k, replica.WorkerId, replica.WorkerName);
                        if (verdict is PoisonVerdict.SecondWorker or PoisonVerdict.Refused)
                        {
                            return Lost(failure + "; " + StoppedTwo());
                        }

                        // The one resend, to another replica (a replica already tried, this one included, is never picked).
                        lost = true;
                        mayRepeat = false;
                        attempts = attempt + 2;
                        if (Pick(route, tried, notLoaded, mayRepeat, grpc) is null)
                        {
                            return Lost(failure + "; there is no other replica to send it to, so it was not sent again");
                        }

                        _log?.LogInformation("Gateway: {Failure}; sending it once more, to another replica", failure);
                        break;
                    case SendOutcomeKind.NotLoaded:
                        (notLoaded ??= new List<ReplicaEndpoint>(1)).Add(replica);
                        // The table was a moment behind an unload: catch up, and retry on what is Ready now (same version).
                        var again = await _catchUp(model, version, route, ct);
                        if (again.Status == RouteStatus.Found)
                        {
                            route = again;
                        }

                        if (attempt + 1 >= DefaultAttempts)
                        {
                            return Failed(failure); // extra attempts are for connection failures and 503s only
                        }

                        break;
                }
            }

            return Failed(failure ?? (grpc
                ? $"model '{name}' version {version} has no ready replica that serves gRPC"
                : $"model '{name}' has no ready replica left to try"));

            ReplicaCallResult<TResult> Failed(string message) => new(default, null, version, message);

            ReplicaCallResult<TResult> Lost(string message) => new(default, null, version, message, StatusCodes.Status502BadGateway);

            string StoppedTwo() => $"this request's input has now stopped a worker twice within {Window(_guard.Window)}, so it was not sent again";
        }
        finally
        {
            load?.End(started, answered);
        }
    }

    /// <summary>A window as a sentence says it: "10 min", "90 s", "2 h".</summary>
    private static string Window(TimeSpan window) =>
        window.TotalHours >= 1 && window.TotalHours % 1 == 0 ? $"{window.TotalHours:0} h"
        : window.TotalMinutes >= 1 && window.TotalMinutes % 1 == 0 ? $"{window.TotalMinutes:0} min"
        : $"{window.TotalSeconds:0} s";

    /// <summary>The sentence for a send that did not answer.</summary>
    private static string Failure<TResult>(string name, ReplicaEndpoint replica, SendOutcome<TResult> outcome)
    {
        string detail = outcome.Detail is { Length: > 0 } d ? $" ({d})" : "";
        string why = outcome.Kind switch
        {
            SendOutcomeKind.NotLoaded => "no longer has it loaded (it is being moved; try again)",
            SendOutcomeKind.Unavailable => "answered 503" + detail,
            SendOutcomeKind.ConnectionLost => $"lost the connection after the request was sent ({outcome.Detail ?? "no answer"})",
            SendOutcomeKind.TimedOut => $"gave no answer in time after the request was sent ({outcome.Detail ?? "timed out"})",
            _ => $"could not be reached ({outcome.Detail ?? "no answer"})",
        };
        return $"model '{name}': replica on worker '{replica.WorkerName}' {why}";
    }

    /// <summary>
    /// An untried replica (power of two choices among them); else, when extra attempts were asked for, any replica
    /// already tried that did not say "not loaded".
    /// </summary>
    private static ReplicaEndpoint? Pick(RouteLookup route, List<ReplicaEndpoint>? tried, List<ReplicaEndpoint>? notLoaded, bool mayRepeat, bool grpc)
    {
        if (route.PickReplica(tried, notLoaded, null, grpc) is { } fresh)
        {
            return fresh;
        }

        return mayRepeat ? route.PickReplica(notLoaded, null, null, grpc) : null;
    }

    /// <summary>
    /// Whether a transport's failure happened before any of the request was sent: the connection could not be made
    /// (refused, no route, name not resolved, TLS handshake). Anything else (the connection closed or reset after the
    /// request went out, a timeout waiting for the answer, a protocol error) may have reached the worker.
    /// </summary>
    public static bool IsConnectFailure(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                case System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostUnreachable
                    or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.AddressNotAvailable }:
                    return true;
                case HttpRequestException { HttpRequestError: not HttpRequestError.Unknown }:
                    return false; // classified by HttpClient as something after the connection was made
            }
        }

        return false;
    }

    private static bool CanRetryAfter(RouteLookup route, ReplicaEndpoint replica, List<ReplicaEndpoint>? tried, List<ReplicaEndpoint>? notLoaded, bool mayRepeat, bool grpc) =>
        mayRepeat || route.PickReplica(tried, notLoaded, replica, grpc) is not null;
}

/// <summary>What one send to one replica came to, as the transport saw it.</summary>
public enum SendOutcomeKind
{
    /// <summary>The replica answered (any status the caller should get); no retry.</summary>
    Answered,

    /// <summary>The worker no longer has the version loaded (REST 404 with <c>Mds-Not-Loaded</c>, gRPC NotFound).</summary>
    NotLoaded,

    /// <summary>The worker answered 503 (REST) or Unavailable (gRPC) itself.</summary>
    Unavailable,

    /// <summary>The worker could not be reached: nothing was sent (connection refused, no route); retried elsewhere.</summary>
    ConnectionFailed,

    /// <summary>
    /// The connection closed or was reset after the request was sent (the worker's process died while running it):
    /// sent once more, to another replica, unless the poison guard says this input has stopped two workers; a second
    /// loss ends the call with a 502.
    /// </summary>
    ConnectionLost,

    /// <summary>
    /// No answer came in time after the request was sent: not resent (the request is slow, not lost); the call ends with a 502.
    /// </summary>
    TimedOut,
}

/// <summary>One send's outcome and, when answered, its value.</summary>
public readonly record struct SendOutcome<TResult>(SendOutcomeKind Kind, TResult? Value, string? Detail)
{
    public static SendOutcome<TResult> Answered(TResult value) => new(SendOutcomeKind.Answered, value, null);

    public static SendOutcome<TResult> NotLoaded(string? detail = null) => new(SendOutcomeKind.NotLoaded, default, detail);

    public static SendOutcome<TResult> Unavailable(string? detail = null) => new(SendOutcomeKind.Unavailable, default, detail);

    public static SendOutcome<TResult> ConnectionFailed(string detail) => new(SendOutcomeKind.ConnectionFailed, default, detail);

    public static SendOutcome<TResult> ConnectionLost(string detail) => new(SendOutcomeKind.ConnectionLost, default, detail);

    public static SendOutcome<TResult> TimedOut(string detail) => new(SendOutcomeKind.TimedOut, default, detail);

    /// <summary>
    /// A transport's exception as <see cref="ConnectionFailed"/> (<see cref="ReplicaCallPolicy.IsConnectFailure"/>),
    /// <see cref="TimedOut"/> (the transport says so with <paramref name="timedOut"/>, or a <see cref="TimeoutException"/>
    /// is in the chain) or <see cref="ConnectionLost"/>.
    /// </summary>
    public static SendOutcome<TResult> FromError(Exception? error, string detail, bool timedOut = false) =>
        ReplicaCallPolicy.IsConnectFailure(error) ? ConnectionFailed(detail)
        : timedOut || HasTimeout(error) ? TimedOut(detail)
        : ConnectionLost(detail);

    private static bool HasTimeout(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>One try: the replica, which try it is (0 first), and whether a 503 from it is final (pass it through).</summary>
public readonly record struct ReplicaAttempt(ReplicaEndpoint Replica, int Number, bool LastTry);

/// <summary>
/// A call's end: the answer and the replica that gave it, or <see cref="Failure"/>, the sentence for the error the
/// transport answers with <see cref="FailureStatus"/> (503, or 502 when the connection was lost or timed out after sending,
/// or the poison guard refused the input).
/// <see cref="Version"/> is the version routed to.
/// </summary>
public readonly record struct ReplicaCallResult<TResult>(TResult? Value, ReplicaEndpoint? Replica, int Version, string? Failure, int FailureStatus = StatusCodes.Status503ServiceUnavailable)
{
    public bool Answered => Failure is null;
}
