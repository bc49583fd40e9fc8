using Mds.Contracts.Cluster;
using Mds.ModelGen;
using Mds.Onnx;
using Styles = Mds.ModelGen.ExportStyles;

namespace Mds.UnitTests.Onnx;

/// <summary>The external-data locations a model names, read from its bytes, and which of them stay in its directory.</summary>
public sealed class OnnxFileFactsTests
{
    [Theory]
    [InlineData("weights.bin")]
    [InlineData("../../etc/passwd")]
    [InlineData("sub/dir/w.bin")]
    public void External_data_locations_are_read_as_OnnxSharp_reads_them(string location)
    {
        var model = Styles.ExternalDataMlp(location);
        string path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".onnx");
        File.WriteAllBytes(path, model.Model);
        try
        {
            var expected = global::Onnx.ModelProto.Parser.ParseFrom(model.Model).Graph.Initializer
                .SelectMany(t => t.ExternalData).Where(e => e.Key == "location").Select(e => e.Value).Distinct().ToList();
            Assert.Equal(expected, OnnxFileFacts.Read(path).ExternalDataFiles);
            Assert.Equal([location], OnnxFileFacts.Read(path).ExternalDataFiles);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_model_with_inline_weights_names_no_external_data()
    {
        string path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".onnx");
        File.WriteAllBytes(path, TestGraphs.Linear([1f, 2f], 0.5f));
        try
        {
            Assert.Empty(OnnxFileFacts.Read(path).ExternalDataFiles);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("weights.bin", true)]
    [InlineData("sub/weights.bin", true)]
    [InlineData("../weights.bin", false)]
    [InlineData("sub/../../x", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("C:/x", false)]
    [InlineData("a\\..\\b", false)]
    [InlineData("./w.bin", false)]
    [InlineData("a//b", false)]
    [InlineData("", false)]
    public void Only_relative_paths_inside_the_model_directory_are_confined(string path, bool confined) =>
        Assert.Equal(confined, ModelBundle.WhyNotConfined(path) is null);

    [Fact]
    public void A_manifest_reads_back_only_as_written()
    {
        var files = new Dictionary<string, string> { ["model.onnx"] = new string('a', 64), ["w/b.bin"] = new string('b', 64) };
        byte[] manifest = ModelBundle.Manifest(files);
        Assert.Equal(files, ModelBundle.ParseManifest(manifest));
        Assert.Null(ModelBundle.ParseManifest([.. manifest, .. "x"u8]));
        Assert.Null(ModelBundle.ParseManifest(ModelBundle.Manifest(new Dictionary<string, string> { ["../x"] = new string('a', 64), ["model.onnx"] = new string('a', 64) })));
    }
}
