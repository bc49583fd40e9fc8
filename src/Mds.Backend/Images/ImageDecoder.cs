using System.Globalization;
using SkiaSharp;

namespace Mds.Backend.Images;

/// <summary>
/// Decodes an image with Skia (PNG, JPEG, WebP, GIF's first frame, BMP, ICO, WBMP — whatever Skia reads) into 8-bit
/// RGBA, after checking its dimensions from the header alone: a file that claims more than the allowed pixels is
/// refused before any pixel memory is taken (a decompression bomb). No I/O beyond the bytes given.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Decodes <paramref name="bytes"/>; the caller disposes the bitmap.</summary>
    /// <exception cref="ImageRejectedException">Not an image Skia decodes, too many pixels, or broken data.</exception>
    public static SKBitmap Decode(byte[] bytes, long maxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0)
        {
            throw new ImageRejectedException("the file is empty");
        }

        using var stream = new MemoryStream(bytes, writable: false);
        using var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
        {
            throw new ImageRejectedException($"the file is not an image that can be decoded (PNG, JPEG, WebP, GIF, BMP): {Words(result)}");
        }

        var info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0)
        {
            throw new ImageRejectedException("the image header gives no size");
        }

        if (pixels > maxPixels)
        {
            throw new ImageRejectedException(string.Create(CultureInfo.InvariantCulture,
                $"the image is {info.Width}x{info.Height} ({pixels / 1e6:0.#} megapixels); at most {maxPixels / 1e6:0.#} megapixels are decoded"));
        }

        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(target);
        try
        {
            var decoded = codec.GetPixels(target, bitmap.GetPixels());
            if (decoded != SKCodecResult.Success)
            {
                throw new ImageRejectedException($"the image data cannot be decoded: {Words(decoded)}");
            }

            return bitmap;
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    private static string Words(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the data ends early (a truncated file)",
        SKCodecResult.ErrorInInput => "the data is corrupt",
        SKCodecResult.Unimplemented => "the format is not supported",
        SKCodecResult.InvalidInput or SKCodecResult.CouldNotRewind => "the data is not an image",
        _ => result.ToString(),
    };
}
