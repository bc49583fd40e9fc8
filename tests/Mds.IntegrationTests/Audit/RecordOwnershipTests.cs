using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Audit;

/// <summary>
/// Records follow ownership: every signed-in user reads the records of every model (each may read every model), but
/// the rows of a batch — its file's contents — are its creator's and the admins' only, in the list, the detail and
/// the explanation.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RecordOwnershipTests(MdsCluster cluster)
{
    private const string Model = "owned-iris";
    private static readonly string IrisCsv = Path.Combine(Path.GetDirectoryName(TestEnvironment.Sample("iris"))!, "train.csv");

    [Fact]
    public async Task Another_users_batch_rows_and_their_payloads_cannot_be_read_by_an_analyst_or_a_researcher()
    {
        await cluster.EnsureReadyAsync(Model, await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        using var admin = await cluster.ClientAsync(Roles.Admin);

        // Direct calls by the analyst and the researcher, and one batch by each.
        string analystCall = await InferAsync(analyst), researcherCall = await InferAsync(researcher);
        long researcherBatch = await BatchAsync(Roles.Researcher), analystBatch = await BatchAsync(Roles.Analyst);
        string researcherBatchCaller = $"batch {researcherBatch} by {MdsCluster.EmailOf(Roles.Researcher)}";
        string analystBatchCaller = $"batch {analystBatch} by {MdsCluster.EmailOf(Roles.Analyst)}";

        var all = await WaitForAsync(admin, [analystCall, researcherCall], [researcherBatchCaller, analystBatchCaller]);
        var hidden = all.First(r => r.Caller == researcherBatchCaller);

        // Analyst: both direct calls (every model is readable), their own batch, not the researcher's batch.
        var seen = await RecordsAsync(analyst);
        Assert.Contains(seen, r => r.RequestId == analystCall);
        Assert.Contains(seen, r => r.RequestId == researcherCall);
        Assert.Contains(seen, r => r.Caller == analystBatchCaller);
        Assert.DoesNotContain(seen, r => r.Caller == researcherBatchCaller);
        Assert.Empty((await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={hidden.RequestId}"))!.Records);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/records/{hidden.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/records/{hidden.Id}/explanation")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.PostAsync($"/api/records/{hidden.Id}/explanation", null)).StatusCode);

        // Researcher: likewise the other way round — their own batch, not the analyst's.
        seen = await RecordsAsync(researcher);
        Assert.Contains(seen, r => r.Caller == researcherBatchCaller);
        Assert.DoesNotContain(seen, r => r.Caller == analystBatchCaller);
        Assert.Contains(seen, r => r.RequestId == analystCall);
        var detail = await researcher.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{hidden.Id}");
        Assert.NotNull(detail!.Request);

        // Admin: everything.
        seen = await RecordsAsync(admin);
        Assert.Contains(seen, r => r.Caller == researcherBatchCaller);
        Assert.Contains(seen, r => r.Caller == analystBatchCaller);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/records/{hidden.Id}")).StatusCode);
    }

    private static async Task<string> InferAsync(HttpClient client)
    {
        string id = "owned-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = V2Json.Request("Features", [1, 4], "FP32", new[] { 5.1f, 3.5f, 1.4f, 0.2f }) };
        request.Headers.Add(MdsHeaders.RequestId, id);
        var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<long> BatchAsync(string role)
    {
        string[] lines = (await File.ReadAllTextAsync(IrisCsv)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var response = await cluster.PostFileAsync($"/api/models/{Model}/batches", System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines.Take(6)) + "\n"), "rows.csv", null, role);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<BatchDto>())!.Id;
    }

    private static async Task<List<InferenceRecordSummaryDto>> RecordsAsync(HttpClient client) =>
        [.. (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?model={Model}&take=200"))!.Records];

    private static async Task<List<InferenceRecordSummaryDto>> WaitForAsync(HttpClient admin, string[] requestIds, string[] callers)
    {
        List<InferenceRecordSummaryDto> records = [];
        await Eventually.TrueAsync(async () =>
        {
            records = await RecordsAsync(admin);
            return requestIds.All(id => records.Any(r => r.RequestId == id)) && callers.All(c => records.Any(r => r.Caller == c));
        }, TimeSpan.FromSeconds(30), "the records of both calls and both batches");
        return records;
    }
}
