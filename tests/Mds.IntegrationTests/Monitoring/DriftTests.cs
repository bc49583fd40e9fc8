using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Mds.Analytics.Outliers;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Xunit.Abstractions;

namespace Mds.IntegrationTests.Monitoring;

/// <summary>
/// Drift and outliers against a version's reference dataset, on real inferences: a linear model over three features
/// (two numeric, one categorical) gets a reference dataset; a stream like the reference leaves every feature
/// undrifted; a stream with one feature shifted flips the report on exactly that feature; far-off rows are flagged.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class DriftTests(MdsCluster cluster, ITestOutputHelper output)
{
    internal static readonly float[] Weights = [1.5f, -2f, 0.5f];
    internal const float Bias = 0.25f;

    [Fact]
    public async Task A_reference_like_stream_does_not_drift_and_a_shifted_one_drifts_on_exactly_the_shifted_feature()
    {
        const string model = "drifty";
        double[][] reference = await DeployWithReferenceAsync(cluster, model, seed: 1);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);

        // Too few rows yet: a manual check is refused with the reason.
        var early = await analyst.PostAsync($"/api/models/{model}/versions/1/drift", null);
        Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
        Assert.Contains("a drift check needs at least 30", await early.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // 1. A window drawn like the reference (another seed): no feature drifts.
        await SendAsync(analyst, model, Rows(new Random(2), MdsCluster.DriftWindowRows, shift: 0));
        var calm = await RunAsync(analyst, model);
        Assert.Equal(MdsCluster.DriftWindowRows, calm.Rows);
        Assert.Equal(MdsCluster.DriftWindowRows / 10, calm.Records);
        Assert.Equal(reference.Length, calm.ReferenceRows);
        Assert.Equal(0.05 / 3, calm.Threshold, 12);
        output.WriteLine("reference-like window: " + Describe(calm));
        Assert.False(calm.Drifted, Describe(calm));
        Assert.All(calm.Features, f => Assert.False(f.Drifted, Describe(calm)));
        Assert.Equal(["ks", "ks", "chi2"], calm.Features.Select(f => f.Test));
        Assert.False(calm.Multivariate!.Drifted, Describe(calm));

        // 2. The newest window with feature f1 shifted by two standard deviations: exactly f1 drifts.
        await SendAsync(analyst, model, Rows(new Random(3), MdsCluster.DriftWindowRows, shift: 4));
        var shifted = await RunAsync(analyst, model);
        output.WriteLine("shifted window: " + Describe(shifted));
        Assert.True(shifted.Drifted, Describe(shifted));
        Assert.Equal([false, true, false], shifted.Features.Select(f => f.Drifted));
        Assert.True(shifted.Features[1].PValue < 1e-10, Describe(shifted));
        Assert.True(shifted.Features[1].Psi > 0.2, Describe(shifted));
        Assert.True(shifted.Multivariate!.Drifted, Describe(shifted));
        Assert.True(shifted.WindowFrom > calm.WindowTo, "the window holds only the shifted stream");

        // The histograms of the report show f1's mass moved to the top bins.
        var histogram = shifted.Features[1].Histogram!;
        Assert.Equal(10, histogram.Bins.Count);
        Assert.Equal(1.0, histogram.Reference.Sum(), 9);
        Assert.Equal(1.0, histogram.Current.Sum(), 9);
        Assert.True(histogram.Current[^1] > 0.5, string.Join(", ", histogram.Current));
        Assert.Equal(["0", "1", "2"], shifted.Features[2].Histogram!.Bins);

        // The time series lists both, oldest first, without histograms; the badge shows the newest verdict.
        var list = (await analyst.GetFromJsonAsync<DriftReportListDto>($"/api/models/{model}/versions/1/drift"))!;
        var manual = list.Reports.Where(r => r.Trigger == "manual").ToList();
        Assert.Equal([calm.Id, shifted.Id], manual.Select(r => r.Id));
        Assert.All(list.Reports, r => Assert.All(r.Features, f => Assert.Null(f.Histogram)));
        Assert.Equal(MdsCluster.DriftWindowRows, list.WindowRows);
        var got = (await analyst.GetFromJsonAsync<DriftReportDto>($"/api/models/{model}/versions/1/drift/{shifted.Id}"))!;
        Assert.Equal(histogram.Current, got.Features[1].Histogram!.Current);

        // The recurring job (every 5 s in tests) reports too, and the gauges follow the newest report.
        await Eventually.TrueAsync(async () =>
        {
            var reports = (await analyst.GetFromJsonAsync<DriftReportListDto>($"/api/models/{model}/versions/1/drift"))!.Reports;
            return reports.Any(r => r.Trigger == "schedule" && r.Time > shifted.Time && r.Drifted);
        }, TimeSpan.FromSeconds(180), "a scheduled drift report"); // 30 s, then 60 s, were too short in full CI runs (Hangfire's recurring-job pickup under load)
        var status = (await analyst.GetFromJsonAsync<List<DriftStatusDto>>("/api/drift/status"))!.Single(s => s.Model == model);
        Assert.True(status.Drifted);
        Assert.Equal(["f1"], status.DriftedFeatures);

        using var metrics = new HttpClient { BaseAddress = cluster.BackendUrl };
        string exposition = await metrics.GetStringAsync("/metrics");
        Assert.Equal(1.0, Gauge(exposition, "mds_drift_detected", model, feature: null));
        Assert.True(Gauge(exposition, "mds_drift_p_value", model, "f1") < 1e-10);
        Assert.True(Gauge(exposition, "mds_drift_p_value", model, "f0") > 0.05 / 3);
        Assert.True(Gauge(exposition, "mds_drift_psi", model, "f1") > 0.2);

        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/models/{model}/versions/9/drift")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/models/{model}/versions/1/drift/999999")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await (await cluster.ClientAsync(null)).GetAsync($"/api/models/{model}/versions/1/drift")).StatusCode);
    }

    [Fact]
    public async Task Every_record_gets_an_outlier_score_and_far_off_inputs_are_flagged()
    {
        const string model = "outlying";
        double[][] reference = await DeployWithReferenceAsync(cluster, model, seed: 4);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var expected = MahalanobisDetector.Fit(reference);

        var detector = (await analyst.GetFromJsonAsync<OutlierDetectorDto>($"/api/models/{model}/versions/1/outliers"))!;
        Assert.Equal(("mahalanobis", 0.99, reference.Length), (detector.Method, detector.Quantile, detector.ReferenceRows));
        Assert.Equal(expected.Threshold, detector.Threshold, 9);
        Assert.Equal(["f0", "f1", "f2"], detector.Features);

        // Scores of rows sent: as the detector fitted on the reference computes them.
        double[] usual = [0.1, 5.2, 1], far = [9, 5, 1];
        var scores = await (await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/outliers/score", new FeatureRowsDto([usual, far])))
            .Content.ReadFromJsonAsync<OutlierScoresDto>();
        Assert.Equal(expected.Score(usual), scores!.Scores[0], 9);
        Assert.Equal(expected.Score(far), scores.Scores[1], 9);
        Assert.Equal([false, true], scores.IsOutlier);
        var bad = await analyst.PostAsJsonAsync($"/api/models/{model}/versions/1/outliers/score", new FeatureRowsDto([[1.0, 2.0]]));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("the model takes 3 features", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Records: a usual one and a far-off one (one of its two rows far) through the gateway, scored in the background.
        string usualId = await InferAsync(analyst, model, [usual]);
        string farId = await InferAsync(analyst, model, [usual, far]);
        var usualRecord = await ScoredAsync(analyst, usualId);
        var farRecord = await ScoredAsync(analyst, farId);
        Assert.Equal(expected.Score(usual), usualRecord.OutlierScore!.Value, 6);
        Assert.False(usualRecord.IsOutlier);
        Assert.Equal(expected.Score(far), farRecord.OutlierScore!.Value, 6); // the record's score is its farthest row's
        Assert.True(farRecord.IsOutlier);

        var outliers = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model={model}&outliers=true"))!;
        Assert.Equal([farId], outliers.Records.Select(r => r.RequestId));

        // A version without a reference dataset is refused with the reason; an unknown one is not found.
        await cluster.EnsureReadyAsync("no-reference", TestGraphs.Linear(Weights, Bias));
        var none = await analyst.GetAsync("/api/models/no-reference/versions/1/outliers");
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.Contains("has no reference dataset", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync("/api/models/no-such-model/versions/1/outliers")).StatusCode);
    }

    /// <summary>Uploads the linear model as <paramref name="model"/> with a 400-row reference dataset (f0, f1, f2); returns its rows.</summary>
    internal static async Task<double[][]> DeployWithReferenceAsync(MdsCluster cluster, string model, int seed)
    {
        await cluster.EnsureReadyAsync(model, TestGraphs.Linear(Weights, Bias));
        double[][] reference = Rows(new Random(seed), 400, shift: 0);
        var csv = new StringBuilder("f0,f1,f2\n");
        foreach (var row in reference)
        {
            csv.AppendLine(string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }

        var upload = await cluster.UploadDatasetAsync(model, 1, csv.ToString());
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        return reference;
    }

    /// <summary>f0 ~ N(0, 1); f1 ~ N(5 + shift, 2); f2 a category 0, 1, 2 with probabilities 0.5, 0.3, 0.2 — as floats, as the model takes them.</summary>
    internal static double[][] Rows(Random random, int count, double shift)
    {
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            double u = random.NextDouble();
            return new double[] { (float)Normal(), (float)(5 + shift + 2 * Normal()), u < 0.5 ? 0 : u < 0.8 ? 1 : 2 };
        })];
    }

    /// <summary>Sends <paramref name="rows"/> through the gateway, ten rows a request, and waits until the last is in the audit log.</summary>
    internal static async Task SendAsync(HttpClient client, string model, double[][] rows)
    {
        string last = "";
        foreach (var chunk in rows.Chunk(10))
        {
            last = await InferAsync(client, model, chunk);
        }

        // One writer per worker, in arrival order: the last stored means all are.
        await Eventually.TrueAsync(
            async () => (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={last}"))!.Records.Count == 1,
            TimeSpan.FromSeconds(30), "the stream's last record stored");
    }

    /// <summary>One inference of <paramref name="rows"/>; returns its request id.</summary>
    internal static async Task<string> InferAsync(HttpClient client, string model, double[][] rows)
    {
        string id = model + "-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{model}/infer")
        {
            Content = V2Json.Request("x", [rows.Length, 3], "FP32", rows.SelectMany(r => r.Select(v => (float)v)).ToArray()),
        };
        request.Headers.Add(MdsHeaders.RequestId, id);
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return id;
    }

    private static async Task<DriftReportDto> RunAsync(HttpClient client, string model)
    {
        var response = await client.PostAsync($"/api/models/{model}/versions/1/drift", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var report = (await response.Content.ReadFromJsonAsync<DriftReportDto>())!;
        Assert.All(report.Features, f => Assert.NotNull(f.Histogram));
        return report;
    }

    private static async Task<InferenceRecordSummaryDto> ScoredAsync(HttpClient client, string requestId)
    {
        InferenceRecordSummaryDto? record = null;
        await Eventually.TrueAsync(async () =>
        {
            var page = (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!;
            record = page.Records.SingleOrDefault();
            return record?.OutlierScore is not null;
        }, TimeSpan.FromSeconds(30), $"record {requestId} scored");
        return record!;
    }

    private static double Gauge(string exposition, string name, string model, string? feature)
    {
        foreach (Match m in SampleLine().Matches(exposition))
        {
            string labels = m.Groups["labels"].Value;
            if (m.Groups["name"].Value == name && labels.Contains($"model=\"{model}\"", StringComparison.Ordinal)
                && (feature is null || labels.Contains($"feature=\"{feature}\"", StringComparison.Ordinal)))
            {
                return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new Xunit.Sdk.XunitException($"no {name} sample for {model} {feature}:\n{exposition}");
    }

    private static string Describe(DriftReportDto r) =>
        string.Join("; ", r.Features.Select(f => $"{f.Feature} {f.Test} stat={f.Statistic:G4} p={f.PValue:G4} psi={f.Psi:G4} drifted={f.Drifted}"))
        + $"; mmd p={r.Multivariate?.PValue}";

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
