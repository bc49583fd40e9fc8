using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using Onnx;
using SkiaSharp;

namespace Mds.ModelGen;

/// <summary>
/// Image classifiers as PyTorch (NCHW) and TensorFlow (NHWC) export them, and test images made with Skia. The
/// classifier tells colours apart: the mean of each channel (GlobalAveragePool) times 10 is the score of class
/// red, green or blue, so a solid red image is "red" under any sane preprocessing.
/// </summary>
public static class ImageModels
{
    /// <summary>The classes, in score order, as the models' <c>classes</c> metadata names them.</summary>
    public static readonly IReadOnlyList<string> Classes = ["red", "green", "blue"];

    /// <summary>
    /// <c>image</c> FP32 [N, 3, <paramref name="size"/>, <paramref name="size"/>] → GlobalAveragePool → Flatten → Gemm (10·I)
    /// → Softmax → <c>probabilities</c> FP32 [N, 3]; <c>classes</c> metadata "red,green,blue" unless <paramref name="named"/> is false.
    /// </summary>
    /// <param name="size">Height and width of the input.</param>
    /// <param name="softmax">False leaves the scores as logits (no Softmax node), output <c>logits</c>.</param>
    /// <param name="named">False leaves out the <c>classes</c> metadata.</param>
    public static byte[] ImageClassifierNchw(int size = 32, bool softmax = true, bool named = true) => Classifier(nhwc: false, size, softmax, named);

    /// <summary>The same classifier taking <c>image</c> FP32 [N, <paramref name="size"/>, <paramref name="size"/>, 3] (a Transpose first).</summary>
    public static byte[] ImageClassifierNhwc(int size = 32) => Classifier(nhwc: true, size, softmax: true, named: true);

    private static byte[] Classifier(bool nhwc, int size, bool softmax, bool named)
    {
        var graph = new GraphProto { Name = nhwc ? "image_classifier_nhwc" : "image_classifier_nchw" };
        graph.Input.Add(TestGraphs.Value("image", TensorProto.Types.DataType.Float, nhwc ? [-1, size, size, 3] : [-1, 3, size, size]));
        string output = softmax ? "probabilities" : "logits";
        graph.Output.Add(TestGraphs.Value(output, TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Initializer.Add(TestGraphs.FloatTensor("w", [10, 0, 0, 0, 10, 0, 0, 0, 10], [3, 3]));
        graph.Initializer.Add(TestGraphs.FloatTensor("b", [0, 0, 0], [3]));
        string first = "image";
        if (nhwc)
        {
            graph.Node.Add(TestGraphs.Node("Transpose", ["image"], ["nchw"], TestGraphs.IntAttribute("perm", [0, 3, 1, 2])));
            first = "nchw";
        }

        graph.Node.Add(TestGraphs.Node("GlobalAveragePool", [first], ["pooled"]));
        graph.Node.Add(TestGraphs.Node("Flatten", ["pooled"], ["features"]));
        graph.Node.Add(TestGraphs.Node("Gemm", ["features", "w", "b"], [softmax ? "logits" : output]));
        if (softmax)
        {
            graph.Node.Add(TestGraphs.Node("Softmax", ["logits"], [output], TestGraphs.IntAttribute("axis", 1)));
        }

        var model = new ModelProto { IrVersion = 8, ProducerName = "Mds.ModelGen", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        if (named)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = "classes", Value = string.Join(',', Classes) });
        }

        return model.ToByteArray();
    }

    /// <summary>A <paramref name="width"/>×<paramref name="height"/> image of one colour, encoded as <paramref name="format"/>.</summary>
    public static byte[] Solid(SKColor color, int width = 40, int height = 30, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(color);
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>An image from its RGBA pixels, row by row (<paramref name="rgba"/> holds 4 bytes per pixel), as PNG.</summary>
    public static byte[] Png(int width, int height, byte[] rgba)
    {
        ArgumentNullException.ThrowIfNull(rgba);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        rgba.AsSpan().CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>
    /// A PNG whose header claims <paramref name="width"/>×<paramref name="height"/> pixels, followed by a tiny (wrong)
    /// image data chunk: a decompression bomb's header, a few dozen bytes long.
    /// </summary>
    public static byte[] HugePngHeader(int width = 20_000, int height = 20_000)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // truecolour RGB
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Bytes that start like a PNG and then are not one.</summary>
    public static byte[] CorruptImage()
    {
        var bytes = new byte[256];
        new Random(7).NextBytes(bytes);
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(bytes, 0);
        return bytes;
    }

    /// <summary>A zip holding <paramref name="files"/> (path in the zip → bytes), deflated.</summary>
    public static byte[] Zip(IEnumerable<(string Path, byte[] Bytes)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (path, bytes) in files)
            {
                using var entry = zip.CreateEntry(path, CompressionLevel.Optimal).Open();
                entry.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>A zip bomb in small: one entry of <paramref name="megabytes"/> MiB of zeros, a few KiB compressed.</summary>
    public static byte[] ZipBomb(int megabytes = 16) => Zip([("bomb.png", new byte[megabytes * 1024 * 1024])]);

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typeAndData);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
        png.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}
