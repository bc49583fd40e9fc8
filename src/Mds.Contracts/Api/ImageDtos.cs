using System.Globalization;
using Mds.Contracts.Inference;

namespace Mds.Contracts.Api;

/// <summary>
/// How a version turns an image into its input tensor (stored on the version, set at upload, changed with
/// <c>PUT /api/models/{name}/versions/{v}/preprocessing</c>): decode, resize to <paramref name="Height"/>×<paramref name="Width"/>
/// (stretched; the aspect ratio is not kept and nothing is cropped), take each pixel's channels in
/// <paramref name="ChannelOrder"/>, scale them (<paramref name="Scale"/>), then per channel (x − mean) / std, and lay
/// them out as <paramref name="Layout"/> says. Alpha is dropped.
/// </summary>
/// <param name="Height">Height to resize to, in pixels.</param>
/// <param name="Width">Width to resize to, in pixels.</param>
/// <param name="Mean">Per tensor channel (in <paramref name="ChannelOrder"/>), subtracted after scaling.</param>
/// <param name="Std">Per tensor channel, divided by after the mean is subtracted; each &gt; 0.</param>
/// <param name="Scale"><see cref="ImageScales.Unit"/> (pixel / 255) or <see cref="ImageScales.Byte"/> (pixel as is).</param>
/// <param name="ChannelOrder"><see cref="ChannelOrders.Rgb"/> or <see cref="ChannelOrders.Bgr"/>.</param>
/// <param name="Layout">"NCHW" or "NHWC", read from the input's shape (not settable).</param>
public sealed record ImagePreprocessingDto(
    int Height, int Width, IReadOnlyList<double> Mean, IReadOnlyList<double> Std, string Scale, string ChannelOrder, string Layout)
{
    /// <summary>Why these settings cannot be used, or null.</summary>
    public string? Validate()
    {
        if (Height < 1 || Width < 1 || Height > ImageInput.MaxSide || Width > ImageInput.MaxSide)
        {
            return $"the image size must be 1 to {ImageInput.MaxSide} pixels each way; {Height}x{Width} is not";
        }

        if (Mean is not { Count: 3 } || Std is not { Count: 3 } || Mean.Any(m => !double.IsFinite(m)) || Std.Any(s => !double.IsFinite(s) || s <= 0))
        {
            return "mean and std must be three finite numbers each (one per channel), every std above 0";
        }

        if (Scale is not (ImageScales.Unit or ImageScales.Byte))
        {
            return $"the scale must be '{ImageScales.Unit}' or '{ImageScales.Byte}'; '{Scale}' is not";
        }

        return ChannelOrder is ChannelOrders.Rgb or ChannelOrders.Bgr ? null : $"the channel order must be RGB or BGR; '{ChannelOrder}' is not";
    }

    /// <summary>The settings in words, e.g. "224x224 RGB 0-1, mean 0.485,0.456,0.406, std 0.229,0.224,0.225, NCHW".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Height}x{Width} {ChannelOrder} {Scale}, mean {string.Join(',', Mean)}, std {string.Join(',', Std)}, {Layout}");
}

/// <summary>
/// Preprocessing as given (an upload's form fields or the body of <c>PUT …/preprocessing</c>); what is left out takes
/// its default: the size from the input's shape when it is fixed, mean 0, std 1, scale 0–1, RGB.
/// </summary>
/// <param name="Height">Height to resize to.</param>
/// <param name="Width">Width to resize to.</param>
/// <param name="Mean">Three numbers, per tensor channel.</param>
/// <param name="Std">Three numbers above 0, per tensor channel.</param>
/// <param name="Scale">"0-1" or "0-255".</param>
/// <param name="ChannelOrder">"RGB" or "BGR".</param>
public sealed record ImagePreprocessingRequest(
    int? Height = null, int? Width = null, IReadOnlyList<double>? Mean = null, IReadOnlyList<double>? Std = null, string? Scale = null, string? ChannelOrder = null);

/// <summary>One class and its probability (or score), as <c>POST …/infer/image</c> ranks them.</summary>
/// <param name="Label">The class's label: from the model's label output or <c>classes</c> metadata, else "class i".</param>
/// <param name="Index">The class's position in the model's output.</param>
/// <param name="Probability">Its probability (see <see cref="ImagePredictionDto.ProbabilitySource"/>).</param>
public sealed record ClassScoreDto(string Label, int Index, double Probability);

/// <summary>One output of the model, as it answered.</summary>
/// <param name="Name">The output's name.</param>
/// <param name="Datatype">Its V2 datatype.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Data">Its elements, row-major: numbers, or text for BYTES.</param>
public sealed record ImageOutputDto(string Name, string Datatype, IReadOnlyList<long> Shape, IReadOnlyList<object> Data);

/// <summary>The answer of <c>POST /api/models/{name}/versions/{v}/infer/image</c>.</summary>
/// <param name="ModelName">The model.</param>
/// <param name="Version">The version that answered.</param>
/// <param name="RequestId">The request's id: its inference record's, and what feedback refers to.</param>
/// <param name="Predicted">The predicted class: the model's label output when it has one, else the top class.</param>
/// <param name="Top">The top classes, most probable first (at most <c>top</c>, default 5).</param>
/// <param name="ProbabilitySource">
/// "model" when the scores output already is a probability vector (each in [0, 1], summing to 1 within 1e-3), else
/// "softmax" (the softmax of the scores was taken).
/// </param>
/// <param name="ScoresOutput">The output the classes were read from.</param>
/// <param name="Outputs">Every output as the model answered it.</param>
/// <param name="LatencyMs">Time spent in the model call, in milliseconds.</param>
public sealed record ImagePredictionDto(
    string ModelName, int Version, string RequestId, string Predicted, IReadOnlyList<ClassScoreDto> Top, string ProbabilitySource,
    string ScoresOutput, IReadOnlyList<ImageOutputDto> Outputs, double LatencyMs);
