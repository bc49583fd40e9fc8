using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Registry;

/// <summary>
/// Models whose weights live in ONNX external-data files (as PyTorch saves large models) are uploaded as a zip or as
/// several multipart files, served by a real worker from the unpacked files; every name stays in the model's own
/// directory, and hostile zips are refused with the reason.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ExternalDataTests(MdsCluster cluster)
{
    private static readonly float[] Row = [0.5f, -1.25f, 2f, 0.75f];

    [Fact]
    public async Task External_data_model_uploaded_as_a_zip_is_served_with_the_reference_answers()
    {
        var model = ExportStyles.ExternalDataMlp();
        var response = await cluster.PostFileAsync("/api/models", model.ToZip("exported/model.onnx", "exported/" + model.WeightsLocation), "mlp.zip",
            new Dictionary<string, string> { ["name"] = "ext-zip" });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        await cluster.WaitForVersionAsync("ext-zip", 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        await AssertAnswersAsync("ext-zip");
    }

    [Fact]
    public async Task External_data_model_uploaded_as_several_files_is_served_and_stored_under_the_same_address_as_its_zip()
    {
        var model = ExportStyles.ExternalDataMlp("weights/mlp.bin");
        var response = await UploadFilesAsync("ext-files", model.Model, (model.WeightsLocation, model.Weights));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var files = (await response.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        await cluster.WaitForVersionAsync("ext-files", 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        await AssertAnswersAsync("ext-files");

        // Content-addressed by the files, not by how they travelled: the same model as a zip has the same address.
        var zipped = await cluster.PostFileAsync("/api/models/inspect", model.ToZip(), "mlp.zip");
        Assert.Equal(HttpStatusCode.OK, zipped.StatusCode);
        Assert.Equal(files.Sha256, (string)(await zipped.Content.ReadFromJsonAsync<JsonObject>())!["sha256"]!);
    }

    [Fact]
    public async Task Location_escaping_the_model_directory_is_refused_in_every_upload_form()
    {
        var hostile = ExportStyles.ExternalDataMlpEscapingItsDirectory();
        Assert.Contains("../../etc/passwd", ReferencedLocations(hostile.Model)); // the model really points there

        var single = await cluster.UploadAsync("ext-escape", hostile.Model);
        var zip = await cluster.PostFileAsync("/api/models", hostile.ToZip(weightsEntry: "passwd"), "m.zip", new Dictionary<string, string> { ["name"] = "ext-escape" });
        var files = await UploadFilesAsync("ext-escape", hostile.Model, ("passwd", hostile.Weights));
        var part = await UploadFilesAsync("ext-escape", ExportStyles.ExternalDataMlp().Model, ("../weights.bin", hostile.Weights));
        foreach (var response in new[] { single, zip, files })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("'../../etc/passwd' leaves the model's directory", await DetailAsync(response), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.BadRequest, part.StatusCode);
        Assert.Contains("'../weights.bin' leaves the model's directory", await DetailAsync(part), StringComparison.Ordinal);
        using var client = await cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/models/ext-escape")).StatusCode);
    }

    [Fact]
    public async Task Zip_bomb_and_zip_tricks_are_refused_with_the_reason()
    {
        var model = ExportStyles.ExternalDataMlp();

        // 1.5 MiB of zeros deflates to a few KiB: far past the expansion limit.
        var bomb = Zip(("model.onnx", model.Model, CompressionLevel.Optimal), ("weights.bin", new byte[3 << 19], CompressionLevel.SmallestSize));
        Assert.Contains("zip bomb", await RefusedAsync(bomb), StringComparison.Ordinal);

        var noModel = Zip(("weights.bin", model.Weights, CompressionLevel.Optimal));
        Assert.Contains("holds no .onnx file", await RefusedAsync(noModel), StringComparison.Ordinal);

        var twoModels = Zip(("a.onnx", model.Model, CompressionLevel.Optimal), ("b.onnx", model.Model, CompressionLevel.Optimal));
        Assert.Contains("exactly one model", await RefusedAsync(twoModels), StringComparison.Ordinal);

        var escaping = Zip(("model.onnx", model.Model, CompressionLevel.Optimal), ("../weights.bin", model.Weights, CompressionLevel.Optimal));
        Assert.Contains("leaves the model's directory", await RefusedAsync(escaping), StringComparison.Ordinal);

        var absolute = Zip(("/tmp/model.onnx", model.Model, CompressionLevel.Optimal));
        Assert.Contains("absolute path", await RefusedAsync(absolute), StringComparison.Ordinal);

        var missingData = Zip(("model.onnx", model.Model, CompressionLevel.Optimal));
        Assert.Contains("'weights.bin' is not in the upload", await RefusedAsync(missingData), StringComparison.Ordinal);

        var symlink = Zip(("model.onnx", model.Model, CompressionLevel.Optimal), ("weights.bin@symlink", "/etc/passwd"u8.ToArray(), CompressionLevel.NoCompression));
        Assert.Contains("symbolic link", await RefusedAsync(symlink), StringComparison.Ordinal);
    }

    private async Task<string> RefusedAsync(byte[] zip)
    {
        var response = await cluster.PostFileAsync("/api/models", zip, "m.zip", new Dictionary<string, string> { ["name"] = "ext-refused" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return await DetailAsync(response);
    }

    private async Task AssertAnswersAsync(string name)
    {
        using var client = await cluster.ClientAsync(Roles.Analyst);
        var response = await client.PostAsync($"/v2/models/{name}/infer", V2Json.Request("input", [1, 4], "FP32", Row));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var output = V2Json.Output((await response.Content.ReadFromJsonAsync<JsonNode>())!, "output");
        var actual = output["data"]!.AsArray().Select(v => (float)v!).ToArray();
        var expected = ExportStylesReference.ExternalDataMlp(Row);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 4);
        }
    }

    private async Task<HttpResponseMessage> UploadFilesAsync(string name, byte[] onnx, params (string Location, byte[] Bytes)[] data)
    {
        using var client = await cluster.ClientAsync(Roles.Researcher);
        using var form = new MultipartFormDataContent { { new StringContent(name), "name" } };
        var file = new ByteArrayContent(onnx);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", "model.onnx");
        foreach (var (location, bytes) in data)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            // The location as the file name, directories and all (MultipartFormDataContent would write filename* too).
            part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"data\"", FileName = "\"" + location + "\"" };
            form.Add(part);
        }

        return await client.PostAsync("/api/models", form);
    }

    /// <summary>The external-data locations the model references, read with OnnxSharp's protobuf classes (test code only).</summary>
    private static List<string> ReferencedLocations(byte[] onnx) =>
        [.. global::Onnx.ModelProto.Parser.ParseFrom(onnx).Graph.Initializer
            .SelectMany(t => t.ExternalData).Where(e => e.Key == "location").Select(e => e.Value).Distinct()];

    private static byte[] Zip(params (string Name, byte[] Bytes, CompressionLevel Level)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes, level) in entries)
            {
                // "name@symlink": a Unix symbolic link, as `zip -y` stores one (its data is the link's target).
                bool link = name.EndsWith("@symlink", StringComparison.Ordinal);
                var entry = zip.CreateEntry(link ? name[..^"@symlink".Length] : name, level);
                if (link)
                {
                    entry.ExternalAttributes = unchecked((int)(0xA1FFu << 16));
                }

                using var stream = entry.Open();
                stream.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())?["detail"] ?? "";
}
