using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Drift;

/// <summary><c>Mds:Drift</c>: how drift is checked.</summary>
public sealed class DriftOptions
{
    /// <summary>The recurring check's cron expression (Hangfire; six fields for seconds). Default: every five minutes.</summary>
    [Required]
    public string Schedule { get; set; } = "*/5 * * * *";

    /// <summary>How often the per-version recurring jobs are brought in line with the versions that have reference datasets.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many of the newest input rows a report compares with the reference.</summary>
    [Range(2, 1_000_000)]
    public int WindowRows { get; set; } = 500;

    /// <summary>The fewest rows a report needs; with fewer, a scheduled check is skipped and a manual one refused.</summary>
    [Range(2, 1_000_000)]
    public int MinRows { get; set; } = 30;

    /// <summary>Records older than this are not in the window.</summary>
    public TimeSpan MaxWindowAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The family-wise significance level, Bonferroni-corrected across features.</summary>
    [Range(1e-9, 0.5)]
    public double Alpha { get; set; } = 0.05;

    /// <summary>Quantile bins of the numeric features' PSI and histograms.</summary>
    [Range(2, 100)]
    public int PsiBins { get; set; } = 10;

    /// <summary>Whether reports include the multivariate MMD permutation test.</summary>
    public bool Multivariate { get; set; } = true;

    /// <summary>Rows of each sample the MMD test uses (subsampled evenly beyond this; its cost grows with the square).</summary>
    [Range(2, 5000)]
    public int MultivariateRows { get; set; } = 300;

    /// <summary>Permutations of the MMD test.</summary>
    [Range(10, 10_000)]
    public int Permutations { get; set; } = 100;

    /// <summary>Reports older than this are deleted by the version's job.</summary>
    [Range(1, 3650)]
    public int KeepDays { get; set; } = 30;

    /// <summary>Manual drift checks run at once by this backend; more wait in the queue below, then get 429 with <c>Retry-After</c>.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentManualRuns { get; set; } = 2;

    /// <summary>Manual drift checks that may wait for a slot before the rest are refused with 429.</summary>
    [Range(0, 10_000)]
    public int MaxQueuedManualRuns { get; set; } = 2;
}
