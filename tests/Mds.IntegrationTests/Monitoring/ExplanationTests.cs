using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Monitoring;

/// <summary>
/// KernelSHAP explanations computed by calling the model on a real worker: on a linear model the attributions are
/// exactly w·(x − mean of the background); on the iris classifier the predicted class's probability is explained.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ExplanationTests(MdsCluster cluster)
{
    [Fact]
    public async Task A_linear_model_s_attributions_are_its_weights_times_the_distance_from_the_background_mean()
    {
        const string model = "explained";
        double[][] reference = await DriftTests.DeployWithReferenceAsync(cluster, model, seed: 5);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        double[] x = [1.25, 2.5, 2];

        var response = await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/explain", new FeatureRowsDto([x]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var explanation = (await response.Content.ReadFromJsonAsync<ExplanationDto>())!;

        // The background is 50 rows spread evenly through the 400: every eighth.
        double[][] background = [.. Enumerable.Range(0, 50).Select(i => reference[i * 8])];
        Assert.Equal(50, explanation.BackgroundRows);
        Assert.Equal("y", explanation.Output);
        Assert.Null(explanation.ClassIndex);
        Assert.True(explanation.Exact);
        Assert.Equal(["f0", "f1", "f2"], explanation.Attributions.Select(a => a.Feature));
        Assert.Equal(x, explanation.Attributions.Select(a => a.Value));
        for (int i = 0; i < 3; i++)
        {
            double expected = DriftTests.Weights[i] * (x[i] - background.Average(r => r[i]));
            Assert.Equal(expected, explanation.Attributions[i].Attribution, 3); // FP32 model
        }

        double prediction = x.Select((v, i) => v * DriftTests.Weights[i]).Sum() + DriftTests.Bias;
        Assert.Equal(prediction, explanation.Prediction, 4);
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(a => a.Attribution), 4);
        Assert.False(explanation.IsOutlier);

        var bad = await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/explain", new FeatureRowsDto([[1.0, 2.0, double.MaxValue], [1.0, 2.0, 3.0]]));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("Send exactly one row", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_s_row_is_explained_once_and_kept()
    {
        const string model = "explained-records";
        await DriftTests.DeployWithReferenceAsync(cluster, model, seed: 6);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        double[][] rows = [[0.5, 4, 0], [-1, 7, 2]];
        string requestId = await DriftTests.InferAsync(analyst, model, rows);
        InferenceRecordSummaryDto? record = null;
        await Eventually.TrueAsync(async () =>
        {
            record = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!.Records.SingleOrDefault();
            return record is not null;
        }, TimeSpan.FromSeconds(30), "the record");

        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/records/{record!.Id}/explanation?row=1")).StatusCode);
        var made = await analyst.PostAsync($"/api/records/{record.Id}/explanation?row=1", null);
        Assert.Equal(HttpStatusCode.OK, made.StatusCode);
        var explanation = (await made.Content.ReadFromJsonAsync<ExplanationDto>())!;
        Assert.Equal((record.Id, 1), (explanation.RecordId!.Value, explanation.Row));
        Assert.Equal(rows[1], explanation.Attributions.Select(a => a.Value));

        // The same row sent directly gets the same attributions (the coalitions are seeded); the record's is kept.
        var direct = await (await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/explain", new FeatureRowsDto([rows[1]])))
            .Content.ReadFromJsonAsync<ExplanationDto>();
        Assert.Equal(explanation.Attributions.Select(a => a.Attribution), direct!.Attributions.Select(a => a.Attribution));
        var kept = (await analyst.GetFromJsonAsync<ExplanationDto>($"/api/records/{record.Id}/explanation?row=1"))!;
        Assert.Equal(explanation.CreatedAt, kept.CreatedAt);
        Assert.Equal(explanation.Attributions.Select(a => a.Attribution), kept.Attributions.Select(a => a.Attribution));

        var outOfRange = await analyst.PostAsync($"/api/records/{record.Id}/explanation?row=2", null);
        Assert.Equal(HttpStatusCode.BadRequest, outOfRange.StatusCode);
        Assert.Contains("holds 2 rows", await outOfRange.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.PostAsync($"/api/records/{Guid.NewGuid()}/explanation", null)).StatusCode);

        // The explainer's own calls are recorded under its name, and stay out of drift windows and outlier scoring.
        await Eventually.TrueAsync(async () =>
        {
            var all = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model={model}&take=200"))!.Records;
            return all.Any(r => r.Caller == "[explainer] " + MdsCluster.EmailOf(Roles.Analyst));
        }, TimeSpan.FromSeconds(30), "the explainer's calls recorded under its name");
        await Eventually.TrueAsync(async () =>
        {
            var all = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model={model}&take=200"))!.Records;
            return all.Single(r => r.RequestId == requestId).OutlierScore is not null;
        }, TimeSpan.FromSeconds(30), "the analyst's record scored");
        await Task.Delay(TimeSpan.FromSeconds(1)); // a scoring round more: the explainer's records are passed over in it
        var listed = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model={model}&take=200"))!.Records;
        Assert.All(listed.Where(r => r.Caller!.StartsWith("[explainer]", StringComparison.Ordinal)), r => Assert.Null(r.OutlierScore));
        var drift = await analyst.PostAsync($"/api/models/{model}/versions/1/drift", null);
        Assert.Equal(HttpStatusCode.BadRequest, drift.StatusCode); // one record of two rows; the explainer's thousands of rows do not count
        Assert.Contains("has 2 readable input rows", await drift.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_iris_classifier_s_predicted_class_is_explained()
    {
        const string model = "explained-iris";
        await cluster.EnsureReadyAsync(model, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        string csv = await File.ReadAllTextAsync(Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv"));
        var upload = await cluster.UploadDatasetAsync(model, 1, csv, labelColumn: "species");
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);

        // A typical setosa: small petals. Its probability of setosa is explained, mostly by the petal features.
        var explanation = (await (await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/explain", new FeatureRowsDto([[5.0, 3.4, 1.5, 0.2]])))
            .Content.ReadFromJsonAsync<ExplanationDto>())!;
        Assert.Equal("setosa", explanation.ClassLabel);
        Assert.NotNull(explanation.ClassIndex);
        Assert.True(explanation.Prediction > 0.5, $"p(setosa) = {explanation.Prediction}");
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(a => a.Attribution), 6);
        var top = explanation.Attributions.OrderByDescending(a => Math.Abs(a.Attribution)).First();
        Assert.StartsWith("petal_", top.Feature, StringComparison.Ordinal);
        Assert.True(top.Attribution > 0);
    }
}
