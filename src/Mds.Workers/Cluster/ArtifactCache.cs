using System.Buffers;
using System.Security.Cryptography;
using Mds.Contracts.Cluster;

namespace Mds.Workers.Cluster;

/// <summary>
/// Model files on local disk, named by their SHA-256 (<c>{sha256}.onnx</c>). A download goes to a temporary file,
/// is hashed while it streams, and is renamed into place only when the hash matches, so a file under its final name
/// is always whole. A cached file is re-hashed every time it is loaded (a file changed on disk since, by accident or by
/// someone with access to the cache, is not run): a mismatch deletes it and downloads it again, and a download that
/// does not match is refused. A model with external data comes as a <see cref="ModelBundle"/> (its id is its
/// manifest's hash): it is unpacked into <c>{sha256}/</c> (names confined to that directory), every file checked
/// against the manifest, and loaded from there so ONNX Runtime finds the data files beside the model; the directory
/// is checked file by file again on every load.
/// </summary>
internal sealed class ArtifactCache(BackendClient backend, WorkerIdentity identity)
{
    /// <summary>The path of the artifact, downloading it first unless a valid copy is cached.</summary>
    /// <exception cref="ArtifactException">The id is not a SHA-256, or the download does not match it.</exception>
    public async Task<string> GetAsync(string sha256, long expectedSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        string id = sha256.ToLowerInvariant();
        if (id.Length != 64 || !id.All(char.IsAsciiHexDigitLower))
        {
            throw new ArtifactException($"artifact id '{sha256}' is not a SHA-256 (64 hex digits)");
        }

        string directory = identity.CacheDirectory;
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, id + ".onnx");
        if (File.Exists(path))
        {
            if (string.Equals(await HashFileAsync(path, cancellationToken).ConfigureAwait(false), id, StringComparison.Ordinal))
            {
                return path;
            }

            File.Delete(path);
        }

        string unpackedPath = Path.Combine(directory, id);
        if (Directory.Exists(unpackedPath))
        {
            if (await IsWholeBundleAsync(unpackedPath, id, cancellationToken).ConfigureAwait(false))
            {
                return Path.Combine(unpackedPath, ModelBundle.ModelFileName);
            }

            Directory.Delete(unpackedPath, recursive: true);
        }

        string temporary = Path.Combine(directory, $"{id}.{Guid.NewGuid():N}.tmp");
        try
        {
            var (length, actual) = await DownloadAsync(id, temporary, cancellationToken).ConfigureAwait(false);
            if (expectedSize > 0 && length != expectedSize)
            {
                throw new ArtifactException($"artifact {id}: downloaded {length} bytes but the backend said {expectedSize}");
            }

            if (string.Equals(actual, id, StringComparison.Ordinal))
            {
                File.Move(temporary, path, overwrite: true);
                return path;
            }

            if (await IsZipAsync(temporary, cancellationToken).ConfigureAwait(false))
            {
                return await UnpackAsync(id, temporary, length, unpackedPath, cancellationToken).ConfigureAwait(false);
            }

            throw new ArtifactException($"artifact {id}: the downloaded bytes hash to {actual}; the download is corrupt");
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Unpacks a bundle next to its final place, checks it against its id, and moves it there.</summary>
    private static async Task<string> UnpackAsync(string id, string zipPath, long length, string unpackedPath, CancellationToken cancellationToken)
    {
        string staging = unpackedPath + $".{Guid.NewGuid():N}.tmpdir";
        try
        {
            try
            {
                // Entries are stored uncompressed: their total cannot exceed what was downloaded.
                await ModelBundle.ExtractAsync(zipPath, staging, maxEntries: 10_000, maxTotalBytes: length, maxRatio: 2, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw new ArtifactException($"artifact {id}: the bundle cannot be unpacked: {e.Message}", e);
            }

            if (!await IsWholeBundleAsync(staging, id, cancellationToken).ConfigureAwait(false))
            {
                throw new ArtifactException($"artifact {id}: the bundle's files do not match its manifest or the manifest does not hash to the artifact id; the download is corrupt");
            }

            try
            {
                Directory.Move(staging, unpackedPath);
            }
            catch (IOException) when (Directory.Exists(unpackedPath))
            {
                // another load of the same artifact got there first; its copy was checked the same way
            }

            return Path.Combine(unpackedPath, ModelBundle.ModelFileName);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    /// <summary>
    /// Whether the directory holds exactly the files of the bundle <paramref name="id"/>: a manifest that hashes to the
    /// id, every file it lists with that SHA-256, and nothing else.
    /// </summary>
    private static async Task<bool> IsWholeBundleAsync(string root, string id, CancellationToken cancellationToken)
    {
        string manifestPath = Path.Combine(root, ModelBundle.ManifestName);
        if (!File.Exists(manifestPath) || new FileInfo(manifestPath).Length > 1 << 20)
        {
            return false;
        }

        byte[] manifest = await File.ReadAllBytesAsync(manifestPath, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(ModelBundle.Sha256(manifest), id, StringComparison.Ordinal) || ModelBundle.ParseManifest(manifest) is not { } files)
        {
            return false;
        }

        var present = new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
            .Where(f => f is FileInfo || f.Attributes.HasFlag(FileAttributes.ReparsePoint))
            .Select(f => Path.GetRelativePath(root, f.FullName).Replace(Path.DirectorySeparatorChar, '/'))
            .ToHashSet(StringComparer.Ordinal);
        if (present.Count != files.Count + 1)
        {
            return false;
        }

        foreach (var (name, sha) in files)
        {
            string file = Path.Combine(root, name);
            if (!present.Contains(name) || new FileInfo(file).Attributes.HasFlag(FileAttributes.ReparsePoint)
                || !string.Equals(await HashFileAsync(file, cancellationToken).ConfigureAwait(false), sha, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<bool> IsZipAsync(string path, CancellationToken cancellationToken)
    {
        byte[] head = new byte[4];
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            return await file.ReadAtLeastAsync(head, 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) == 4
                && head is [0x50, 0x4b, 0x03, 0x04];
        }
    }

    /// <summary>Downloads the artifact to <paramref name="temporary"/>: its length and the SHA-256 of its bytes.</summary>
    private async Task<(long Length, string Sha256)> DownloadAsync(string id, string temporary, CancellationToken cancellationToken)
    {
        using var response = await backend.GetArtifactAsync(id, cancellationToken).ConfigureAwait(false);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    long length = 0;
                    int read;
                    while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        length += read;
                    }

                    return (length, Convert.ToHexStringLower(hash.GetHashAndReset()));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
        }
    }
}

/// <summary>An artifact could not be fetched or does not match its SHA-256.</summary>
internal sealed class ArtifactException : Exception
{
    public ArtifactException(string message) : base(message) { }

    public ArtifactException() { }

    public ArtifactException(string message, Exception inner) : base(message, inner) { }
}
