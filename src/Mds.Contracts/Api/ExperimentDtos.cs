namespace Mds.Contracts.Api;

// Experiments (A/B splits, shadow traffic, progressive rollout): the API's shapes. A candidate is named by its key:
// the model or pipeline name, or "name@version" for one version of a model (two versions of one model are the usual
// A/B test). Answers carry "Mds-Route: <experiment>:<candidate key>".

/// <summary>The states an experiment is in.</summary>
public static class ExperimentStates
{
    /// <summary>Routing traffic: every candidate (and the mirror) has a Ready replica.</summary>
    public const string Active = "Active";

    /// <summary>Accepted, but a candidate or the mirror is not Ready; the reason says which. Calls are refused (503).</summary>
    public const string Pending = "Pending";

    /// <summary>Ended by <c>POST …/stop</c> or DELETE: routes no traffic; results stay readable.</summary>
    public const string Stopped = "Stopped";

    /// <summary>Ended by promoting a candidate (by hand or by a rollout reaching 100 %).</summary>
    public const string Promoted = "Promoted";

    /// <summary>Ended by a rollout whose guard failed: its candidate went back to 0 %.</summary>
    public const string RolledBack = "RolledBack";
}

/// <summary>One candidate of an experiment as submitted.</summary>
/// <param name="Name">A model or pipeline name.</param>
/// <param name="Version">A model version; null for the model's live version (or a pipeline).</param>
/// <param name="Weight">Its share of traffic, relative to the others' (positive).</param>
public sealed record ExperimentCandidateSpec(string Name, int? Version, double Weight);

/// <summary>The shadow target: a copy of <paramref name="Percent"/> % of requests goes to it after the answer is sent.</summary>
/// <param name="Name">A model or pipeline name.</param>
/// <param name="Version">A model version, or null.</param>
/// <param name="Percent">0 &lt; percent ≤ 100.</param>
public sealed record ExperimentMirrorSpec(string Name, int? Version, double Percent);

/// <summary>A progressive rollout of one candidate, moved up one step per interval while its guards hold.</summary>
/// <param name="Candidate">The candidate key rolled out.</param>
/// <param name="Steps">Its weight in percent at each step, increasing, ending at 100 (e.g. 5, 25, 50, 100).</param>
/// <param name="Interval">How long each step lasts, e.g. <c>10m</c>, <c>30s</c>, <c>1h</c>.</param>
/// <param name="MaxErrorRate">Roll back when the candidate's error rate over the interval exceeds this (0..1).</param>
/// <param name="MaxP95Ms">Roll back when its p95 latency over the interval exceeds this.</param>
/// <param name="MinRequests">Do not advance until the candidate answered this many requests in the interval.</param>
public sealed record ExperimentRolloutSpec(string Candidate, IReadOnlyList<double> Steps, string Interval, double? MaxErrorRate = null, double? MaxP95Ms = null, int? MinRequests = null);

/// <summary><c>POST /api/experiments</c> (YAML or JSON).</summary>
/// <param name="Name">The experiment's name (letters, digits, '.', '_', '-').</param>
/// <param name="ResourceType"><c>model</c> or <c>pipeline</c>.</param>
/// <param name="Candidates">Two or more candidates (one is allowed with a mirror).</param>
/// <param name="Default">A candidate key: the experiment then takes over calls to that resource's own endpoint.</param>
/// <param name="Mirror">The shadow target, if any.</param>
/// <param name="Rollout">A progressive rollout, if any.</param>
public sealed record ExperimentSpec(
    string Name,
    string ResourceType,
    IReadOnlyList<ExperimentCandidateSpec> Candidates,
    string? Default = null,
    ExperimentMirrorSpec? Mirror = null,
    ExperimentRolloutSpec? Rollout = null);

/// <summary>An experiment as <c>GET /api/experiments/{name}</c> returns it.</summary>
/// <param name="Name">Its name.</param>
/// <param name="ResourceType"><c>model</c> or <c>pipeline</c>.</param>
/// <param name="State">One of <see cref="ExperimentStates"/>.</param>
/// <param name="Reason">Why it is Pending, or why it ended.</param>
/// <param name="Endpoint">The path callers use: <c>/v2/models/{name}.experiment/infer</c>, or the default's own endpoint.</param>
/// <param name="Default">The default candidate's key, if any.</param>
/// <param name="Candidates">The candidates with their current weights.</param>
/// <param name="Mirror">The mirror, if any.</param>
/// <param name="Rollout">The rollout's progress, if any.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="CreatedBy">Who created it.</param>
/// <param name="EndedAt">When it ended, if it has.</param>
/// <param name="History">Every change (created, weights, rollout steps, promote, stop, roll back), oldest first.</param>
public sealed record ExperimentDto(
    string Name,
    string ResourceType,
    string State,
    string? Reason,
    string Endpoint,
    string? Default,
    IReadOnlyList<ExperimentCandidateDto> Candidates,
    ExperimentMirrorDto? Mirror,
    ExperimentRolloutDto? Rollout,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset? EndedAt,
    IReadOnlyList<ExperimentEventDto> History);

