using Mds.Backend.Images;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ModelGen;
using SkiaSharp;

namespace Mds.UnitTests.Images;

public sealed class ImagePreprocessingTests
{
    // A 2×2 image: (10,20,30) (40,50,60) / (70,80,90) (100,110,120), opaque.
    private static readonly byte[] Pixels = [10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255];

    private static readonly double[] Mean = [0.1, 0.2, 0.3];
    private static readonly double[] Std = [0.5, 0.25, 0.125];

    private static ImagePreprocessingDto Settings(string layout = "NCHW", string order = ChannelOrders.Rgb, string scale = ImageScales.Unit, int size = 2) =>
        new(size, size, Mean, Std, scale, order, layout);

    private static double[] Values(byte[] png, ImagePreprocessingDto settings)
    {
        using var bitmap = ImageDecoder.Decode(png, 1_000_000);
        var values = new double[ImageTensor.ValuesPerImage(settings)];
        ImageTensor.Fill(bitmap, settings, values);
        return values;
    }

    private static double Expected(int pixel, int channel, bool bgr = false, double divisor = 255)
    {
        int source = bgr ? 2 - channel : channel;
        return ((Pixels[(pixel * 4) + source] / divisor) - Mean[channel]) / Std[channel];
    }

    [Fact]
    public void Nchw_rgb_unit_scale_gives_each_channel_plane_with_mean_and_std_applied()
    {
        var values = Values(ImageModels.Png(2, 2, Pixels), Settings());

        for (int c = 0; c < 3; c++)
        {
            for (int p = 0; p < 4; p++)
            {
                Assert.Equal(Expected(p, c), values[(c * 4) + p], 9);
            }
        }

        Assert.Equal(((10 / 255.0) - 0.1) / 0.5, values[0], 9);
        Assert.Equal(((120 / 255.0) - 0.3) / 0.125, values[11], 9);
    }

