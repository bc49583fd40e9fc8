namespace Mds.Backend.Experiments;

/// <summary>
/// One routed call of an experiment (table <c>experiment_calls</c>, written by the experiment backend in batches).
/// </summary>
/// <remarks>
/// Defined here as the shared plan gives it so the results service can be built before the experiment backend's branch
/// lands; that branch owns the entity's EF configuration and migration. Until then this class is not part of the EF
/// model (no configuration, no <c>DbSet</c>): a model change without its migration would stop <c>Migrate</c>. The
/// results service reads the table by SQL (percentiles need <c>percentile_cont</c> anyway).
/// </remarks>
public sealed class ExperimentCall
{
    public long Id { get; set; }
    public required string Experiment { get; set; }

    /// <summary>The candidate key, or the mirror's key.</summary>
    public required string Candidate { get; set; }

    public bool IsMirror { get; set; }

    /// <summary>The caller's request id (a mirror copy's call is <c>&lt;request id&gt;.mirror</c> in the audit log).</summary>
    public required string RequestId { get; set; }

    /// <summary>The HTTP status the candidate answered; 0 = no answer.</summary>
    public int Status { get; set; }

    public double LatencyMs { get; set; }
    public DateTimeOffset At { get; set; }

    /// <summary>The predicted label, or the first output's first value, as text.</summary>
    public string? Predicted { get; set; }

    /// <summary>The first numeric output's first value (for mirror agreement and regressors' errors).</summary>
    public double? Score { get; set; }
}