/// <summary>One candidate and its current weight.</summary>
/// <param name="Key">Its key: the name, or <c>name@version</c>.</param>
/// <param name="Name">The model or pipeline name.</param>
/// <param name="Version">The model version, or null.</param>
/// <param name="Weight">Its weight now.</param>
/// <param name="Percent">Its share of traffic now, 0..100.</param>
/// <param name="Ready">True when it has a Ready replica (a pipeline: when it is live).</param>
/// <param name="Reason">Why it is not ready, or null.</param>
public sealed record ExperimentCandidateDto(string Key, string Name, int? Version, double Weight, double Percent, bool Ready, string? Reason);

/// <summary>The mirror and what it was sent.</summary>
/// <param name="Key">Its key.</param>
/// <param name="Percent">The share of requests copied to it.</param>
/// <param name="Ready">True when it has a Ready replica.</param>
/// <param name="Sent">Copies sent since the experiment started (this backend's count).</param>
/// <param name="Dropped">Copies dropped because the mirror queue was full (this backend's count).</param>
public sealed record ExperimentMirrorDto(string Key, double Percent, bool Ready, long Sent, long Dropped);

/// <summary>A rollout's progress.</summary>
/// <param name="Candidate">The candidate rolled out.</param>
/// <param name="Steps">The steps, in percent.</param>
/// <param name="Step">The index of the current step (−1 before the first).</param>
/// <param name="Interval">The step length as given (e.g. <c>10m</c>).</param>
/// <param name="MaxErrorRate">The error-rate guard, if any.</param>
/// <param name="MaxP95Ms">The latency guard, if any.</param>
/// <param name="MinRequests">The minimum requests per step, if any.</param>
/// <param name="StepStartedAt">When the current step began.</param>
/// <param name="State">Running, Promoted or RolledBack.</param>
public sealed record ExperimentRolloutDto(
    string Candidate, IReadOnlyList<double> Steps, int Step, string Interval, double? MaxErrorRate, double? MaxP95Ms, int? MinRequests,
    DateTimeOffset? StepStartedAt, string State);

/// <summary>One change in an experiment's history.</summary>
/// <param name="At">When.</param>
/// <param name="Kind">created, weights, rollout-step, promoted, stopped, rolled-back.</param>
/// <param name="Message">What happened, in one sentence (for a roll back: which guard failed, with the figures).</param>
/// <param name="By">Who did it; null for the rollout job.</param>
public sealed record ExperimentEventDto(DateTimeOffset At, string Kind, string Message, string? By);

/// <summary><c>PUT /api/experiments/{name}/weights</c>: the new weight of each candidate (by key); applied atomically.</summary>
/// <param name="Weights">Candidate key → weight (positive; 0 allowed for all but one).</param>
public sealed record ExperimentWeightsRequest(IReadOnlyDictionary<string, double> Weights);

/// <summary><c>POST /api/experiments/{name}/promote</c>.</summary>
/// <param name="Candidate">The candidate key to promote.</param>
public sealed record ExperimentPromoteRequest(string Candidate);

/// <summary>An estimate with its 95 % confidence interval.</summary>
/// <param name="Value">The point estimate.</param>
/// <param name="Low">The interval's lower end.</param>
/// <param name="High">The interval's upper end.</param>
public sealed record EstimateDto(double Value, double Low, double High);

/// <summary>A candidate compared with the baseline (the default, or the first candidate) by one test.</summary>
/// <param name="Metric">accuracy, error-rate, absolute-error or latency.</param>
/// <param name="Test">two-proportion z-test, Welch's t-test or Mann-Whitney U.</param>
/// <param name="Difference">Candidate minus baseline (for latency: the difference of medians).</param>
/// <param name="Low">The difference's 95 % interval, lower end (NaN when the test gives none).</param>
/// <param name="High">The difference's 95 % interval, upper end.</param>
/// <param name="PValue">The two-sided p-value.</param>
/// <param name="SampleSizeNeeded">Per-group sample size to detect the observed difference at α = 0.05, power 0.8; null when it cannot be computed.</param>
/// <param name="Verdict">The result in words, e.g. "candidate B is more accurate: 93.1 % vs 89.4 %, p = 0.003".</param>
public sealed record ComparisonDto(string Metric, string Test, double Difference, double Low, double High, double PValue, long? SampleSizeNeeded, string Verdict);