    [Fact]
    public void Nhwc_interleaves_the_channels_of_each_pixel()
    {
        var values = Values(ImageModels.Png(2, 2, Pixels), Settings(layout: "NHWC"));

        for (int p = 0; p < 4; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(Expected(p, c), values[(p * 3) + c], 9);
            }
        }
    }

    [Fact]
    public void Bgr_puts_blue_first_and_mean_and_std_follow_the_tensor_channels()
    {
        var values = Values(ImageModels.Png(2, 2, Pixels), Settings(order: ChannelOrders.Bgr));

        Assert.Equal(((30 / 255.0) - 0.1) / 0.5, values[0], 9); // channel 0 is blue, with mean[0] and std[0]
        for (int c = 0; c < 3; c++)
        {
            for (int p = 0; p < 4; p++)
            {
                Assert.Equal(Expected(p, c, bgr: true), values[(c * 4) + p], 9);
            }
        }
    }

    [Fact]
    public void Byte_scale_keeps_pixels_as_0_to_255()
    {
        var values = Values(ImageModels.Png(2, 2, Pixels), Settings(scale: ImageScales.Byte) with { Mean = [0, 0, 0], Std = [1, 1, 1] });

        Assert.Equal([10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120], values);
    }

    [Fact]
    public void Resize_stretches_to_the_size_and_keeps_a_solid_colour_exact()
    {
        var settings = new ImagePreprocessingDto(3, 5, [0, 0, 0], [1, 1, 1], ImageScales.Unit, ChannelOrders.Rgb, "NCHW");

        var values = Values(ImageModels.Solid(new SKColor(255, 0, 0), width: 40, height: 30), settings);

        Assert.Equal(45, values.Length);
        Assert.All(values[..15], v => Assert.Equal(1, v, 6));
        Assert.All(values[15..], v => Assert.Equal(0, v, 6));
    }

    [Fact]
    public void Resize_by_half_averages_each_block()
    {
        // 4×4: the left half black, the right half white → 2×2: black, white on each row.
        var rgba = new byte[4 * 4 * 4];
        for (int y = 0; y < 4; y++)
        {
            for (int x = 2; x < 4; x++)
            {
                rgba.AsSpan(((y * 4) + x) * 4, 3).Fill(255);
            }
        }

        for (int i = 3; i < rgba.Length; i += 4)
        {
            rgba[i] = 255;
        }

        var settings = new ImagePreprocessingDto(2, 2, [0, 0, 0], [1, 1, 1], ImageScales.Byte, ChannelOrders.Rgb, "NCHW");

        var values = Values(ImageModels.Png(4, 4, rgba), settings);

        for (int c = 0; c < 3; c++)
        {
            Assert.Equal([0, 255, 0, 255], values.Skip(c * 4).Take(4).Select(v => Math.Round(v)).ToArray());
        }
    }

    [Fact]
    public void A_tensor_of_two_images_has_the_batch_first_and_the_input_datatype()
    {
        var input = new ImageInput("image", TensorDatatype.Fp32, ImageLayout.Nhwc, 2, 2);
        using var a = ImageDecoder.Decode(ImageModels.Png(2, 2, Pixels), 100);
        using var b = ImageDecoder.Decode(ImageModels.Solid(SKColors.Blue, 2, 2), 100);

        var tensor = ImageTensor.Create(input, Settings(layout: "NHWC"), [a, b]);

        Assert.Equal([2L, 2, 2, 3], tensor.Shape);
        Assert.Equal(TensorDatatype.Fp32, tensor.Datatype);
        Assert.Equal((float)Expected(0, 0), ((float[])tensor.Data)[0], 5);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp)]
    public void Common_formats_decode(SKEncodedImageFormat format)
    {
        using var bitmap = ImageDecoder.Decode(ImageModels.Solid(new SKColor(0, 200, 0), 16, 8, format), 1000);

        Assert.Equal((16, 8), (bitmap.Width, bitmap.Height));
        Assert.InRange(bitmap.GetPixel(3, 3).Green, 190, 210);
    }

    [Fact]
    public void Decompression_bomb_header_is_refused_before_decoding()
    {
        var e = Assert.Throws<ImageRejectedException>(() => ImageDecoder.Decode(ImageModels.HugePngHeader(20_000, 20_000), 40_000_000));

        Assert.Contains("20000x20000", e.Message, StringComparison.Ordinal);
        Assert.Contains("megapixels", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_bytes_are_refused_with_the_reason()
    {
        Assert.Throws<ImageRejectedException>(() => ImageDecoder.Decode(ImageModels.CorruptImage(), 1_000_000));
        Assert.Throws<ImageRejectedException>(() => ImageDecoder.Decode("not an image"u8.ToArray(), 1_000_000));
        Assert.Throws<ImageRejectedException>(() => ImageDecoder.Decode([], 1_000_000));
    }

    [Fact]
    public void Truncated_png_is_refused()
    {
        byte[] png = ImageModels.Solid(SKColors.Red, 64, 64);

        Assert.Throws<ImageRejectedException>(() => ImageDecoder.Decode(png[..(png.Length / 2)], 1_000_000));
    }

    [Theory]
    [InlineData(new long[] { -1, 3, 32, 32 }, ImageLayout.Nchw, 32, 32)]
    [InlineData(new long[] { -1, 224, 200, 3 }, ImageLayout.Nhwc, 224, 200)]
    [InlineData(new long[] { 1, 3, -1, -1 }, ImageLayout.Nchw, null, null)]
    public void Image_input_layout_and_size_are_read_from_the_shape(long[] shape, ImageLayout layout, int? height, int? width)
    {
        var image = ImageInput.Of([new TensorMetadata("x", "FP32", shape)]);

        Assert.NotNull(image);
        Assert.Equal((layout, height, width), (image.Layout, image.Height, image.Width));
    }

    [Theory]
    [InlineData("FP32", new long[] { -1, 4 })]
    [InlineData("BYTES", new long[] { -1, 3, 8, 8 })]
    [InlineData("FP32", new long[] { -1, 1, 28, 28 })]
    public void Other_inputs_are_not_image_inputs(string datatype, long[] shape) =>
        Assert.Null(ImageInput.Of([new TensorMetadata("x", datatype, shape)]));

    [Fact]
    public void Resolve_defaults_the_size_from_the_shape_and_the_rest_to_identity()
    {
        var image = ImageInput.Of([new TensorMetadata("x", "FP32", [-1, 3, 32, 32])])!;

        var (settings, error) = image.Resolve(null);

        Assert.Null(error);
        Assert.Equal(new ImagePreprocessingDto(32, 32, [0, 0, 0], [1, 1, 1], "0-1", "RGB", "NCHW").ToString(), settings!.ToString());
    }

    [Fact]
    public void Resolve_refuses_a_size_the_model_does_not_take_and_needs_one_when_the_shape_is_free()
    {
        var fixedSize = ImageInput.Of([new TensorMetadata("x", "FP32", [-1, 3, 32, 32])])!;
        var free = ImageInput.Of([new TensorMetadata("x", "FP32", [-1, 3, -1, -1])])!;

        Assert.Contains("32x32", fixedSize.Resolve(new ImagePreprocessingRequest(Height: 64, Width: 64)).Error, StringComparison.Ordinal);
        Assert.Contains("must be given", free.Resolve(null).Error, StringComparison.Ordinal);
        Assert.Equal(224, free.Resolve(new ImagePreprocessingRequest(224, 224)).Settings!.Height);
        Assert.Contains("std", fixedSize.Resolve(new ImagePreprocessingRequest(Std: [1, 0, 1])).Error, StringComparison.Ordinal);
        Assert.Contains("BGR", fixedSize.Resolve(new ImagePreprocessingRequest(ChannelOrder: "GRB")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Form_fields_parse_imagenet_settings()
    {
        var fields = new Dictionary<string, string>
        {
            ["imageSize"] = "224x200", ["imageMean"] = "0.485, 0.456, 0.406", ["imageStd"] = "0.229,0.224,0.225",
            ["imageScale"] = "0-1", ["channelOrder"] = "bgr",
        };

        var (given, error) = ImagePreprocessingForm.Parse(fields);

        Assert.Null(error);
        Assert.Equal((224, 200), (given!.Height, given.Width));
        Assert.Equal([0.485, 0.456, 0.406], given.Mean);
        Assert.Equal("bgr", given.ChannelOrder);
        Assert.Equal("BGR", ImageInput.Of([new TensorMetadata("x", "FP32", [-1, 3, -1, -1])])!.Resolve(given).Settings!.ChannelOrder);
        Assert.Null(ImagePreprocessingForm.Parse(new Dictionary<string, string> { ["name"] = "m" }).Given);
        Assert.NotNull(ImagePreprocessingForm.Parse(new Dictionary<string, string> { ["imageMean"] = "1,2" }).Error);
        Assert.NotNull(ImagePreprocessingForm.Parse(new Dictionary<string, string> { ["imageSize"] = "big" }).Error);
    }
}

public sealed class ImageClassesTests
{
    private static InferenceResponse Response(params InferenceTensor[] outputs) => new() { ModelName = "m", Outputs = outputs };

    [Fact]
    public void Probabilities_are_kept_and_ranked_with_the_class_names()
    {
        var reading = ImageClasses.Read(Response(new InferenceTensor("p", TensorDatatype.Fp32, [1, 3], new[] { 0.2f, 0.7f, 0.1f })), 0, 1, ["red", "green", "blue"]);

        Assert.Equal("green", reading.Predicted);
        Assert.Equal("model", reading.Source);
        Assert.Equal(["green", "red", "blue"], reading.Ranked.Select(c => c.Label));
        Assert.Equal(0.7, reading.Ranked[0].Probability, 6);
    }

    [Fact]
    public void Logits_go_through_softmax_and_unnamed_classes_are_class_i()
    {
        var reading = ImageClasses.Read(Response(new InferenceTensor("logits", TensorDatatype.Fp32, [2, 2], new[] { 0f, 0f, 1f, 3f })), 1, 2, null);

        Assert.Equal("softmax", reading.Source);
        Assert.Equal("class 1", reading.Predicted);
        Assert.Equal(1 / (1 + Math.Exp(-2)), reading.Ranked[0].Probability, 9);
        Assert.Equal("class 0", reading.Ranked[1].Label);
    }

    [Fact]
    public void A_label_output_is_the_prediction_and_class_labels_parameter_names_the_scores()
    {
        var reading = ImageClasses.Read(Response(
            new InferenceTensor("label", TensorDatatype.Int64, [1], new[] { 7L }),
            new InferenceTensor("probability", TensorDatatype.Fp32, [1, 2], new[] { 0.4f, 0.6f },
                new Dictionary<string, object?> { ["class_labels"] = "[\"3\",\"7\"]" })), 0, 1, ["a", "b"]);

        Assert.Equal("7", reading.Predicted);
        Assert.Equal(["7", "3"], reading.Ranked.Select(c => c.Label));
    }
}

public sealed class ImageZipTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    private static readonly ImageOptions Options = new() { MaxZipEntries = 3, MaxImageBytes = 32 * 1024 * 1024 };

    [Fact]
    public void Image_entries_are_named_by_their_path_and_folders_and_dot_files_are_skipped()
    {
        File.WriteAllBytes(_path, ImageModels.Zip([
            ("a/red.png", ImageModels.Solid(SKColors.Red)), ("__MACOSX/a/._red.png", [1, 2]), ("a/.DS_Store", [0]), ("blue.jpg", ImageModels.Solid(SKColors.Blue, format: SKEncodedImageFormat.Jpeg)),
        ]));

        Assert.Equal(["a/red.png", "blue.jpg"], ImageZip.Check(_path, Options));
        Assert.Equal(["a/red.png", "blue.jpg"], ImageZip.Read(_path, Options).Select(e => e.Name));
    }

    [Fact]
    public void Zip_bomb_entry_is_refused_by_its_ratio()
    {
        File.WriteAllBytes(_path, ImageModels.ZipBomb(16));

        var e = Assert.Throws<ImageRejectedException>(() => ImageZip.Check(_path, Options));

        Assert.Contains("zip bomb", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_entries_and_entries_over_the_image_limit_are_refused()
    {
        File.WriteAllBytes(_path, ImageModels.Zip(Enumerable.Range(0, 4).Select(i => ($"{i}.png", ImageModels.Solid(SKColors.Red)))));
        Assert.Contains("more than 3 files", Assert.Throws<ImageRejectedException>(() => ImageZip.Check(_path, Options)).Message, StringComparison.Ordinal);

        var random = new byte[4096];
        new Random(1).NextBytes(random);
        File.WriteAllBytes(_path, ImageModels.Zip([("big.png", random)]));
        Assert.Contains("per image", Assert.Throws<ImageRejectedException>(() => ImageZip.Check(_path, new ImageOptions { MaxImageBytes = 2048 })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_refused()
    {
        File.WriteAllBytes(_path, "name,value\n1,2\n"u8.ToArray());

        Assert.Throws<ImageRejectedException>(() => ImageZip.Check(_path, Options));
    }
}
