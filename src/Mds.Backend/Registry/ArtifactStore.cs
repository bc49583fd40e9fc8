using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Registry;

/// <summary>
/// Artifact files named by their SHA-256 under <c>{DataDirectory}/artifacts</c>: <c>{sha256}.onnx</c> for a model in
/// one file, <c>{sha256}.zip</c> for a model with external data (a <see cref="Mds.Contracts.Cluster.ModelBundle"/>,
/// named by the SHA-256 of its manifest).
/// </summary>
public sealed class ArtifactStore
{
    private readonly string _root;
    private readonly string _incoming;

    public ArtifactStore(IOptions<RegistryOptions> options)
    {
        _root = Path.GetFullPath(Path.Combine(options.Value.DataDirectory, "artifacts"));
        _incoming = Path.GetFullPath(Path.Combine(options.Value.DataDirectory, "incoming"));
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_incoming);
    }

    /// <summary>Streams an upload to a temporary file while hashing it; stops at <paramref name="maxBytes"/>.</summary>
    public async Task<StagedArtifact> StageAsync(Stream content, long maxBytes, CancellationToken ct)
    {
        string path = Path.Combine(_incoming, Guid.NewGuid().ToString("N") + ".part");
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                byte[] buffer = new byte[81920];
                int n;
                while ((n = await content.ReadAsync(buffer, ct)) > 0)
                {
                    size += n;
                    if (size > maxBytes)
                    {
                        throw new ArtifactTooLargeException(maxBytes);
                    }

                    sha.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                }

                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true); // on disk before the database says it exists
            }

            return new StagedArtifact(path, Convert.ToHexStringLower(sha.GetHashAndReset()), size);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Moves a staged file to its content address (or drops it when that content is already stored). Called after the
    /// database commit that refers to it succeeded: a failed commit leaves no file behind, and a crash between the two
    /// leaves a <c>.part</c> file that <see cref="CleanUp"/> removes.
    /// </summary>
    public void Commit(StagedArtifact staged)
    {
        string target = Path.Combine(_root, staged.Sha256 + (staged.IsBundle ? BundleExtension : ".onnx"));
        if (File.Exists(target))
        {
            File.Delete(staged.Path);
            return;
        }

        File.Move(staged.Path, target, overwrite: true);
    }

    public static void Discard(StagedArtifact staged) => File.Delete(staged.Path);

    /// <summary>
    /// Deletes staged <c>.part</c> files older than <paramref name="minAge"/> (uploads that never finished) and stored
    /// artifacts that <paramref name="isKnown"/> says no row refers to (older than <paramref name="minAge"/> too, so a file
    /// just renamed into place is never raced). Returns how many files went.
    /// </summary>
    public int CleanUp(Func<string, bool> isKnown, TimeSpan minAge, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(isKnown);
        int removed = 0;
        foreach (var part in new DirectoryInfo(_incoming).EnumerateFiles("*.part"))
        {
            if (now - part.LastWriteTimeUtc > minAge && TryDelete(part))
            {
                removed++;
            }
        }

        foreach (var stored in new DirectoryInfo(_root).EnumerateFiles("*.onnx").Concat(new DirectoryInfo(_root).EnumerateFiles("*" + BundleExtension)))
        {
            string sha = Path.GetFileNameWithoutExtension(stored.Name);
            if (now - stored.LastWriteTimeUtc > minAge && IsSha256(sha) && !isKnown(sha) && TryDelete(stored))
            {
                removed++;
            }
        }

        foreach (var workspace in new DirectoryInfo(_incoming).EnumerateDirectories("*.d"))
        {
            if (now - workspace.LastWriteTimeUtc > minAge)
            {
                try
                {
                    workspace.Delete(recursive: true);
                    removed++;
                }
                catch (IOException)
                {
                    // in use: the next round tries again
                }
            }
        }

        return removed;
    }

    /// <summary>A fresh directory under <c>incoming/</c> for unpacking an upload; <see cref="CleanUp"/> removes forgotten ones.</summary>
    public string NewWorkspace()
    {
        string path = Path.Combine(_incoming, Guid.NewGuid().ToString("N") + ".d");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A fresh <c>.part</c> path under <c>incoming/</c>, for a file the backend writes itself (a bundle).</summary>
    public string NewPartPath() => Path.Combine(_incoming, Guid.NewGuid().ToString("N") + ".part");

    private const string BundleExtension = ".zip";

    private static bool TryDelete(FileInfo file)
    {
        try
        {
            file.Delete();
            return true;
        }
        catch (IOException)
        {
            return false; // in use or gone: the next round tries again
        }
    }

    /// <summary>The path of a stored artifact; the hash is checked to be 64 hex characters.</summary>
    public string PathOf(string sha256)
    {
        if (!IsSha256(sha256))
        {
            throw new ArgumentException("Not a SHA-256 hex string.", nameof(sha256));
        }

        string single = Path.Combine(_root, sha256 + ".onnx");
        string bundle = Path.Combine(_root, sha256 + BundleExtension);
        return !File.Exists(single) && File.Exists(bundle) ? bundle : single;
    }

    public static bool IsSha256(string value) => value.Length == 64 && value.All(char.IsAsciiHexDigitLower);
}

/// <summary>
/// An upload written to a temporary file: where, its hash and size, the name the client gave it, and whether it is a
/// model bundle (then <paramref name="Sha256"/> is its manifest's hash).
/// </summary>
public sealed record StagedArtifact(string Path, string Sha256, long SizeBytes, string? FileName = null, bool IsBundle = false);

public sealed class ArtifactTooLargeException(long maxBytes) : Exception($"The file is larger than the upload limit of {maxBytes} bytes.")
{
    public long MaxBytes { get; } = maxBytes;
}
