using System.Buffers;
using System.Security.Cryptography;

namespace Mds.Workers.Cluster;

/// <summary>
/// Model files on local disk, named by their SHA-256 (<c>{sha256}.onnx</c>). A download goes to a temporary file,
/// is hashed while it streams, and is renamed into place only when the hash matches, so a file under its final name
/// is always whole. A cached file is re-hashed every time it is loaded (a file changed on disk since, by accident or by
/// someone with access to the cache, is not run): a mismatch deletes it and downloads it again, and a download that
/// does not match is refused.
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

        string temporary = Path.Combine(directory, $"{id}.{Guid.NewGuid():N}.tmp");
        try
        {
            long length = await DownloadAsync(id, temporary, cancellationToken).ConfigureAwait(false);
            if (expectedSize > 0 && length != expectedSize)
            {
                throw new ArtifactException($"artifact {id}: downloaded {length} bytes but the backend said {expectedSize}");
            }

            File.Move(temporary, path, overwrite: true);
            return path;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private async Task<long> DownloadAsync(string id, string temporary, CancellationToken cancellationToken)
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

                    string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                    if (!string.Equals(actual, id, StringComparison.Ordinal))
                    {
                        throw new ArtifactException($"artifact {id}: the downloaded bytes hash to {actual}; the download is corrupt");
                    }

                    return length;
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
