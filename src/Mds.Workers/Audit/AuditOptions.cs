using System.ComponentModel.DataAnnotations;

namespace Mds.Workers.Audit;

/// <summary><c>Mds:Audit</c>: the worker's inference records.</summary>
public sealed class AuditOptions
{
    public const string Section = "Mds:Audit";

    /// <summary>Whether every inference is recorded (default on).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where records go; defaults to <c>ConnectionStrings:Mds</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Records waiting to be written, at most; beyond that new ones are dropped and counted.</summary>
    [Range(1, 10_000_000)]
    public int BufferCapacity { get; set; } = 100_000;

    /// <summary>
    /// Bytes waiting in memory to be written, at most (each record's estimated size: its strings and tensors); beyond
    /// that new records are dropped and counted. Above half of it the writer spills to <see cref="SpillDirectory"/>.
    /// </summary>
    [Range(64 * 1024, long.MaxValue)]
    public long MaxBufferBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Where records are spilled (append-only files) while PostgreSQL is down or slow, and replayed from when it is back
    /// and at start-up; defaults to <c>audit-spill</c> under the worker's cache directory.
    /// </summary>
    public string? SpillDirectory { get; set; }

    /// <summary>Spill files' total size, at most; records beyond it are dropped and counted.</summary>
    [Range(0, long.MaxValue)]
    public long MaxSpillBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>How long writes may keep failing before the writer spills instead of retrying with the batch in memory.</summary>
    public TimeSpan SpillAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Records per COPY, at most.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 1000;

    /// <summary>How long the writer waits to fill a batch before writing what it has.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A request or response body larger than this (encoded as V2 JSON) is stored as its tensors' names, types and shapes only.</summary>
    [Range(0, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 64 * 1024;
}
