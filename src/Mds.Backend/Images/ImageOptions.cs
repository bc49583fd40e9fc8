using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Images;

/// <summary><c>Mds:Images</c>: the bounds every image is checked against before it is decoded.</summary>
public sealed class ImageOptions
{
    /// <summary>Largest image file accepted by <c>POST …/infer/image</c>, and largest file inside a batch's zip, in bytes (default 20 MiB).</summary>
    [Range(1024, int.MaxValue)]
    public int MaxImageBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>Most pixels (width × height, read from the image's header) an image may have; larger ones are refused undecoded (default 40 million).</summary>
    [Range(1, 500_000_000)]
    public long MaxPixels { get; set; } = 40_000_000;

    /// <summary>Most files in a batch's zip of images.</summary>
    [Range(1, 1_000_000)]
    public int MaxZipEntries { get; set; } = 10_000;

    /// <summary>Most bytes a batch's zip may hold uncompressed, all files together (default 2 GiB).</summary>
    [Range(1024, long.MaxValue)]
    public long MaxZipUncompressedBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Image predictions decoded at once by this backend; more wait in the queue below, then get 429.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentDecodes { get; set; } = 4;

    /// <summary>Image predictions that may wait for a slot before the rest are refused with 429.</summary>
    [Range(0, 10_000)]
    public int MaxQueuedDecodes { get; set; } = 16;

    /// <summary>Largest ratio of a zip entry's uncompressed to compressed size; above it the zip is refused as a zip bomb.</summary>
    [Range(1, 100_000)]
    public int MaxZipEntryRatio { get; set; } = 200;
}

/// <summary>An image (or a zip of them) that is refused before or while decoding; the message says why, for a 400.</summary>
public sealed class ImageRejectedException(string message) : Exception(message);
