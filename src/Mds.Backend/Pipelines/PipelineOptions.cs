using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Pipelines;

/// <summary><c>Mds:Pipelines</c>.</summary>
public sealed class PipelineOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Pipelines";

    /// <summary>A run's time limit when its spec sets none (504 past it).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest V2 request body a pipeline accepts, in MiB (413 past it; bounded before it is decoded).</summary>
    [Range(1, 2047)]
    public int MaxRequestBodyMb { get; set; } = 64;

    /// <summary>Run records kept this many days.</summary>
    [Range(1, 3650)]
    public int RunRetentionDays { get; set; } = 14;

    /// <summary>A step's inputs or outputs larger than this (as JSON) are kept in the run record as names, types and shapes only.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxRecordedTensorBytes { get; set; } = 256 * 1024;

    /// <summary>Run records waiting to be written; past it new ones are dropped and counted (runs are never slowed down).</summary>
    [Range(16, 1_000_000)]
    public int RunRecordQueue { get; set; } = 10_000;

    /// <summary>How often pending versions are checked for going live, and the table re-read for other backends' changes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);
}
