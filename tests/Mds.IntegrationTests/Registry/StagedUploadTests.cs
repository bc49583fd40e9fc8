using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Registry;

/// <summary>
/// One upload, once: <c>POST /api/models/inspect</c> keeps what it validated, and <c>POST /api/models</c> registers it
/// by its <c>sha256</c> without the file; only the person who inspected it can, and only once.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StagedUploadTests(MdsCluster cluster)
{
    [Fact]
    public async Task An_inspected_upload_is_registered_by_its_sha256_without_the_file_and_is_served()
    {
        byte[] onnx = TestGraphs.Linear([2f, 3f], 0.5f);
        var inspection = await InspectAsync(onnx);
        Assert.NotNull(inspection.StagedUntil);
        Assert.True(inspection.StagedUntil > DateTimeOffset.UtcNow);

        var response = await RegisterAsync("staged-linear", inspection.Sha256, Roles.Researcher);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var version = (await response.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        Assert.Equal(inspection.Sha256, version.Sha256);
        await cluster.WaitForVersionAsync("staged-linear", version.Version, VersionStates.Ready, TimeSpan.FromSeconds(60));
        using var client = await cluster.ClientAsync(Roles.Analyst);
        var answer = await client.PostAsync("/v2/models/staged-linear/infer", V2Json.Request("x", [1, 2], "FP32", new[] { 1f, 1f }));
        Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
        var y = V2Json.Output((await answer.Content.ReadFromJsonAsync<JsonNode>())!, "y")["data"]!.AsArray();
        Assert.Equal(5.5f, (float)y[0]!, 4);
    }

    [Fact]
    public async Task An_unknown_sha256_is_refused_with_400_and_the_reason()
    {
        string unknown = new('a', 64);
        var response = await RegisterAsync("staged-unknown", unknown, Roles.Researcher);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string detail = await DetailAsync(response);
        Assert.Contains(unknown, detail, StringComparison.Ordinal);
        Assert.Contains("Send the file instead", detail, StringComparison.Ordinal);

        var malformed = await RegisterAsync("staged-unknown", "not-a-hash", Roles.Researcher);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Contains("64 lower-case hex digits", await DetailAsync(malformed), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_staged_upload_registers_once_and_a_refused_registration_leaves_it_staged()
    {
        var inspection = await InspectAsync(TestGraphs.Linear([4f], 0.25f));

        var badName = await RegisterAsync("-bad name", inspection.Sha256, Roles.Researcher);
        Assert.Equal(HttpStatusCode.BadRequest, badName.StatusCode);
        Assert.Contains("'name' is required", await DetailAsync(badName), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync("staged-once", inspection.Sha256, Roles.Researcher)).StatusCode);
        var again = await RegisterAsync("staged-once", inspection.Sha256, Roles.Researcher);
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        Assert.Contains("already registered", await DetailAsync(again), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_user_cannot_register_an_upload_staged_by_someone_else()
    {
        var inspection = await InspectAsync(TestGraphs.Linear([5f], 0.125f));

        var stolen = await RegisterAsync("staged-stolen", inspection.Sha256, Roles.Admin);

        Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
        Assert.Contains("No inspected upload", await DetailAsync(stolen), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync("staged-owned", inspection.Sha256, Roles.Researcher)).StatusCode);
    }

    [Fact]
    public async Task A_file_and_a_sha256_together_are_refused()
    {
        byte[] onnx = TestGraphs.Linear([6f], 0f);
        var inspection = await InspectAsync(onnx);

        var response = await cluster.UploadAsync("staged-both", onnx, new Dictionary<string, string> { ["sha256"] = inspection.Sha256 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not both", await DetailAsync(response), StringComparison.Ordinal);
    }

    private async Task<ModelInspection> InspectAsync(byte[] onnx)
    {
        var response = await cluster.PostFileAsync("/api/models/inspect", onnx, "model.onnx");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ModelInspection>())!;
    }

    /// <summary>The second request: the form fields and the sha256, no file part.</summary>
    private async Task<HttpResponseMessage> RegisterAsync(string name, string sha256, string role)
    {
        using var client = await cluster.ClientAsync(role);
        using var form = new MultipartFormDataContent { { new StringContent(name), "name" }, { new StringContent(sha256), "sha256" } };
        return await client.PostAsync("/api/models", form);
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!;
}
