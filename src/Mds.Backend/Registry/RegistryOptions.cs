using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Registry;

/// <summary><c>Mds:Registry</c> (and <c>Mds:DataDirectory</c>): where artifacts live and how big they may be.</summary>
public sealed class RegistryOptions
{
    /// <summary>Root of the backend's files; artifacts go under <c>artifacts/</c>. From <c>Mds:DataDirectory</c>.</summary>
    [Required]
    public string DataDirectory { get; set; } = ".mds/data";

    /// <summary>Largest accepted upload, in bytes (default 512 MiB).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Largest accepted reference dataset (CSV), in bytes (default 64 MiB).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxDatasetBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Largest replica count a version may ask for.</summary>
    [Range(1, 1000)]
    public int MaxReplicas { get; set; } = 64;

    /// <summary>Model uploads and inspections (ONNX parsing) run at once by this backend; more wait in the queue below, then get 429 with <c>Retry-After</c>.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentUploads { get; set; } = 2;

    /// <summary>Model uploads and inspections (ONNX parsing) that may wait for a slot before the rest are refused with 429.</summary>
    [Range(0, 10_000)]
    public int MaxQueuedUploads { get; set; } = 4;

    /// <summary>
    /// Most memory (MiB, resident) the child process that loads an uploaded model may use; above it the inspection
    /// is killed and the upload refused (default 2048). Uploads are inspected in <c>Mds.ModelInspector</c>, never in
    /// the backend's process.
    /// </summary>
    [Range(128, 1_000_000)]
    public int InspectMemoryMb { get; set; } = 2048;

    /// <summary>Longest an uploaded model may take to load in the inspector before the upload is refused (default 60 s).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan InspectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long an upload inspected by <c>POST /api/models/inspect</c> stays staged, for <c>POST /api/models</c> to
    /// register by its <c>sha256</c> without the file being sent again (default 10 minutes).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan StagedUploadLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most bytes of inspected uploads kept staged at once (default 2 GiB); the oldest go first. 0 turns staging off.</summary>
    [Range(0, long.MaxValue)]
    public long MaxStagedBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Most inspected uploads kept staged at once (default 32); the oldest go first. 0 turns staging off.</summary>
    [Range(0, 100_000)]
    public int MaxStagedUploads { get; set; } = 32;

    /// <summary>The inspector's dll; empty for <c>Mds.ModelInspector.dll</c> beside the backend's own (the default, and what publish produces).</summary>
    public string? InspectorPath { get; set; }
}
