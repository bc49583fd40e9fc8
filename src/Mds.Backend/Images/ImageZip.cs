using System.IO.Compression;

namespace Mds.Backend.Images;

/// <summary>
/// A batch's zip of images, checked before anything is decoded: at most <see cref="ImageOptions.MaxZipEntries"/> files,
/// <see cref="ImageOptions.MaxZipUncompressedBytes"/> uncompressed in all, <see cref="ImageOptions.MaxImageBytes"/> each,
/// and no entry expanding more than <see cref="ImageOptions.MaxZipEntryRatio"/> times (a zip bomb). Entries are read into
/// memory (never extracted to disk), each stopped at its declared size, so a header that lies gains nothing. Folders,
/// <c>__MACOSX/</c> and dot files are skipped. An entry's path in the zip is only its row's name.
/// </summary>
public static class ImageZip
{
    /// <summary>The image entries' paths in zip order, after checking the bounds.</summary>
    /// <exception cref="ImageRejectedException">Not a zip, or over a bound; the message says which.</exception>
    public static IReadOnlyList<string> Check(string path, ImageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var names = new List<string>();
            long total = 0;
            foreach (var entry in zip.Entries)
            {
                if (!IsImageEntry(entry))
                {
                    continue;
                }

                if (names.Count == options.MaxZipEntries)
                {
                    throw new ImageRejectedException($"the zip holds more than {options.MaxZipEntries} files");
                }

                if (entry.Length > options.MaxImageBytes)
                {
                    throw new ImageRejectedException($"'{entry.FullName}' is {entry.Length} bytes uncompressed; at most {options.MaxImageBytes} per image");
                }

                if (entry.Length > 1024 && entry.Length > (long)options.MaxZipEntryRatio * Math.Max(entry.CompressedLength, 1))
                {
                    throw new ImageRejectedException($"'{entry.FullName}' expands {entry.Length / Math.Max(entry.CompressedLength, 1)} times (at most {options.MaxZipEntryRatio}): refused as a zip bomb");
                }

                total += entry.Length;
                if (total > options.MaxZipUncompressedBytes)
                {
                    throw new ImageRejectedException($"the zip holds more than {options.MaxZipUncompressedBytes} bytes uncompressed");
                }

                names.Add(entry.FullName);
            }

            return names.Count == 0 ? throw new ImageRejectedException("the zip holds no image files") : names;
        }
        catch (InvalidDataException e)
        {
            throw new ImageRejectedException("the file is not a zip archive: " + e.Message);
        }
    }

    /// <summary>Reads the image entries one at a time (already <see cref="Check"/>ed), each at most its declared size.</summary>
    /// <exception cref="ImageRejectedException">An entry holds more than it declares, or cannot be read.</exception>
    public static IEnumerable<(string Name, byte[] Bytes)> Read(string path, ImageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries)
        {
            if (!IsImageEntry(entry))
            {
                continue;
            }

            long declared = Math.Min(entry.Length, options.MaxImageBytes);
            var bytes = new byte[declared];
            int read = 0;
            try
            {
                using var stream = entry.Open();
                while (read < bytes.Length)
                {
                    int n = stream.Read(bytes, read, bytes.Length - read);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                if (read != bytes.Length || stream.ReadByte() != -1)
                {
                    throw new ImageRejectedException($"'{entry.FullName}' does not hold the {entry.Length} bytes its zip header declares");
                }
            }
            catch (InvalidDataException e)
            {
                throw new ImageRejectedException($"'{entry.FullName}' cannot be read from the zip: {e.Message}");
            }

            yield return (entry.FullName, bytes);
        }
    }

    private static bool IsImageEntry(ZipArchiveEntry entry) =>
        entry.FullName.Length > 0 && !entry.FullName.EndsWith('/') && !entry.FullName.StartsWith("__MACOSX/", StringComparison.Ordinal)
        && !entry.Name.StartsWith('.');
}
