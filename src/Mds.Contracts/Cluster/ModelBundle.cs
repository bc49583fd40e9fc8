using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Mds.Contracts.Cluster;

/// <summary>
/// A model stored as several files (an ONNX file whose weights live in external-data files), as the backend stores
/// it and workers unpack it: a zip of <see cref="ManifestName"/>, <see cref="ModelFileName"/> and the data files at
/// the paths the model names. Its content address (the artifact's id) is the SHA-256 of the manifest, whose lines are
/// <c>{sha256}  {path}</c> (as <c>sha256sum</c> writes them) sorted by path, ordinal: the same files give the same
/// address however they were uploaded, and the address verifies every file.
/// </summary>
public static class ModelBundle
{
    /// <summary>The manifest's name inside a bundle.</summary>
    public const string ManifestName = "MANIFEST.sha256";

    /// <summary>The model file's name inside a bundle; data files sit beside it at their <c>location</c>s.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The most path segments and characters one file name may have.</summary>
    private const int MaxSegments = 16;
    private const int MaxPathChars = 512;

    /// <summary>
    /// Why <paramref name="path"/> is not a relative path confined to the model's own directory, or null when it is:
    /// forward slashes only, no absolute path or drive, no <c>.</c> or <c>..</c> or empty segment, no control
    /// characters, at most 16 segments and 512 characters.
    /// </summary>
    /// <param name="path">A name from a zip, an upload or a model's external-data <c>location</c>.</param>
    public static string? WhyNotConfined(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Length > MaxPathChars)
        {
            return $"'{Shown(path)}' is empty or longer than {MaxPathChars} characters";
        }

        if (path.Contains('\\', StringComparison.Ordinal) || path.Contains(':', StringComparison.Ordinal) || path.Any(char.IsControl))
        {
            return $"'{Shown(path)}' has a backslash, a colon or a control character";
        }

        if (path.StartsWith('/'))
        {
            return $"'{Shown(path)}' is an absolute path";
        }

        var segments = path.Split('/');
        if (segments.Length > MaxSegments || segments.Any(s => s is "" or "." or ".."))
        {
            return $"'{Shown(path)}' leaves the model's directory or has an empty, '.' or '..' segment";
        }

        return null;
    }

    /// <summary>The manifest of <paramref name="files"/> (path → SHA-256, lower-case hex).</summary>
    /// <param name="files">Every file of the bundle but the manifest, by its path inside the bundle.</param>
    public static byte[] Manifest(IReadOnlyDictionary<string, string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var text = new StringBuilder();
        foreach (var (path, sha) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            text.Append(sha).Append("  ").Append(path).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The files a manifest lists (path → SHA-256), or null when it is not one <see cref="Manifest"/> wrote.</summary>
    /// <param name="manifest">The manifest's bytes.</param>
    public static Dictionary<string, string>? ParseManifest(byte[] manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in Encoding.UTF8.GetString(manifest).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length < 67 || line[64] != ' ' || line[65] != ' ' || !line[..64].All(char.IsAsciiHexDigitLower)
                || WhyNotConfined(line[66..]) is not null || !files.TryAdd(line[66..], line[..64]))
            {
                return null;
            }
        }

        return files.ContainsKey(ModelFileName) && manifest.AsSpan().SequenceEqual(Manifest(files)) ? files : null;
    }

    /// <summary>SHA-256 of <paramref name="bytes"/>, lower-case hex.</summary>
    /// <param name="bytes">The bytes to hash.</param>
    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>SHA-256 of a file, lower-case hex, read as it streams.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Stops the hashing.</param>
    public static async Task<string> Sha256OfFileAsync(string path, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>
    /// Unpacks a zip into <paramref name="directory"/> (created), refusing, before anything past the limits is
    /// written: more than <paramref name="maxEntries"/> entries; names that <see cref="WhyNotConfined"/> refuses;
    /// symbolic links; more than <paramref name="maxTotalBytes"/> bytes in all (counted as written, not as the zip
    /// declares); an entry that expands more than <paramref name="maxRatio"/> times its compressed size.
    /// Returns the files written, by their names in the zip; directory entries are skipped.
    /// </summary>
    /// <param name="zipPath">The zip.</param>
    /// <param name="directory">Where the files go.</param>
    /// <param name="maxEntries">The most entries.</param>
    /// <param name="maxTotalBytes">The most bytes written in all.</param>
    /// <param name="maxRatio">The most an entry may expand (uncompressed ÷ compressed).</param>
    /// <param name="cancellationToken">Stops the unpacking.</param>
    /// <exception cref="InvalidDataException">The zip breaks a rule (the message says which) or is not a zip.</exception>
    public static async Task<IReadOnlyList<string>> ExtractAsync(string zipPath, string directory, int maxEntries, long maxTotalBytes, int maxRatio, CancellationToken cancellationToken)
    {
        var archive = await ZipFile.OpenReadAsync(zipPath, cancellationToken).ConfigureAwait(false);
        await using (archive.ConfigureAwait(false))
        {
            if (archive.Entries.Count > maxEntries)
            {
                throw new InvalidDataException($"the zip has {archive.Entries.Count} entries; at most {maxEntries} are accepted");
            }

            string root = Path.GetFullPath(directory);
            Directory.CreateDirectory(root);
            var written = new List<string>();
            long total = 0;
            byte[] buffer = new byte[1 << 20];
            foreach (var entry in archive.Entries)
            {
                string name = entry.FullName;
                if (name.EndsWith('/'))
                {
                    continue; // a directory: the files under it create it
                }

                if (WhyNotConfined(name) is { } why)
                {
                    throw new InvalidDataException("zip entry " + why);
                }

                const int UnixFileType = 0xF000 << 16, UnixSymlink = 0xA000 << 16;
                if ((entry.ExternalAttributes & UnixFileType) == UnixSymlink)
                {
                    throw new InvalidDataException($"zip entry '{name}' is a symbolic link");
                }

                if (entry.Length > (long)maxRatio * Math.Max(entry.CompressedLength, 1) && entry.Length > 1 << 20)
                {
                    throw new InvalidDataException($"zip entry '{name}' expands {entry.Length / Math.Max(entry.CompressedLength, 1)} times; at most {maxRatio} is accepted (a zip bomb?)");
                }

                if (entry.Length > maxTotalBytes - total)
                {
                    throw new InvalidDataException($"the zip's files come to more than {maxTotalBytes} bytes");
                }

                string target = Path.GetFullPath(Path.Combine(root, name));
                if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"zip entry '{name}' leaves the model's directory");
                }

                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var input = await entry.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using (input.ConfigureAwait(false))
                {
                    var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, useAsync: true);
                    await using (output.ConfigureAwait(false))
                    {
                        long entryBytes = 0;
                        int read;
                        while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                        {
                            entryBytes += read;
                            total += read;
                            if (total > maxTotalBytes || entryBytes > entry.Length)
                            {
                                throw new InvalidDataException(total > maxTotalBytes
                                    ? $"the zip's files come to more than {maxTotalBytes} bytes"
                                    : $"zip entry '{name}' holds more than the {entry.Length.ToString(CultureInfo.InvariantCulture)} bytes it declares");
                            }

                            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        }
                    }
                }

                written.Add(name);
            }

            return written;
        }
    }

    private static string Shown(string path) => path.Length <= 80 ? path : path[..80] + "…";
}
