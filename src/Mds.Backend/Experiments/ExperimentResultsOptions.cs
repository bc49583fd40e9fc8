using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Experiments;

/// <summary><c>Mds:Experiments</c>: how much of the call log the results read, and how often rollouts are checked.</summary>
public sealed class ExperimentResultsOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Experiments";

    /// <summary>Results are computed over at most this many of each candidate's latest calls (and the mirror's).</summary>
    [Range(100, 10_000_000)]
    public int MaxCallsPerCandidate { get; set; } = 200_000;

    /// <summary>How often the rollout job reads running rollouts' figures and moves them on.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RolloutCheckInterval { get; set; } = TimeSpan.FromSeconds(30);
}
