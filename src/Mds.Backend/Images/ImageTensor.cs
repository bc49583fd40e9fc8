using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using SkiaSharp;

namespace Mds.Backend.Images;

/// <summary>
/// Decoded images → a model's input tensor as the version's <see cref="ImagePreprocessingDto"/> says: resize (bilinear
/// with mipmaps, stretched to the size), channels in RGB or BGR order, scale to 0–1 or keep 0–255, (x − mean) / std per
/// channel, laid out NCHW or NHWC. Alpha is dropped. Pure: tested directly.
/// </summary>
public static class ImageTensor
{
    private static readonly SKSamplingOptions Sampling = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    /// <summary>One tensor <c>[images, 3, H, W]</c> or <c>[images, H, W, 3]</c> of <paramref name="input"/>'s datatype.</summary>
    /// <exception cref="InferenceProtocolException">A value does not fit the input's datatype (e.g. a negative one for UINT8).</exception>
    public static InferenceTensor Create(ImageInput input, ImagePreprocessingDto settings, IReadOnlyList<SKBitmap> images)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(images);
        int perImage = ValuesPerImage(settings);
        var values = new double[images.Count * perImage];
        for (int i = 0; i < images.Count; i++)
        {
            Fill(images[i], settings, values.AsSpan(i * perImage, perImage));
        }

        return FromValues(input, settings, values, images.Count);
    }

    /// <summary>How many values one image becomes: 3 × H × W.</summary>
    public static int ValuesPerImage(ImagePreprocessingDto settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return 3 * settings.Height * settings.Width;
    }

    /// <summary>The tensor for <paramref name="images"/> images whose values <see cref="Fill"/> wrote one after another.</summary>
    /// <exception cref="InferenceProtocolException">A value does not fit the input's datatype.</exception>
    public static InferenceTensor FromValues(ImageInput input, ImagePreprocessingDto settings, double[] values, int images)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(settings);
        long[] shape = settings.Layout == "NHWC"
            ? [images, settings.Height, settings.Width, 3]
            : [images, 3, settings.Height, settings.Width];
        return new InferenceTensor(input.Name, input.Datatype, shape, TabularTensor.Convert(values, input.Datatype));
    }

    /// <summary>Writes one image's <c>3 × H × W</c> values into <paramref name="destination"/>.</summary>
    public static void Fill(SKBitmap image, ImagePreprocessingDto settings, Span<double> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(settings);
        int height = settings.Height, width = settings.Width, plane = height * width;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"{destination.Length} values cannot hold a 3x{height}x{width} image", nameof(destination));
        }

        var rgba = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        SKBitmap? resized = null;
        try
        {
            var source = image;
            if (image.Width != width || image.Height != height || image.ColorType != SKColorType.Rgba8888)
            {
                resized = image.Resize(rgba, Sampling) ?? throw new ImageRejectedException("the image could not be resized");
                source = resized;
            }

            ReadOnlySpan<byte> pixels = source.GetPixelSpan();
            int rowBytes = source.RowBytes;
            bool bgr = settings.ChannelOrder == ChannelOrders.Bgr;
            double divisor = settings.Scale == ImageScales.Unit ? 255.0 : 1.0;
            bool nchw = settings.Layout != "NHWC";
            Span<double> mean = [settings.Mean[0], settings.Mean[1], settings.Mean[2]];
            Span<double> std = [settings.Std[0], settings.Std[1], settings.Std[2]];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int p = (y * rowBytes) + (x * 4);
                    for (int c = 0; c < 3; c++)
                    {
                        byte value = pixels[p + (bgr ? 2 - c : c)]; // RGBA in memory: tensor channel c is R, G, B (or B, G, R)
                        double v = ((value / divisor) - mean[c]) / std[c];
                        destination[nchw ? (c * plane) + (y * width) + x : (((y * width) + x) * 3) + c] = v;
                    }
                }
            }
        }
        finally
        {
            resized?.Dispose();
        }
    }
}
