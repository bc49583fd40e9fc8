using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Datasets;

/// <summary>Reference datasets: a CSV checked against the version's input before it is kept.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DatasetTests(MdsCluster cluster)
{
    private static readonly string IrisCsv = Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv");

    [Fact]
    public async Task The_iris_training_set_fits_the_iris_model_and_can_be_previewed_replaced_and_deleted()
    {
        int version = await EnsureIrisAsync("ds-iris");
        string csv = await File.ReadAllTextAsync(IrisCsv);
        var response = await cluster.UploadDatasetAsync("ds-iris", version, csv, labelColumn: "species");
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var dataset = (await response.Content.ReadFromJsonAsync<DatasetDto>())!;
        Assert.Equal((150, "species", "data.csv"), (dataset.Rows, dataset.LabelColumn, dataset.FileName));
        Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"], dataset.Columns);
        Assert.Equal(MdsCluster.EmailOf(Roles.Researcher), dataset.UploadedBy);

        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var got = await analyst.GetFromJsonAsync<DatasetDto>($"/api/models/ds-iris/versions/{version}/dataset");
        Assert.Equal(150, got!.Rows);

        var preview = (await analyst.GetFromJsonAsync<DatasetPreviewDto>($"/api/models/ds-iris/versions/{version}/dataset/preview?rows=3"))!;
        Assert.Equal(150, preview.TotalRows);
        Assert.Equal(dataset.Columns, preview.Columns);
        Assert.Equal(3, preview.Rows.Count);
        Assert.Equal(["6.5", "2.9", "4.9", "1.2", "versicolor"], preview.Rows[0]);
        Assert.Equal(20, (await analyst.GetFromJsonAsync<DatasetPreviewDto>($"/api/models/ds-iris/versions/{version}/dataset/preview"))!.Rows.Count);

        // Replacing is allowed: a smaller file with the label found as the one extra column.
        string firstTen = string.Join('\n', csv.Split('\n').Take(11));
        var replaced = await cluster.UploadDatasetAsync("ds-iris", version, firstTen);
        Assert.Equal(HttpStatusCode.Created, replaced.StatusCode);
        var second = (await replaced.Content.ReadFromJsonAsync<DatasetDto>())!;
        Assert.Equal((10, "species"), (second.Rows, second.LabelColumn));
        Assert.Equal(10, (await analyst.GetFromJsonAsync<DatasetPreviewDto>($"/api/models/ds-iris/versions/{version}/dataset/preview?rows=1000"))!.Rows.Count);

        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.DeleteAsync($"/api/models/ds-iris/versions/{version}/dataset")).StatusCode);
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        Assert.Equal(HttpStatusCode.NoContent, (await researcher.DeleteAsync($"/api/models/ds-iris/versions/{version}/dataset")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/models/ds-iris/versions/{version}/dataset")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/models/ds-iris/versions/{version}/dataset/preview")).StatusCode);
    }

    [Fact]
    public async Task A_non_numeric_feature_cell_is_refused_naming_its_row_and_column()
    {
        int version = await EnsureIrisAsync("ds-iris-bad");
        var lines = (await File.ReadAllTextAsync(IrisCsv)).Split('\n').Take(6).ToArray();
        lines[4] = "5.0,3.3,wide,0.2,setosa"; // data row 4
        var response = await cluster.UploadDatasetAsync("ds-iris-bad", version, string.Join('\n', lines), "species");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string detail = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!;
        Assert.Contains("row 4, column 'petal_length'", detail, StringComparison.Ordinal);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/models/ds-iris-bad/versions/{version}/dataset")).StatusCode);
    }

    [Theory]
    [InlineData("sepal_length,sepal_width,petal_length,species\n1,2,3,setosa\n", "species", "petal_width")]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width,species,extra\n1,2,3,4,setosa,x\n", "species", "extra")]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n", "label", "'label'")]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width,species\n", "species", "no data rows")]
    [InlineData("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,\"setosa\n", "species", "quoted")]
    public async Task Columns_that_do_not_fit_the_model_are_refused_with_the_reason(string csv, string label, string mentioned)
    {
        int version = await EnsureIrisAsync("ds-iris-cols");
        var response = await cluster.UploadDatasetAsync("ds-iris-cols", version, csv, label);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(mentioned, (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_feature_names_the_first_columns_are_the_features()
    {
        var uploaded = await cluster.UploadAsync("ds-linear", TestGraphs.Linear([1f, 2f], 0f));
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        var ok = await cluster.UploadDatasetAsync("ds-linear", 1, "a,b,y\n1,2,5\n3,4,11\n");
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        Assert.Equal("y", (await ok.Content.ReadFromJsonAsync<DatasetDto>())!.LabelColumn);
        var tooMany = await cluster.UploadDatasetAsync("ds-linear", 1, "a,b,c,y\n1,2,3,5\n");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task Pages_cannot_name_a_versions_features_differently_the_version_gives_one_set_of_names()
    {
        // A model that names no features: positions, until a reference dataset's header names them.
        var uploaded = await cluster.UploadAsync("ds-names", TestGraphs.Linear([1f, 2f], 0f));
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var before = (await analyst.GetFromJsonAsync<ModelVersionDto>("/api/models/ds-names/versions/1"))!;
        Assert.Equal("positions", before.FeatureLabelsFrom);
        Assert.Equal(["feature 0", "feature 1"], before.FeatureLabels);

        Assert.Equal(HttpStatusCode.Created, (await cluster.UploadDatasetAsync("ds-names", 1, "width,height,y\n1,2,5\n3,4,11\n")).StatusCode);

        // The header the drift checks and explanations read names them now, in the version and in the model's listing;
        // featureNames stays the ONNX metadata's (none), which later CSVs are matched by.
        var after = (await analyst.GetFromJsonAsync<ModelVersionDto>("/api/models/ds-names/versions/1"))!;
        Assert.Equal("dataset", after.FeatureLabelsFrom);
        Assert.Equal(["width", "height"], after.FeatureLabels);
        Assert.Null(after.FeatureNames);
        var listed = (await analyst.GetFromJsonAsync<List<ModelDto>>("/api/models"))!.Single(m => m.Name == "ds-names");
        Assert.Equal(["width", "height"], listed.Versions.Single().FeatureLabels);

        // A model that names its features keeps its own names whatever the dataset's header says.
        int iris = await EnsureIrisAsync("ds-iris-names");
        var named = (await analyst.GetFromJsonAsync<ModelVersionDto>($"/api/models/ds-iris-names/versions/{iris}"))!;
        Assert.Equal("model", named.FeatureLabelsFrom);
        Assert.Equal(named.FeatureNames, named.FeatureLabels);
    }

    [Fact]
    public async Task Models_that_are_not_tabular_cannot_have_a_dataset()
    {
        var uploaded = await cluster.UploadAsync("ds-two-inputs", TestGraphs.TwoInputsTwoOutputs());
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        var response = await cluster.UploadDatasetAsync("ds-two-inputs", 1, "a\n1\n");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await cluster.UploadDatasetAsync("ds-none", 1, "a\n1\n")).StatusCode);
    }

    private async Task<int> EnsureIrisAsync(string name)
    {
        var response = await cluster.UploadAsync(name, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ModelVersionDto>())!.Version;
    }
}
