using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Experiments;

/// <summary><c>Mds:Experiments</c>.</summary>
public sealed class ExperimentOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Experiments";

    /// <summary>Mirror copies waiting to be sent; past it copies are dropped and counted (callers are never slowed down).</summary>
    [Range(1, 1_000_000)]
    public int MirrorQueue { get; set; } = 1_000;

    /// <summary>Mirror copies in flight at once (per backend).</summary>
    [Range(1, 256)]
    public int MirrorConcurrency { get; set; } = 8;

    /// <summary>Call-log rows waiting to be written; past it new ones are dropped and counted.</summary>
    [Range(16, 10_000_000)]
    public int CallLogQueue { get; set; } = 100_000;

    /// <summary>How often the experiment table is re-read (readiness, other backends' changes).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);
}