/// <summary>One candidate's results.</summary>
/// <param name="Candidate">Its key.</param>
/// <param name="Requests">Requests routed to it.</param>
/// <param name="Errors">Of those, answered with an error.</param>
/// <param name="ErrorRate">Errors ÷ requests with a Wilson interval.</param>
/// <param name="P50Ms">Median latency.</param>
/// <param name="P95Ms">95th percentile latency.</param>
/// <param name="P99Ms">99th percentile latency.</param>
/// <param name="Feedback">Feedback records on its answers.</param>
/// <param name="Accuracy">Classifiers: share of feedback that agreed with the prediction (Wilson interval).</param>
/// <param name="Mae">Regressors: mean absolute error from feedback's true values (t interval).</param>
/// <param name="Rmse">Regressors: root mean squared error.</param>
/// <param name="Comparisons">Against the baseline (empty for the baseline itself).</param>
public sealed record CandidateResultsDto(
    string Candidate, long Requests, long Errors, EstimateDto? ErrorRate, double? P50Ms, double? P95Ms, double? P99Ms, long Feedback,
    EstimateDto? Accuracy, EstimateDto? Mae, EstimateDto? Rmse, IReadOnlyList<ComparisonDto> Comparisons);

/// <summary>How the mirror agreed with the default on the same requests (paired by request id).</summary>
/// <param name="Mirror">The mirror's key.</param>
/// <param name="Paired">Requests answered by both.</param>
/// <param name="LabelAgreement">Share with the same predicted label (classifiers).</param>
/// <param name="MeanAbsoluteScoreDifference">Mean absolute difference of the first numeric output's values.</param>
/// <param name="MirrorErrors">Mirror calls that failed.</param>
public sealed record MirrorAgreementDto(string Mirror, long Paired, double? LabelAgreement, double? MeanAbsoluteScoreDifference, long MirrorErrors);

/// <summary><c>GET /api/experiments/{name}/results</c>.</summary>
/// <param name="Experiment">The experiment.</param>
/// <param name="Baseline">The baseline candidate's key.</param>
/// <param name="Candidates">Each candidate's results.</param>
/// <param name="Mirror">The mirror's agreement, if there is a mirror.</param>
/// <param name="Traffic">Requests, errors and latency per minute per candidate (last hour), for the charts.</param>
/// <param name="Series">Accuracy (or MAE) over time per candidate, for the chart with confidence bands; null from older backends.</param>
public sealed record ExperimentResultsDto(
    string Experiment, string Baseline, IReadOnlyList<CandidateResultsDto> Candidates, MirrorAgreementDto? Mirror,
    IReadOnlyList<ExperimentTrafficPointDto> Traffic, ExperimentSeriesDto? Series = null);

/// <summary>
/// Each candidate's accuracy (classifiers) or mean absolute error (regressors) over the experiment's life, in buckets
/// sized to its age. Cumulative: a point is the estimate over all feedback on calls made up to the end of its bucket
/// (so the last point of each candidate matches its figure in the results), with its 95 % interval.
/// </summary>
/// <param name="Bucket">The bucket size: <c>minute</c> (experiment under 2 hours old), <c>hour</c> (under 2 days) or <c>day</c>.</param>
/// <param name="Metric"><c>accuracy</c> or <c>absolute-error</c> (the same choice as the results' comparisons).</param>
/// <param name="Points">The points, by candidate then time; only buckets with feedback (on calls made in them) appear.</param>
public sealed record ExperimentSeriesDto(string Bucket, string Metric, IReadOnlyList<ExperimentSeriesPointDto> Points);

/// <summary>One candidate's cumulative figures at the end of one bucket.</summary>
/// <param name="Start">The bucket's start (UTC); calls are placed by when they were made.</param>
/// <param name="Candidate">The candidate key.</param>
/// <param name="Feedback">Feedback on calls made in this bucket.</param>
/// <param name="Total">Feedback on calls made up to the end of this bucket: what the estimate rests on.</param>
/// <param name="Accuracy">Classifiers: correct ÷ total with its Wilson 95 % interval.</param>
/// <param name="Mae">Regressors: mean absolute error so far with its t 95 % interval (null below 2 scored records).</param>
public sealed record ExperimentSeriesPointDto(DateTimeOffset Start, string Candidate, long Feedback, long Total, EstimateDto? Accuracy, EstimateDto? Mae);

/// <summary>One candidate's traffic in one minute.</summary>
/// <param name="Minute">The minute's start.</param>
/// <param name="Candidate">The candidate key.</param>
/// <param name="Requests">Requests.</param>
/// <param name="Errors">Errors.</param>
/// <param name="P50Ms">Median latency.</param>
/// <param name="P95Ms">95th percentile.</param>
/// <param name="P99Ms">99th percentile.</param>
public sealed record ExperimentTrafficPointDto(DateTimeOffset Minute, string Candidate, int Requests, int Errors, double P50Ms, double P95Ms, double P99Ms);
