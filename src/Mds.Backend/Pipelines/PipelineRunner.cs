using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mds.Backend.Gateway;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Runs a pipeline by name for any transport (REST, gRPC, batches): finds its live version, runs it with the
/// <see cref="PipelineExecutor"/> (steps call replicas in-process through <see cref="ReplicaCaller"/>, the gateway's one
/// replica-call policy: no extra HTTP hop to the backend itself), records the run, and counts it.
/// </summary>
public sealed class PipelineRunner
{
    /// <summary>The suffix that makes a model name mean a pipeline (<c>/v2/models/{name}.pipeline/infer</c>, gRPC model_name).</summary>
    public const string ModelSuffix = ".pipeline";

    /// <summary>
    /// Longest request id a caller may give a run (a longer one is replaced by a new id): with a step's name it must fit
    /// an inference record's 128 characters (see <see cref="PipelineValidator.MaxStepNameLength"/>).
    /// </summary>
    public const int MaxRequestIdLength = 64;

    private readonly PipelineTable _table;
    private readonly PipelineRunLog _log;
    private readonly TrafficStats _traffic;
    private readonly PipelineOptions _options;
    private readonly PipelineExecutor _executor;
    private readonly IServiceProvider _services;
    private readonly Counter<long> _runs;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _stepDuration;

    public PipelineRunner(PipelineTable table, PipelineRunLog log, TrafficStats traffic, IServiceProvider services, IOptions<PipelineOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _table = table;
        _log = log;
        _traffic = traffic;
        _options = options.Value;
        _services = services;
        _executor = new PipelineExecutor(new ReplicaStepInvoker(services, null));
        var meter = meters.Create("Mds");
        _runs = meter.CreateCounter<long>("pipeline_requests_total", description: "Pipeline runs by pipeline, version and status.");
        _duration = meter.CreateHistogram<double>("pipeline_duration_seconds", unit: "s", description: "Pipeline run duration in seconds.");
        _stepDuration = meter.CreateHistogram<double>("pipeline_step_duration_seconds", unit: "s", description: "Duration of each pipeline step's model call in seconds.");
    }

    /// <summary>The largest request body a pipeline takes, in bytes.</summary>
    public long MaxRequestBytes => (long)_options.MaxRequestBodyMb * 1024 * 1024;

    /// <summary>The pipeline name in <paramref name="modelName"/> when it ends in <c>.pipeline</c>, else null.</summary>
    public static string? PipelineNameOf(string modelName) =>
        modelName is { Length: > 9 } && modelName.EndsWith(ModelSuffix, StringComparison.Ordinal) ? modelName[..^ModelSuffix.Length] : null;

    /// <summary>The pipeline as the table has it (null: no such pipeline).</summary>
    public ValueTask<PipelineRoute?> FindAsync(string name, CancellationToken ct) => _table.FindAsync(name, ct);

    /// <summary>Runs <paramref name="name"/>'s live version. Never throws for anything a caller can send: the run's status says.</summary>
    public Task<PipelineRun> RunAsync(string name, InferenceRequest request, string requestId, string caller, CancellationToken ct) =>
        RunAsync(name, request, requestId, caller, experiment: null, ct);

    /// <summary>Runs <paramref name="name"/>'s live version for an experiment (see the other overload).</summary>
    /// <param name="name">The pipeline.</param>
    /// <param name="request">The caller's request.</param>
    /// <param name="requestId">The run's request id.</param>
    /// <param name="caller">Who called.</param>
    /// <param name="experiment">
    /// For a pipeline that is an experiment's candidate (or mirror): the <see cref="MdsHeaders.Experiment"/> value every
    /// step's call carries, so each step's inference record names the experiment and candidate; null for none.
    /// </param>
    /// <param name="ct">The caller went away.</param>
    public async Task<PipelineRun> RunAsync(string name, InferenceRequest request, string requestId, string caller, string? experiment, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        long started = Stopwatch.GetTimestamp();
        var route = await _table.FindAsync(name, ct);
        if (route?.Graph is null)
        {
            var refused = route is null
                ? Refusal(name, requestId, StatusCodes.Status404NotFound, $"pipeline '{name}' not found")
                : Refusal(name, requestId, StatusCodes.Status503ServiceUnavailable, $"pipeline '{name}' is not live: {route.Reason}");
            Count(name, null, refused.Status, Stopwatch.GetElapsedTime(started), known: route is not null);
            return refused;
        }

        var executor = experiment is null ? _executor : new PipelineExecutor(new ReplicaStepInvoker(_services, experiment));
        var run = await executor.RunAsync(route.Graph, route.LiveVersion!.Value, request, requestId, caller,
            route.Graph.Timeout ?? _options.DefaultTimeout, ct);
        Count(name, route.LiveVersion, run.Status, Stopwatch.GetElapsedTime(started), known: true);
        foreach (var step in run.Steps)
        {
            if (step.LatencyMs is double ms)
            {
                _stepDuration.Record(ms / 1000, new TagList { { "pipeline", name }, { "step", step.Step.Name }, { "state", step.State } });
            }
        }

        _log.Add(run, request, caller);
        return run;
    }

    private void Count(string name, int? version, int status, TimeSpan elapsed, bool known)
    {
        string versionText = version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "";
        if (!known)
        {
            name = "(unknown)"; // only pipelines that exist become label values (callers cannot create series at will)
        }

        _traffic.Record(name + ModelSuffix, version is null ? null : versionText, status, elapsed);

        var tags = new TagList { { "pipeline", name }, { "version", versionText }, { "status", GatewayMetrics.StatusOf(status) } };
        _runs.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }

    private static PipelineRun Refusal(string name, string requestId, int status, string error) =>
        new(name, 0, requestId, status, error, null, [], 0);

    /// <summary>Steps call a Ready replica of their model through the gateway's replica-call policy.</summary>
    private sealed class ReplicaStepInvoker(IServiceProvider services, string? experiment) : IStepInvoker
    {
        public async Task<StepAnswer> InvokeAsync(PipelineStep step, InferenceRequest request, string caller, CancellationToken ct)
        {
            var replicas = services.GetRequiredService<ReplicaCaller>();
            try
            {
                var answer = await replicas.InferAsync(step.Model, step.ModelVersion, request, new ReplicaCallOptions(caller, request.Id!, step.Retries, experiment), ct);
                return new StepAnswer(answer.Response, answer.Version);
            }
            catch (ModelNotFoundException e)
            {
                throw new StepCallException(StatusCodes.Status503ServiceUnavailable, e.Message);
            }
            catch (ReplicaUnavailableException e)
            {
                throw new StepCallException(StatusCodes.Status503ServiceUnavailable, e.Message, await VersionAsync(step, ct));
            }
            catch (InferenceRejectedException e)
            {
                throw new StepCallException(e.Status, e.Message, await VersionAsync(step, ct));
            }
        }

        private async Task<int?> VersionAsync(PipelineStep step, CancellationToken ct)
        {
            if (step.ModelVersion is int pinned)
            {
                return pinned;
            }

            var found = await services.GetRequiredService<RoutingTable>().ResolveAsync(step.Model, null, ct);
            return found.Version?.Version;
        }
    }
}
