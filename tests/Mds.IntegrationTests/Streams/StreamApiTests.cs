using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Streams;

/// <summary>The stream settings API's refusals and roles (no engine needed): who may enable, what is a bad body, an unknown resource, a deployment without an engine.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StreamApiTests(MdsCluster cluster)
{
    private const string Model = "stream-api-m";

    private async Task EnsureModelAsync()
    {
        using var list = await (await cluster.ClientAsync(Roles.Researcher)).GetAsync($"/api/models/{Model}");
        if (list.StatusCode == HttpStatusCode.NotFound)
        {
            using var upload = await cluster.UploadAsync(Model, TestGraphs.Affine("x", "y", 2, 2f, 1f));
            Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Analyst_cannot_enable_a_stream_or_list_streams_but_reads_the_state()
    {
        await EnsureModelAsync();
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        using var put = await analyst.PutAsJsonAsync($"/api/models/{Model}/streaming", new { enabled = true });
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        using var list = await analyst.GetAsync("/api/streams");
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        using var publish = await analyst.PostAsJsonAsync($"/api/streams/models/{Model}/messages", new { body = "{}" });
        Assert.Equal(HttpStatusCode.Forbidden, publish.StatusCode);

        var state = await analyst.GetFromJsonAsync<StreamDto>($"/api/models/{Model}/streaming");
        Assert.Equal(StreamStates.Disabled, state!.State);
        Assert.Equal($"mds.models.{Model}.inputs", state.InputSubject);
        Assert.Equal($"mds.models.{Model}.outputs", state.OutputSubject);
        Assert.Equal("mds.errors", state.ErrorSubject);

        using var anonymous = await cluster.ClientAsync(null);
        using var get = await anonymous.GetAsync($"/api/models/{Model}/streaming");
        Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);
    }

    [Fact]
    public async Task Unknown_resources_are_404_and_bad_bodies_400_with_an_error()
    {
        await EnsureModelAsync();
        using var researcher = await cluster.ClientAsync(Roles.Researcher);
        foreach (var path in new[] { "/api/models/no-such-model/streaming", "/api/pipelines/no-such-pipeline/streaming" })
        {
            using var put = await researcher.PutAsJsonAsync(path, new { enabled = true });
            Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
            Assert.Contains("not found", JsonNode.Parse(await put.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
            using var get = await researcher.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }

        using var wrongKind = await researcher.GetAsync($"/api/streams/widgets/{Model}/messages");
        Assert.Equal(HttpStatusCode.NotFound, wrongKind.StatusCode);

        foreach (var body in new[] { "not json", "[]", "{}", "{\"enabled\": \"yes\"}", "{\"enabled\": true, \"extra\": 1}" })
        {
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var put = await researcher.PutAsync($"/api/models/{Model}/streaming", content);
            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            Assert.False(string.IsNullOrEmpty(JsonNode.Parse(await put.Content.ReadAsStringAsync())!["error"]!.GetValue<string>()), body);
        }
    }

    [Fact]
    public async Task Enabling_where_the_engine_is_none_is_a_clear_409()
    {
        await EnsureModelAsync();
        await using var backend = await cluster.StartBackendAsync("backend-no-streams", new Dictionary<string, string> { ["Mds__Streaming__Engine"] = "none" });
        using var client = new HttpClient { BaseAddress = backend.Url };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await cluster.TokenAsync(Roles.Researcher));
        using var put = await client.PutAsJsonAsync($"/api/models/{Model}/streaming", new { enabled = true });
        Assert.Equal(HttpStatusCode.Conflict, put.StatusCode);
        Assert.Contains("Mds:Streaming:Engine is 'none'", JsonNode.Parse(await put.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());

        var state = await client.GetFromJsonAsync<StreamDto>($"/api/models/{Model}/streaming");
        Assert.Equal(("none", StreamStates.Disabled, false), (state!.Engine, state.State, state.Enabled));

        using var spec = new StringContent($"name: stream-api-p\nstreaming: true\nsteps:\n  - name: {Model}\n", System.Text.Encoding.UTF8, "application/yaml");
        using var apply = await client.PostAsync("/api/pipelines", spec);
        Assert.Equal(HttpStatusCode.Conflict, apply.StatusCode);
    }
}
