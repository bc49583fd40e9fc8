using System.Globalization;
using Mds.Onnx;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Registry;

/// <summary>An inspected upload kept for its owner: the stored-to-be file, the schema ONNX Runtime read, and when it goes.</summary>
/// <param name="Owner">Who inspected it (the caller's user id, or name): only they may register it.</param>
/// <param name="Artifact">The file under <c>{DataDirectory}/staged/</c> (an .onnx, or a bundle), named by its SHA-256 in <see cref="StagedArtifact.Sha256"/>.</param>
/// <param name="Schema">What the inspection read, so registering it needs no second load.</param>
/// <param name="ExpiresAt">When it is dropped.</param>
public sealed record StagedUpload(string Owner, StagedArtifact Artifact, OnnxSchema Schema, DateTimeOffset ExpiresAt);

/// <summary>
/// Inspected uploads kept on disk under <c>{DataDirectory}/staged/</c> for <see cref="RegistryOptions.StagedUploadLifetime"/>,
/// keyed by owner and SHA-256, so <c>POST /api/models</c> can register what <c>POST /api/models/inspect</c> already
/// received and validated: the file crosses the network once and ONNX Runtime loads it once. Bounded by
/// <see cref="RegistryOptions.MaxStagedUploads"/> and <see cref="RegistryOptions.MaxStagedBytes"/> (the oldest go first).
/// The index is in memory, per backend process: after a restart, or behind a load balancer that sends the second
/// request to another backend, the hash is unknown and the client sends the file again. An entry is taken, not read:
/// one registration per inspection. Only the bytes are on disk; the schema is small and stays in memory.
/// </summary>
public sealed class UploadStaging
{
    private readonly string _root;
    private readonly RegistryOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<UploadStaging> _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Owner, string Sha256), StagedUpload> _entries = [];
    private long _bytes;

    public UploadStaging(IOptions<RegistryOptions> options, TimeProvider clock, ILogger<UploadStaging> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _clock = clock;
        _log = log;
        _root = Path.GetFullPath(Path.Combine(_options.DataDirectory, "staged"));
        Directory.CreateDirectory(_root);
    }

    /// <summary>How many uploads are staged now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Moves <paramref name="artifact"/> (validated, with its <paramref name="schema"/>) into staging for <paramref name="owner"/>,
    /// making room by dropping the oldest entries. Returns when it expires, or null when it is not kept (staging is off,
    /// the file alone is over the byte bound, or it could not be moved): the client then sends the file again.
    /// </summary>
    public DateTimeOffset? Keep(string owner, StagedArtifact artifact, OnnxSchema schema)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        if (_options.MaxStagedUploads == 0 || artifact.SizeBytes > _options.MaxStagedBytes)
        {
            return null;
        }

        string path = Path.Combine(_root, Guid.NewGuid().ToString("N") + (artifact.IsBundle ? ".zip" : ".onnx"));
        try
        {
            File.Move(artifact.Path, path);
        }
        catch (IOException e)
        {
            _log.LogWarning(e, "Could not stage the inspected upload {Sha}; the client will send it again", artifact.Sha256);
            return null;
        }

        var entry = new StagedUpload(owner, artifact with { Path = path }, schema, _clock.GetUtcNow() + _options.StagedUploadLifetime);
        Add(entry);
        return entry.ExpiresAt;
    }

    /// <summary>
    /// Takes <paramref name="owner"/>'s staged upload of <paramref name="sha256"/> out of staging (nobody else can take
    /// it meanwhile); the caller registers it or gives it back with <see cref="Return"/>.
    /// </summary>
    /// <returns>The upload, or why there is none (for a 400).</returns>
    public (StagedUpload? Upload, string? Error) Take(string owner, string sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        if (!ArtifactStore.IsSha256(sha256))
        {
            return (null, "'sha256' must be the 64 lower-case hex digits that POST /api/models/inspect answered.");
        }

        StagedUpload? entry;
        lock (_gate)
        {
            if (_entries.Remove((owner, sha256), out entry))
            {
                _bytes -= entry.Artifact.SizeBytes;
            }
        }

        var now = _clock.GetUtcNow();
        if (entry is not null && entry.ExpiresAt > now && File.Exists(entry.Artifact.Path))
        {
            return (entry, null);
        }

        string lifetime = _options.StagedUploadLifetime.ToString("c", CultureInfo.InvariantCulture);
        if (entry is not null)
        {
            Delete(entry);
        }

        if (entry is not null && entry.ExpiresAt <= now)
        {
            return (null, $"The inspected upload {sha256} expired at {entry.ExpiresAt:O} (uploads stay staged for {lifetime} after POST /api/models/inspect): send the file again.");
        }

        return (null, $"No inspected upload {sha256} is staged for you: it was never inspected by you on this backend, was already registered, or expired (uploads stay staged for {lifetime} after POST /api/models/inspect). Send the file instead.");
    }

    /// <summary>Gives back an upload taken with <see cref="Take"/> that was not registered (the file is still there), until its old expiry.</summary>
    public void Return(StagedUpload upload)
    {
        ArgumentNullException.ThrowIfNull(upload);
        if (!File.Exists(upload.Artifact.Path))
        {
            return; // registered: the artifact store has it now
        }

        if (upload.ExpiresAt <= _clock.GetUtcNow())
        {
            Delete(upload);
            return;
        }

        Add(upload);
    }

    /// <summary>
    /// Drops expired entries, and files under <c>staged/</c> that no entry refers to once they are older than the
    /// lifetime (left by a restart, or by another backend sharing the data directory). Returns how many files went.
    /// </summary>
    public int Sweep()
    {
        var now = _clock.GetUtcNow();
        List<StagedUpload> expired = [];
        HashSet<string> known;
        lock (_gate)
        {
            RemoveExpired(now, expired);
            known = _entries.Values.Select(e => e.Artifact.Path).ToHashSet(StringComparer.Ordinal);
        }

        int removed = 0;
        foreach (var entry in expired)
        {
            removed += Delete(entry) ? 1 : 0;
        }

        foreach (var file in new DirectoryInfo(_root).EnumerateFiles())
        {
            if (!known.Contains(file.FullName) && now - file.LastWriteTimeUtc > _options.StagedUploadLifetime)
            {
                try
                {
                    file.Delete();
                    removed++;
                }
                catch (IOException)
                {
                    // in use or gone: the next sweep tries again
                }
            }
        }

        return removed;
    }

    private void Add(StagedUpload entry)
    {
        var now = _clock.GetUtcNow();
        List<StagedUpload> dropped = [];
        var key = (entry.Owner, entry.Artifact.Sha256);
        lock (_gate)
        {
            if (_entries.Remove(key, out var previous))
            {
                // The same bytes inspected again by the same person: the newer copy replaces the older.
                _bytes -= previous.Artifact.SizeBytes;
                dropped.Add(previous);
            }

            RemoveExpired(now, dropped);
            while (_entries.Count > 0 && (_entries.Count >= _options.MaxStagedUploads || _bytes + entry.Artifact.SizeBytes > _options.MaxStagedBytes))
            {
                var oldest = _entries.MinBy(e => e.Value.ExpiresAt);
                _entries.Remove(oldest.Key);
                _bytes -= oldest.Value.Artifact.SizeBytes;
                dropped.Add(oldest.Value);
            }

            _entries[key] = entry;
            _bytes += entry.Artifact.SizeBytes;
        }

        foreach (var old in dropped)
        {
            Delete(old);
        }
    }

    private void RemoveExpired(DateTimeOffset now, List<StagedUpload> into)
    {
        foreach (var (key, entry) in _entries.Where(e => e.Value.ExpiresAt <= now).ToList())
        {
            _entries.Remove(key);
            _bytes -= entry.Artifact.SizeBytes;
            into.Add(entry);
        }
    }

    private static bool Delete(StagedUpload entry)
    {
        try
        {
            File.Delete(entry.Artifact.Path);
            return true;
        }
        catch (IOException)
        {
            return false; // the sweep's orphan pass tries again
        }
    }
}

/// <summary>Sweeps <see cref="UploadStaging"/> every half lifetime (at most every 30 s), so expired uploads leave the disk.</summary>
internal sealed class UploadStagingSweep(UploadStaging staging, IOptions<RegistryOptions> options, TimeProvider clock, ILogger<UploadStagingSweep> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var half = options.Value.StagedUploadLifetime / 2;
        var period = half < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : half > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : half;
        using var timer = new PeriodicTimer(period, clock);
        do
        {
            try
            {
                int removed = staging.Sweep();
                if (removed > 0)
                {
                    log.LogDebug("Removed {Count} expired staged uploads", removed);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.LogWarning(e, "Sweeping staged uploads failed; the next sweep tries again");
            }
        }
        while (await Tick(timer, stoppingToken));
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
