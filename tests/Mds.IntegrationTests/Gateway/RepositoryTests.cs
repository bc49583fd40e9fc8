using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Gateway;

/// <summary>The V2 model repository extension on the gateway: index, unload (scale to zero), load (back to Ready).</summary>
[Collection(ClusterCollection.Name)]
public sealed class RepositoryTests(MdsCluster cluster)
{
    [Fact]
    public async Task Unload_takes_a_model_off_every_worker_and_load_brings_it_back_ready()
    {
        const string model = "repository-linear";
        await cluster.EnsureReadyAsync(model, TestGraphs.Linear([2f], 1f));
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);

        var index = await IndexAsync(analyst, null);
        Assert.Contains(index, e => e.GetProperty("name").GetString() == model && e.GetProperty("version").GetString() == "1"
            && e.GetProperty("state").GetString() == "READY" && e.GetProperty("reason").GetString() == "");
        var metadata = await analyst.GetFromJsonAsync<JsonElement>("/v2");
        Assert.Contains("model_repository", metadata.GetProperty("extensions").EnumerateArray().Select(x => x.GetString()));

        // Analysts may look, not unload.
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.PostAsync($"/v2/repository/models/{model}/unload", null)).StatusCode);

        var unload = await researcher.PostAsync($"/v2/repository/models/{model}/unload", null);
        Assert.Equal(HttpStatusCode.OK, unload.StatusCode);
        await Eventually.TrueAsync(async () =>
        {
            var entry = (await IndexAsync(analyst, null)).Single(e => e.GetProperty("name").GetString() == model);
            return entry.GetProperty("state").GetString() == "UNAVAILABLE"
                && entry.GetProperty("reason").GetString() == "scaled to zero replicas";
        }, TimeSpan.FromSeconds(30), "the model unloaded");
        Assert.DoesNotContain(await IndexAsync(analyst, ready: true), e => e.GetProperty("name").GetString() == model);
        await Eventually.TrueAsync(
            async () => (await analyst.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 3f }))).StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(30), "inference refused while unloaded");

        // load answers once a replica is Ready: inference works straight after.
        var load = await researcher.PostAsync($"/v2/repository/models/{model}/load", null);
        Assert.Equal(HttpStatusCode.OK, load.StatusCode);
        var answer = await analyst.PostAsync($"/v2/models/{model}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 3f }));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var outputs = (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outputs")[0].GetProperty("data");
        Assert.Equal(7.0, outputs[0].GetDouble());
        var version = (await analyst.GetFromJsonAsync<ModelDto>($"/api/models/{model}"))!.Versions.Single();
        Assert.Equal(1, version.Replicas);
    }

    [Fact]
    public async Task Unknown_models_and_bad_bodies_get_V2_errors()
    {
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        foreach (string action in new[] { "load", "unload" })
        {
            var response = await researcher.PostAsync($"/v2/repository/models/no-such-model/{action}", null);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("unknown model 'no-such-model'", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        }

        foreach (string body in new[] { "[1]", "{\"ready\": \"yes\"}", "{not json" })
        {
            var response = await researcher.PostAsync("/v2/repository/index", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.False(string.IsNullOrEmpty((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await (await cluster.ClientAsync(null)).PostAsync("/v2/repository/index", null)).StatusCode);
    }

    private static async Task<List<JsonElement>> IndexAsync(HttpClient client, bool? ready)
    {
        var response = await client.PostAsync("/v2/repository/index",
            ready is null ? null : new StringContent($"{{\"ready\": {(ready.Value ? "true" : "false")}}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
    }
}
