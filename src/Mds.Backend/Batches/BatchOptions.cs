using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Mds.Backend.Registry;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Batches;

/// <summary><c>Mds:Batch</c>: how batch predictions are taken in and scored.</summary>
public sealed class BatchOptions
{
    /// <summary>Largest CSV accepted, in bytes (default 64 MiB).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Files with at most this many rows are scored while the upload waits; larger ones become a Hangfire job.</summary>
    [Range(0, 1_000_000)]
    public int SyncMaxRows { get; set; } = 1000;

    /// <summary>Rows per V2 request to the replica.</summary>
    [Range(1, 100_000)]
    public int RowsPerRequest { get; set; } = 256;

    /// <summary>Batches scored at once by this backend (Hangfire workers on the <c>batch</c> queue).</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 1;

    /// <summary>How long a job waits for a Ready replica (e.g. while one is being re-placed) before it fails.</summary>
    public TimeSpan ReplicaWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Batches (and their files) older than this are deleted by a daily job.</summary>
    [Range(1, 3650)]
    public int KeepDays { get; set; } = 7;

    /// <summary>Batch uploads run at once by this backend; more wait in the queue below, then get 429 with <c>Retry-After</c>.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentUploads { get; set; } = 4;

    /// <summary>Batch uploads that may wait for a slot before the rest are refused with 429.</summary>
    [Range(0, 10_000)]
    public int MaxQueuedUploads { get; set; } = 4;

    /// <summary>Batches one user may keep stored (not yet deleted by age or by hand); one more upload gets 409.</summary>
    [Range(1, 1_000_000)]
    public int MaxStoredPerUser { get; set; } = 100;
}

/// <summary>Where batch files live: <c>{DataDirectory}/batches</c>.</summary>
public sealed class BatchFiles(IOptions<RegistryOptions> registry)
{
    public string Directory { get; } = Path.Combine(Path.GetFullPath(registry.Value.DataDirectory), "batches");

    public string InputOf(long batchId) => Path.Combine(Directory, batchId.ToString(CultureInfo.InvariantCulture) + ".csv");

    public string ResultOf(long batchId) => Path.Combine(Directory, batchId.ToString(CultureInfo.InvariantCulture) + ".result.csv");

    /// <summary>Removes a batch's files, those that exist.</summary>
    public void Delete(long batchId)
    {
        foreach (string path in new[] { InputOf(batchId), ResultOf(batchId), ResultOf(batchId) + ".partial" })
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }
}
