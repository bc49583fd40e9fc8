using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using SkiaSharp;

namespace Mds.IntegrationTests.Images;

/// <summary>
/// Image models end to end: preprocessing set at upload and changed later, an image file classified through the
/// gateway (and recorded), hostile images and zips refused with a 400 before anything is decoded, and a zip of images
/// scored as a batch.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ImageModelTests(MdsCluster cluster)
{
    private const string Model = "image-rgb";

    private static readonly Dictionary<string, string> ImageNet = new()
    {
        ["imageMean"] = "0.485,0.456,0.406", ["imageStd"] = "0.229,0.224,0.225", ["imageScale"] = "0-1", ["channelOrder"] = "RGB",
    };

    private async Task EnsureModelAsync()
    {
        using var client = await cluster.ClientAsync(Roles.Analyst);
        if ((await client.GetAsync($"/api/models/{Model}")).StatusCode == HttpStatusCode.NotFound)
        {
            await cluster.DeployAsync(Model, ImageModels.ImageClassifierNchw(), ImageNet);
        }
        else
        {
            await cluster.WaitForVersionAsync(Model, 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        }
    }

    private Task<HttpResponseMessage> InferAsync(string model, int version, byte[] image, string fileName = "image.png", string role = Roles.Analyst) =>
        cluster.PostFileAsync($"/api/models/{model}/versions/{version}/infer/image", image, fileName, role: role);

    [Fact]
    public async Task Upload_stores_the_preprocessing_and_a_red_png_is_classified_red_and_recorded()
    {
        await EnsureModelAsync();
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var version = (await analyst.GetFromJsonAsync<ModelVersionDto>($"/api/models/{Model}/versions/1"))!;
        var settings = version.ImagePreprocessing!;
        Assert.Equal((32, 32, "0-1", "RGB", "NCHW"), (settings.Height, settings.Width, settings.Scale, settings.ChannelOrder, settings.Layout));
        Assert.Equal([0.485, 0.456, 0.406], settings.Mean);
        Assert.Equal([0.229, 0.224, 0.225], settings.Std);
        Assert.Equal(["red", "green", "blue"], version.Classes);

        var response = await InferAsync(Model, 1, ImageModels.Solid(SKColors.Red, 300, 200));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var prediction = (await response.Content.ReadFromJsonAsync<ImagePredictionDto>())!;
        Assert.Equal(("red", "red", "model", "probabilities", 1), (prediction.Predicted, prediction.Top[0].Label, prediction.ProbabilitySource, prediction.ScoresOutput, prediction.Version));
        Assert.Equal(3, prediction.Top.Count);
        Assert.True(prediction.Top[0].Probability > 0.99, $"red's probability {prediction.Top[0].Probability}");
        Assert.Equal("probabilities", prediction.Outputs.Single().Name);

        // JPEG and a green image, through the live version's route.
        var green = await cluster.PostFileAsync($"/api/models/{Model}/infer/image?top=1", ImageModels.Solid(SKColors.Lime, 64, 64, SKEncodedImageFormat.Jpeg), "g.jpg", role: Roles.Analyst);
        var greenPrediction = (await green.Content.ReadFromJsonAsync<ImagePredictionDto>())!;
        Assert.Equal(("green", 1), (greenPrediction.Predicted, greenPrediction.Top.Count));

        // The call is an inference record like any other, under the caller's name.
        InferenceRecordSummaryDto? record = null;
        await Eventually.TrueAsync(async () =>
        {
            record = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={prediction.RequestId}"))!.Records.SingleOrDefault();
            return record is not null;
        }, TimeSpan.FromSeconds(20), "the image call's inference record");
        Assert.Equal((Model, 1, 200, MdsCluster.EmailOf(Roles.Analyst)), (record!.ModelName, record.Version, record.Status, record.Caller));
    }

    [Fact]
    public async Task Corrupt_image_bytes_are_refused_with_400_and_the_reason()
    {
        await EnsureModelAsync();

        var response = await InferAsync(Model, 1, ImageModels.CorruptImage());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("cannot be", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var text = await InferAsync(Model, 1, "hello"u8.ToArray(), "hello.txt");
        Assert.Equal(HttpStatusCode.BadRequest, text.StatusCode);
    }

    [Fact]
    public async Task Decompression_bomb_png_header_is_refused_with_400_before_decoding()
    {
        await EnsureModelAsync();

        var response = await InferAsync(Model, 1, ImageModels.HugePngHeader(30_000, 30_000));

        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Contains("30000x30000", body, StringComparison.Ordinal);
        Assert.Contains("megapixels", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preprocessing_is_changed_by_researchers_only_and_checked_against_the_input()
    {
        await EnsureModelAsync();
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string path = $"/api/models/{Model}/versions/1/preprocessing";

        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PutAsJsonAsync(path, new ImagePreprocessingRequest(Scale: "0-255"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await researcher.PutAsJsonAsync(path, new ImagePreprocessingRequest(Height: 64, Width: 64))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await researcher.PutAsJsonAsync(path, new ImagePreprocessingRequest(Std: [1, 0, 1]))).StatusCode);

        // BGR with the same mean/std: a red image's red lands in the "blue" channel.
        var changed = await researcher.PutAsJsonAsync(path, new ImagePreprocessingRequest(Mean: [0.485, 0.456, 0.406], Std: [0.229, 0.224, 0.225], ChannelOrder: "BGR"));
        Assert.True(changed.StatusCode == HttpStatusCode.OK, await changed.Content.ReadAsStringAsync());
        Assert.Equal("BGR", (await changed.Content.ReadFromJsonAsync<ModelVersionDto>())!.ImagePreprocessing!.ChannelOrder);
        try
        {
            var prediction = (await (await InferAsync(Model, 1, ImageModels.Solid(SKColors.Red))).Content.ReadFromJsonAsync<ImagePredictionDto>())!;
            Assert.Equal("blue", prediction.Predicted);
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await researcher.PutAsJsonAsync(path, new ImagePreprocessingRequest(Mean: [0.485, 0.456, 0.406], Std: [0.229, 0.224, 0.225]))).StatusCode);
        }

        // Preprocessing fields on a model that is not an image model are refused at upload.
        var tabular = await cluster.UploadAsync("image-fields-on-tabular", TestGraphs.Linear([1, 2], 0), new Dictionary<string, string> { ["imageSize"] = "32x32" });
        Assert.Equal(HttpStatusCode.BadRequest, tabular.StatusCode);
    }

    [Fact]
    public async Task Nhwc_model_reads_its_layout_from_the_shape_and_classifies_a_blue_webp()
    {
        var version = await cluster.DeployAsync("image-rgb-nhwc", ImageModels.ImageClassifierNhwc(16), new Dictionary<string, string> { ["imageScale"] = "0-255", ["imageStd"] = "255,255,255" });
        Assert.Equal(("NHWC", 16, "0-255"), (version.ImagePreprocessing!.Layout, version.ImagePreprocessing.Height, version.ImagePreprocessing.Scale));

        var response = await InferAsync("image-rgb-nhwc", version.Version, ImageModels.Solid(SKColors.Blue, 50, 50, SKEncodedImageFormat.Webp), "b.webp");

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal("blue", (await response.Content.ReadFromJsonAsync<ImagePredictionDto>())!.Predicted);
    }

    [Fact]
    public async Task Zip_batch_of_three_images_gets_one_row_per_file_with_the_right_class()
    {
        await EnsureModelAsync();
        byte[] zip = ImageModels.Zip([
            ("photos/red.png", ImageModels.Solid(SKColors.Red)),
            ("photos/green.jpg", ImageModels.Solid(SKColors.Lime, format: SKEncodedImageFormat.Jpeg)),
            ("blue.png", ImageModels.Solid(SKColors.Blue)),
        ]);

        var response = await cluster.PostFileAsync($"/api/models/{Model}/batches", zip, "images.zip", role: Roles.Analyst);

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.Equal((BatchStates.Succeeded, 3), (batch.State, batch.TotalRows));
        Assert.Equal(["file", "predicted", "probability", "probabilities[red]", "probabilities[green]", "probabilities[blue]"], batch.Columns);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var rows = (await analyst.GetFromJsonAsync<BatchRowsDto>($"/api/batches/{batch.Id}/rows"))!.Rows;
        Assert.Equal([("photos/red.png", "red"), ("photos/green.jpg", "green"), ("blue.png", "blue")], rows.Select(r => (r[0], r[1])));
        Assert.All(rows, r => Assert.True(double.Parse(r[2], CultureInfo.InvariantCulture) > 0.99));
        Assert.Equal(HttpStatusCode.NoContent, (await analyst.DeleteAsync($"/api/batches/{batch.Id}")).StatusCode);
    }

    [Fact]
    public async Task Zip_bomb_and_a_zip_with_a_broken_image_are_refused_with_400()
    {
        await EnsureModelAsync();

        var bomb = await cluster.PostFileAsync($"/api/models/{Model}/batches", ImageModels.ZipBomb(16), "bomb.zip", role: Roles.Analyst);
        string bombBody = await bomb.Content.ReadAsStringAsync();
        Assert.True(bomb.StatusCode == HttpStatusCode.BadRequest, bombBody);
        Assert.Contains("zip bomb", bombBody, StringComparison.Ordinal);

        var broken = await cluster.PostFileAsync($"/api/models/{Model}/batches",
            ImageModels.Zip([("ok.png", ImageModels.Solid(SKColors.Red)), ("huge.png", ImageModels.HugePngHeader())]), "mixed.zip", role: Roles.Analyst);
        string brokenBody = await broken.Content.ReadAsStringAsync();
        Assert.True(broken.StatusCode == HttpStatusCode.BadRequest, brokenBody);
        Assert.Contains("megapixels", brokenBody, StringComparison.Ordinal);

        var csv = await cluster.PostFileAsync($"/api/models/{Model}/batches", "a,b\n1,2\n"u8.ToArray(), "rows.csv", role: Roles.Analyst);
        Assert.Equal(HttpStatusCode.BadRequest, csv.StatusCode);
    }
}
