using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>What a candidate answered.</summary>
/// <param name="Status">The HTTP status (200, or the failure's).</param>
/// <param name="Response">The answer; null on failure.</param>
/// <param name="Error">Why it failed.</param>
public sealed record ExperimentAnswer(int Status, InferenceResponse? Response, string? Error);

/// <summary>
/// Runs a request on an experiment's candidate for any transport (REST JSON or binary, gRPC): a model candidate through
/// the gateway's one replica-call policy (<see cref="ReplicaCaller"/>), a pipeline through the <see cref="PipelineRunner"/>;
/// records the call in the call log; copies it to the mirror when asked, after the caller has the answer.
/// Hot path: one route read, no database call, no lock.
/// </summary>
public sealed class ExperimentRunner : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly ExperimentCallLog _calls;
    private readonly TimeProvider _clock;
    private readonly ExperimentOptions _options;
    private readonly ILogger<ExperimentRunner> _log;
    private readonly Channel<MirrorCopy> _mirror;
    private readonly ConcurrentDictionary<string, MirrorCounts> _counts = new(StringComparer.Ordinal);
    private readonly Counter<long> _requests;
    private readonly Counter<long> _mirrorSent;
    private readonly Counter<long> _mirrorDropped;

    public ExperimentRunner(IServiceProvider services, ExperimentCallLog calls, TimeProvider clock, IOptions<ExperimentOptions> options, IMeterFactory meters, ILogger<ExperimentRunner> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _services = services;
        _calls = calls;
        _clock = clock;
        _options = options.Value;
        _log = log;
        // Wait, not DropWrite: with a Drop* mode TryWrite reports success for a copy it throws away, so drops went uncounted.
        // With Wait, TryWrite never waits: it answers false when the queue is full, and the copy is counted as dropped.
        _mirror = Channel.CreateBounded<MirrorCopy>(new BoundedChannelOptions(_options.MirrorQueue) { FullMode = BoundedChannelFullMode.Wait });
        var meter = meters.Create("Mds");
        _requests = meter.CreateCounter<long>("experiment_requests_total", description: "Experiment calls by experiment, candidate and status class (mirror copies included, mirror=true).");
        _mirrorSent = meter.CreateCounter<long>("experiment_mirror_sent_total", description: "Copies sent to an experiment's mirror.");
        _mirrorDropped = meter.CreateCounter<long>("experiment_mirror_dropped_total", description: "Copies for an experiment's mirror dropped because the mirror queue was full.");
    }

    /// <summary>Router used for mirror sampling (a test may replace it).</summary>
    public ExperimentRouter Router { get; init; } = ExperimentRouter.Shared;

    /// <summary>Mirror copies sent and dropped by this backend for <paramref name="experiment"/>.</summary>
    public (long Sent, long Dropped) MirrorCountsOf(string experiment) =>
        _counts.TryGetValue(experiment, out var c) ? (Interlocked.Read(ref c.Sent), Interlocked.Read(ref c.Dropped)) : (0, 0);

    /// <summary>Runs <paramref name="request"/> on candidate <paramref name="index"/> of <paramref name="route"/> and records the call.</summary>
    public async Task<ExperimentAnswer> RunAsync(ExperimentRoute route, int index, InferenceRequest request, string requestId, string caller, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(route);
        var candidate = route.Candidates[index];
        long started = Stopwatch.GetTimestamp();
        var answer = await InvokeAsync(route, candidate, false, request, requestId, caller, ct);
        Record(route, candidate, false, requestId, answer, Stopwatch.GetElapsedTime(started));
        return answer;
    }

    /// <summary>
    /// Copies the request to the mirror when the route has one and this request falls in its percent. Never blocks: a
    /// full queue drops the copy (counted).
    /// </summary>
    public void OfferMirror(ExperimentRoute route, InferenceRequest request, string requestId, string caller)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (route.Mirror is null || !Router.MirrorThis(route))
        {
            return;
        }

        Enqueue(new MirrorCopy(route, request, null, requestId, caller, Activity.Current?.Context ?? default));
    }

    /// <summary>Whether this request's copy goes to the mirror (the route has one and the request falls in its percent).</summary>
    internal bool MirrorThis(ExperimentRoute route) => route.Mirror is not null && Router.MirrorThis(route);

    /// <summary>Queues a copy of the caller's request bytes for the mirror (decided by <see cref="MirrorThis"/>). Never blocks.</summary>
    internal void QueueMirror(ExperimentRoute route, RawRequest request, string requestId, string caller) =>
        Enqueue(new MirrorCopy(route, null, request, requestId, caller, Activity.Current?.Context ?? default));

    /// <summary>Records a call the gateway forwarded itself: its status, latency and (read later from its bytes) prediction.</summary>
    internal void RecordForwarded(ExperimentRoute route, ExperimentCandidate candidate, string requestId, int status, TimeSpan elapsed, RawAnswer? answer) =>
        Record(route, candidate, false, requestId, new ExperimentAnswer(status, null, null), elapsed, answer);

    private void Enqueue(MirrorCopy copy)
    {
        var route = copy.Route;
        var counts = _counts.GetOrAdd(route.Name, _ => new MirrorCounts());
        if (_mirror.Writer.TryWrite(copy))
        {
            Interlocked.Increment(ref counts.Sent);
            _mirrorSent.Add(1, new KeyValuePair<string, object?>("experiment", route.Name));
        }
        else
        {
            Interlocked.Increment(ref counts.Dropped);
            _mirrorDropped.Add(1, new KeyValuePair<string, object?>("experiment", route.Name));
        }
    }

    /// <summary>Sends queued mirror copies, <see cref="ExperimentOptions.MirrorConcurrency"/> at a time.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.MirrorConcurrency).Select(_ => MirrorLoopAsync(stoppingToken)));

    private async Task MirrorLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var copy in _mirror.Reader.ReadAllAsync(ct))
            {
                long started = Stopwatch.GetTimestamp();
                using var trace = RequestTrace.Continue(copy.Trace, "Mds.ExperimentMirror"); // the copy's calls join the caller's trace
                ExperimentAnswer answer;
                RawAnswer? raw = null;
                try
                {
                    // The mirror's own inference record carries "<request id>.mirror"; the call log row the caller's id (paired with the main call).
                    var mirror = copy.Route.Mirror!;
                    if (copy.Raw is { } bytes && !mirror.IsPipeline)
                    {
                        // The caller's bytes as they came, to the mirror model: nothing decoded or encoded here.
                        (int status, raw, string? error) = await RawReplicaSend.SendAsync(
                            _services, mirror, bytes, copy.RequestId + ".mirror", copy.Caller, ExperimentTag.Value(copy.Route.Name, mirror.Key, mirror: true), ct);
                        answer = new ExperimentAnswer(status, null, error);
                    }
                    else
                    {
                        answer = await InvokeAsync(copy.Route, mirror, true, copy.Request ?? copy.Raw!.Decode(), copy.RequestId + ".mirror", copy.Caller, ct);
                    }
                }
                catch (InferenceProtocolException e)
                {
                    answer = new ExperimentAnswer(StatusCodes.Status400BadRequest, null, e.Message);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    _log.LogDebug(e, "Mirror copy for experiment {Experiment} failed", copy.Route.Name);
                    answer = new ExperimentAnswer(0, null, e.Message);
                }

                Record(copy.Route, copy.Route.Mirror!, true, copy.RequestId, answer, Stopwatch.GetElapsedTime(started), raw);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
    }

    /// <summary>
    /// Calls the candidate (or the mirror) with its <see cref="MdsHeaders.Experiment"/> tag, so the worker's inference
    /// record (each step's, for a pipeline) names the experiment and candidate.
    /// </summary>
    private async Task<ExperimentAnswer> InvokeAsync(ExperimentRoute route, ExperimentCandidate candidate, bool mirror, InferenceRequest request, string requestId, string caller, CancellationToken ct)
    {
        string tag = ExperimentTag.Value(route.Name, candidate.Key, mirror);
        if (candidate.IsPipeline)
        {
            var run = await _services.GetRequiredService<PipelineRunner>().RunAsync(candidate.Name, request, requestId, caller, tag, ct);
            return new ExperimentAnswer(run.Status, run.Response, run.Error);
        }

        try
        {
            var answer = await _services.GetRequiredService<ReplicaCaller>().InferAsync(candidate.Name, candidate.Version, request, new ReplicaCallOptions(caller, requestId, Experiment: tag), ct);
            return new ExperimentAnswer(StatusCodes.Status200OK, answer.Response, null);
        }
        catch (ModelNotFoundException e)
        {
            return new ExperimentAnswer(StatusCodes.Status503ServiceUnavailable, null, e.Message); // the experiment exists; its candidate went away
        }
        catch (ReplicaUnavailableException e)
        {
            return new ExperimentAnswer(StatusCodes.Status503ServiceUnavailable, null, e.Message);
        }
        catch (InferenceRejectedException e)
        {
            return new ExperimentAnswer(e.Status, null, e.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new ExperimentAnswer(StatusCodes.Status499ClientClosedRequest, null, "the caller went away");
        }
    }

    private void Record(ExperimentRoute route, ExperimentCandidate candidate, bool mirror, string requestId, ExperimentAnswer answer, TimeSpan elapsed, RawAnswer? raw = null)
    {
        var (predicted, score) = answer.Response is { } r ? Prediction(r) : (null, null);
        _calls.Add(new ExperimentCall
        {
            Experiment = route.Name,
            Candidate = candidate.Key,
            IsMirror = mirror,
            RequestId = requestId,
            Status = answer.Status,
            LatencyMs = elapsed.TotalMilliseconds,
            At = _clock.GetUtcNow(),
            Predicted = predicted,
            Score = score,
        }, raw);
        _requests.Add(1, new TagList { { "experiment", route.Name }, { "candidate", candidate.Key }, { "mirror", mirror ? "true" : "false" }, { "status", GatewayMetrics.StatusOf(answer.Status) } });
    }

    /// <summary>
    /// The predicted label (a BYTES or INT64 label output's first value, the classifier form), else the first output's
    /// first value, as text; and the first floating-point output's first value.
    /// </summary>
    public static (string? Predicted, double? Score) Prediction(InferenceResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        InferenceTensor? label = null;
        double? score = null;
        foreach (var output in response.Outputs)
        {
            if (output.Data.Length == 0)
            {
                continue;
            }

            label ??= output.Datatype is TensorDatatype.Bytes or TensorDatatype.Int64 && output.Shape.Length <= 2 && (output.Shape.Length < 2 || output.Shape[1] == 1) ? output : null;
            if (score is null)
            {
                score = output.Data switch
                {
                    float[] f => f[0],
                    double[] d => d[0],
                    _ => null,
                };
            }
        }

        var first = label ?? response.Outputs.FirstOrDefault(o => o.Data.Length > 0);
        string? predicted = first?.Data.GetValue(0) switch
        {
            null => null,
            string s => s.Length > 256 ? s[..256] : s,
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var o => o.ToString(),
        };
        return (predicted, score);
    }

    /// <summary>A copy for the mirror, with the trace of the request it copies (the copy is sent later, from the mirror loop).</summary>
    private sealed record MirrorCopy(ExperimentRoute Route, InferenceRequest? Request, RawRequest? Raw, string RequestId, string Caller, ActivityContext Trace);

    private sealed class MirrorCounts
    {
        public long Sent;
        public long Dropped;
    }
}
