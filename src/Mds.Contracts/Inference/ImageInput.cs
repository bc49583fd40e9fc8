using System.Globalization;
using Mds.Contracts.Api;

namespace Mds.Contracts.Inference;

/// <summary>Where an image model's channel axis is: <c>[N, 3, H, W]</c> or <c>[N, H, W, 3]</c>.</summary>
public enum ImageLayout
{
    /// <summary>Channels first: <c>[N, 3, H, W]</c> (PyTorch's default).</summary>
    Nchw,

    /// <summary>Channels last: <c>[N, H, W, 3]</c> (TensorFlow's default).</summary>
    Nhwc,
}

/// <summary>
/// An image model's input: the model's only input, numeric, of shape <c>[N, 3, H, W]</c> or <c>[N, H, W, 3]</c>. The
/// layout is read from the shape (channels first when dimension 1 is 3, else channels last when dimension 3 is 3).
/// </summary>
/// <param name="Name">The input's name.</param>
/// <param name="Datatype">Its numeric datatype.</param>
/// <param name="Layout">Channels first or last.</param>
/// <param name="Height">The fixed height, or null when the model takes any.</param>
/// <param name="Width">The fixed width, or null when the model takes any.</param>
public sealed record ImageInput(string Name, TensorDatatype Datatype, ImageLayout Layout, int? Height, int? Width)
{
    /// <summary>The largest side a version's preprocessing may resize to.</summary>
    public const int MaxSide = 4096;

    /// <summary>The image input of a model whose inputs are <paramref name="inputs"/>, or null when it is not an image model.</summary>
    public static ImageInput? Of(IReadOnlyList<TensorMetadata> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != 1 || inputs[0].Shape is not { Length: 4 })
        {
            return null;
        }

        long[] shape = inputs[0].Shape;
        var datatype = TensorDatatypes.Parse(inputs[0].Datatype);
        if (datatype is TensorDatatype.Bytes or TensorDatatype.Bool or TensorDatatype.Invalid)
        {
            return null;
        }

        static int? Side(long d) => d > 0 && d <= MaxSide ? (int)d : null;
        if (shape[1] == 3 && shape[3] != 3)
        {
            return new ImageInput(inputs[0].Name, datatype, ImageLayout.Nchw, Side(shape[2]), Side(shape[3]));
        }

        if (shape[3] == 3)
        {
            return new ImageInput(inputs[0].Name, datatype, ImageLayout.Nhwc, Side(shape[1]), Side(shape[2]));
        }

        return null;
    }

    /// <summary>"NCHW" or "NHWC".</summary>
    public string LayoutName => Layout == ImageLayout.Nchw ? "NCHW" : "NHWC";

    /// <summary>
    /// The preprocessing to store for this input: <paramref name="given"/>'s values, with the size taken from the input's
    /// shape when the model fixes it and none is given, and defaults for the rest (mean 0, std 1, scale 0–1, RGB).
    /// </summary>
    /// <returns>The settings, or the reason they cannot serve this input (for a 400).</returns>
    public (ImagePreprocessingDto? Settings, string? Error) Resolve(ImagePreprocessingRequest? given)
    {
        int? height = given?.Height ?? Height;
        int? width = given?.Width ?? Width;
        if (height is null || width is null)
        {
            return (null, $"input '{Name}' does not fix its height and width, so the image size to resize to must be given (e.g. 224x224)");
        }

        if (Height is int h && Width is int w && (h != height || w != width))
        {
            return (null, $"input '{Name}' takes {h}x{w} images; the size cannot be {height}x{width}");
        }

        var settings = new ImagePreprocessingDto(height.Value, width.Value,
            given?.Mean ?? [0, 0, 0], given?.Std ?? [1, 1, 1],
            given?.Scale ?? ImageScales.Unit, given?.ChannelOrder?.ToUpperInvariant() ?? ChannelOrders.Rgb, LayoutName);
        return settings.Validate() is { } error ? (null, error) : (settings, null);
    }
}

/// <summary>Pixel scales an image model may expect.</summary>
public static class ImageScales
{
    /// <summary>Pixels as 0–1 (the byte divided by 255).</summary>
    public const string Unit = "0-1";

    /// <summary>Pixels as 0–255 (the byte as it is).</summary>
    public const string Byte = "0-255";
}

/// <summary>Channel orders an image model may expect.</summary>
public static class ChannelOrders
{
    /// <summary>Red, green, blue (most PyTorch and TensorFlow models).</summary>
    public const string Rgb = "RGB";

    /// <summary>Blue, green, red (Caffe and OpenCV-trained models).</summary>
    public const string Bgr = "BGR";
}

/// <summary>Parses the preprocessing fields of an upload form (text), for the backend and the portal alike.</summary>
public static class ImagePreprocessingForm
{
    /// <summary>The form fields that set preprocessing.</summary>
    public static readonly IReadOnlyList<string> Fields = ["imageSize", "imageMean", "imageStd", "imageScale", "channelOrder"];

    /// <summary>
    /// Reads <c>imageSize</c> ("224x224" or "224"), <c>imageMean</c> and <c>imageStd</c> (three numbers, comma-separated),
    /// <c>imageScale</c> ("0-1" or "0-255") and <c>channelOrder</c> ("RGB" or "BGR"); null when none is given.
    /// </summary>
    /// <returns>The settings given (unset parts null), or the reason a field cannot be read.</returns>
    public static (ImagePreprocessingRequest? Given, string? Error) Parse(IReadOnlyDictionary<string, string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        string? Field(string name) => fields.TryGetValue(name, out string? v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        if (Fields.All(f => Field(f) is null))
        {
            return (null, null);
        }

        int? height = null, width = null;
        if (Field("imageSize") is { } size)
        {
            var parts = size.Split(['x', 'X', '×', ','], StringSplitOptions.TrimEntries);
            if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                return (null, $"'imageSize' must be HxW (e.g. 224x224) or one number for a square; '{size}' is not");
            }

            height = int.Parse(parts[0], CultureInfo.InvariantCulture);
            width = int.Parse(parts[^1], CultureInfo.InvariantCulture);
        }

        var (mean, meanError) = Triple(Field("imageMean"), "imageMean");
        var (std, stdError) = Triple(Field("imageStd"), "imageStd");
        if ((meanError ?? stdError) is { } error)
        {
            return (null, error);
        }

        return (new ImagePreprocessingRequest(height, width, mean, std, Field("imageScale"), Field("channelOrder")), null);
    }

    private static (IReadOnlyList<double>? Values, string? Error) Triple(string? text, string field)
    {
        if (text is null)
        {
            return (null, null);
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new List<double>(3);
        foreach (string part in parts)
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            {
                return (null, $"'{field}' must be three numbers, comma-separated (e.g. 0.485,0.456,0.406); '{text}' is not");
            }

            values.Add(v);
        }

        return values.Count == 3 ? (values, null) : (null, $"'{field}' must be three numbers, one per channel; '{text}' has {values.Count}");
    }
}
