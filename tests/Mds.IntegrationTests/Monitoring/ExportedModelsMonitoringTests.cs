using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using Export = Mds.ModelGen.ExportStyles;
using Reference = Mds.ModelGen.ExportStylesReference;

namespace Mds.IntegrationTests.Monitoring;

/// <summary>
/// The monitoring half of issue 17 on the real stack, for models exactly as skl2onnx and onnxmltools export them
/// (<see cref="Export"/>): a reference dataset (string columns included), a batch CSV mapped to the inputs by column
/// name whose results name the predicted class, drift with χ² on a string column, outliers on the numeric columns, and
/// KernelSHAP over every column explaining the predicted class's probability. Expected values come from
/// <see cref="Reference"/>, computed without ONNX Runtime. (Gateway answers: Gateway/ExportedModelsTests.)
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ExportedModelsMonitoringTests(MdsCluster cluster, ITestOutputHelper output)
{
    private static readonly string IrisCsv = Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv");

    [Fact]
    public async Task A_column_transformer_with_string_columns_is_not_left_without_datasets_batches_drift_outliers_and_explanations()
    {
        const string model = "mon-sk-columns";
        await cluster.EnsureReadyAsync(model, Export.SklearnColumnTransformer());
        using var analyst = await cluster.ClientAsync(Roles.Analyst);

        // 1. A reference dataset with two string columns.
        var reference = ChurnRows(new Random(11), 200, lateCities: false);
        var upload = await cluster.UploadDatasetAsync(model, 1, ChurnCsv(reference, withLabel: false));
        Assert.True(upload.StatusCode == HttpStatusCode.Created, await upload.Content.ReadAsStringAsync());

        // Outliers read the numeric columns only and say which they skip.
        var detector = (await analyst.GetFromJsonAsync<OutlierDetectorDto>($"/api/models/{model}/versions/1/outliers"))!;
        Assert.Equal(["age", "income"], detector.Features);
        Assert.Equal(["city", "plan"], detector.SkippedFeatures);

        // 2. A batch whose columns are in another order than the inputs, matched by name; the label is the reference's.
        var batchRows = ChurnRows(new Random(12), 20, lateCities: false);
        var csv = new StringBuilder("plan,city,churned,income,age\n");
        foreach (var r in batchRows)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r.Plan},{r.City},{Churn(r).ClassIndex},{r.Income},{r.Age}\n");
        }

        var batch = await PostBatchAsync(model, csv.ToString(), "churned");
        Assert.Equal(["plan", "city", "churned", "income", "age", "predicted", "output_label", "output_probability[0]", "output_probability[1]"], batch.Columns);
        Assert.Equal("20 of 20 rows (100.0 %) match the label column 'churned'", batch.Summary);
        string[] result = (await analyst.GetStringAsync($"/api/batches/{batch.Id}/result.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < batchRows.Length; i++)
        {
            var expected = Churn(batchRows[i]);
            string[] cells = result[i + 1].Split(',');
            Assert.Equal(expected.ClassIndex.ToString(CultureInfo.InvariantCulture), cells[5]);
            Assert.Equal(cells[5], cells[6]);
            Assert.Equal(expected.Probabilities[0], double.Parse(cells[7], CultureInfo.InvariantCulture), 4);
            Assert.Equal(expected.Probabilities[1], double.Parse(cells[8], CultureInfo.InvariantCulture), 4);
        }

        // 3. An explanation covers every column, the string ones with their text, and explains the predicted class's probability.
        var row = new ChurnRow(30, 40000, "tokyo", "free");
        var churn = Churn(row);
        var explanation = await ExplainAsync(analyst, model, [JsonSerializer.SerializeToElement(row.Age), JsonSerializer.SerializeToElement(row.Income),
            JsonSerializer.SerializeToElement(row.City), JsonSerializer.SerializeToElement(row.Plan)]);
        Assert.Equal(["age", "income", "city", "plan"], explanation.Attributions.Select(a => a.Feature));
        Assert.Equal([null, null, "tokyo", "free"], explanation.Attributions.Select(a => a.Text));
        Assert.Equal("output_probability", explanation.Output);
        Assert.Equal(churn.ClassIndex, explanation.ClassIndex);
        Assert.Equal(churn.ClassIndex.ToString(CultureInfo.InvariantCulture), explanation.ClassLabel);
        Assert.Equal(churn.Probabilities[churn.ClassIndex], explanation.Prediction, 4);
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(a => a.Attribution), 4);
        Assert.Contains(explanation.Attributions, a => a.Text is not null && Math.Abs(a.Attribution) > 1e-3);

        // 4. Traffic through the gateway in which only the city's mix changed: χ² flags the city, nothing else drifts.
        await SendAsync(analyst, model, ChurnRows(new Random(13), MdsCluster.DriftWindowRows, lateCities: true));
        var response = await analyst.PostAsync($"/api/models/{model}/versions/1/drift", null);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var report = (await response.Content.ReadFromJsonAsync<DriftReportDto>())!;
        string described = string.Join("; ", report.Features.Select(f => $"{f.Feature} {f.Test} p={f.PValue:G4} drifted={f.Drifted}"));
        output.WriteLine(described);
        Assert.Equal(MdsCluster.DriftWindowRows, report.Rows);
        Assert.Equal(["age", "income", "city", "plan"], report.Features.Select(f => f.Feature));
        Assert.Equal(["ks", "ks", "chi2", "chi2"], report.Features.Select(f => f.Test));
        Assert.Equal([false, false, true, false], report.Features.Select(f => f.Drifted));
        Assert.True(report.Drifted, described);
        Assert.True(report.Features[2].PValue < 1e-6, described);
    }

    [Theory]
    [InlineData("string-labels")]
    [InlineData("lightgbm")]
    public async Task A_ZipMap_classifier_gets_a_reference_dataset_batch_results_by_class_and_an_explanation_of_its_predicted_class(string style)
    {
        bool lightGbm = style == "lightgbm";
        string model = "mon-" + style;
        await cluster.EnsureReadyAsync(model, lightGbm ? Export.LightGbmClassifier() : Export.SklearnLogisticRegression(intLabels: false));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        Func<float[], Mds.ModelGen.ClassScores> predict = lightGbm ? Reference.LightGbmClassifier : Reference.SklearnLogisticRegression;
        string Label(int index) => lightGbm ? index.ToString(CultureInfo.InvariantCulture) : Reference.IrisClasses[index];
        string probability = lightGbm ? "probabilities" : "output_probability";

        string[] lines = (await File.ReadAllTextAsync(IrisCsv)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var upload = await cluster.UploadDatasetAsync(model, 1, string.Join('\n', lines) + "\n", labelColumn: "species");
        Assert.True(upload.StatusCode == HttpStatusCode.Created, await upload.Content.ReadAsStringAsync());

        // A batch of 20 rows: the predicted class and the probabilities by class label are the reference's.
        float[][] rows = [.. lines.Skip(1).Take(20).Select(l => l.Split(',').Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())];
        var csv = new StringBuilder(string.Join(',', Reference.IrisFeatures) + ",truth\n");
        foreach (var r in rows)
        {
            csv.Append(string.Join(',', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))).Append(',').Append(Label(predict(r).ClassIndex)).Append('\n');
        }

        var batch = await PostBatchAsync(model, csv.ToString(), "truth");
        string[] labels = lightGbm ? ["0", "1", "2"] : [.. Reference.IrisClasses];
        Assert.Equal([.. Reference.IrisFeatures, "truth", "predicted", lightGbm ? "label" : "output_label", .. labels.Select(l => $"{probability}[{l}]")], batch.Columns);
        Assert.Equal("20 of 20 rows (100.0 %) match the label column 'truth'", batch.Summary);
        string[] result = (await analyst.GetStringAsync($"/api/batches/{batch.Id}/result.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < rows.Length; i++)
        {
            var expected = predict(rows[i]);
            string[] cells = result[i + 1].Split(',');
            Assert.Equal(Label(expected.ClassIndex), cells[5]);
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected.Probabilities[c], double.Parse(cells[7 + c], CultureInfo.InvariantCulture), 4);
            }
        }

        // An explanation of every feature, of the predicted class's probability.
        float[] x = [6.1f, 2.8f, 4.7f, 1.2f];
        var scores = predict(x);
        var explanation = await ExplainAsync(analyst, model, [.. x.Select(v => JsonSerializer.SerializeToElement(v))]);
        output.WriteLine(string.Join("; ", explanation.Attributions.Select(a => $"{a.Feature}={a.Value} → {a.Attribution:G4}")));
        Assert.Equal(4, explanation.Attributions.Count);
        Assert.Equal(x.Select(v => (double)v), explanation.Attributions.Select(a => a.Value), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal(probability, explanation.Output);
        Assert.Equal(scores.ClassIndex, explanation.ClassIndex);
        Assert.Equal(Label(scores.ClassIndex), explanation.ClassLabel);
        Assert.Equal(scores.Probabilities[scores.ClassIndex], explanation.Prediction, 4);
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(a => a.Attribution), 4);
    }

    private sealed record ChurnRow(float Age, float Income, string City, string Plan);

    private static Mds.ModelGen.ClassScores Churn(ChurnRow r) => Reference.SklearnColumnTransformer(r.Age, r.Income, r.City, r.Plan);

    /// <summary>
    /// Customers: age ~ N(41.5, 12.5), income ~ N(52000, 18000) (whole numbers, so the CSV holds them exactly), plan
    /// free/pro/team 0.5/0.3/0.2, city paris/tokyo/lima 0.5/0.3/0.2 — or 0.1/0.2/0.7 with <paramref name="lateCities"/>.
    /// </summary>
    private static ChurnRow[] ChurnRows(Random random, int count, bool lateCities)
    {
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        string Pick(string[] values, double[] weights)
        {
            double u = random.NextDouble();
            for (int i = 0; i < values.Length - 1; i++)
            {
                if ((u -= weights[i]) < 0)
                {
                    return values[i];
                }
            }

            return values[^1];
        }

        return [.. Enumerable.Range(0, count).Select(_ => new ChurnRow(
            (float)Math.Round(41.5 + (12.5 * Normal())), (float)Math.Round(52000 + (18000 * Normal())),
            Pick([.. Reference.Cities], lateCities ? [0.1, 0.2, 0.7] : [0.5, 0.3, 0.2]), Pick([.. Reference.Plans], [0.5, 0.3, 0.2])))];
    }

    private static string ChurnCsv(IEnumerable<ChurnRow> rows, bool withLabel)
    {
        var csv = new StringBuilder(withLabel ? "age,income,city,plan,churned\n" : "age,income,city,plan\n");
        foreach (var r in rows)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r.Age},{r.Income},{r.City},{r.Plan}");
            csv.Append(withLabel ? string.Create(CultureInfo.InvariantCulture, $",{Churn(r).ClassIndex}\n") : "\n");
        }

        return csv.ToString();
    }

    /// <summary>Sends <paramref name="rows"/> through the gateway, one input per column, ten rows a request; waits until the last is in the audit log.</summary>
    private static async Task SendAsync(HttpClient client, string model, ChurnRow[] rows)
    {
        string last = "";
        foreach (var chunk in rows.Chunk(10))
        {
            last = model + "-" + Guid.NewGuid().ToString("N");
            var body = new JsonObject
            {
                ["inputs"] = new JsonArray(
                    Column("age", "FP32", chunk.Select(r => JsonValue.Create(r.Age))),
                    Column("income", "FP32", chunk.Select(r => JsonValue.Create(r.Income))),
                    Column("city", "BYTES", chunk.Select(r => JsonValue.Create(r.City))),
                    Column("plan", "BYTES", chunk.Select(r => JsonValue.Create(r.Plan)))),
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{model}/infer") { Content = JsonContent.Create(body) };
            request.Headers.Add(MdsHeaders.RequestId, last);
            var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        await Eventually.TrueAsync(
            async () => (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={last}"))!.Records.Count == 1,
            TimeSpan.FromSeconds(30), "the stream's last record stored");

        static JsonObject Column(string name, string datatype, IEnumerable<JsonNode?> data)
        {
            var values = new JsonArray([.. data]);
            return new JsonObject { ["name"] = name, ["datatype"] = datatype, ["shape"] = new JsonArray(values.Count, 1), ["data"] = values };
        }
    }

    private async Task<BatchDto> PostBatchAsync(string model, string csv, string labelColumn)
    {
        var response = await cluster.PostFileAsync($"/api/models/{model}/batches", Encoding.UTF8.GetBytes(csv), "rows.csv",
            new Dictionary<string, string> { ["labelColumn"] = labelColumn }, Roles.Analyst);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>())!;
        Assert.True(batch.State == BatchStates.Succeeded, batch.Error);
        return batch;
    }

    private static async Task<ExplanationDto> ExplainAsync(HttpClient client, string model, JsonElement[] row)
    {
        var response = await client.PostAsJsonAsync($"/api/models/{model}/versions/1/explain", new ExplainRowsDto([row]));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<ExplanationDto>())!;
    }
}
