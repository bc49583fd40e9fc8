using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mds.Cli;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Cli;

/// <summary>
/// mdsctl run in-process against the real stack (shared cluster). Threats: the client and the server disagree on the
/// DTOs; an API-key login that does not authenticate later calls; an upload or inference that silently does the wrong
/// thing; a failure that exits 0 or hides the backend's reason; a usage error indistinguishable from a failure.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CliTests(MdsCluster cluster) : IDisposable
{
    private readonly string _config = Path.Combine(Path.GetTempPath(), "mdsctl-it-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_config))
        {
            Directory.Delete(_config, recursive: true);
        }
    }

    private async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(args, new CliEnvironment
        {
            Out = output,
            Error = error,
            In = new StringReader(""),
            Variables = _ => null,
            ConfigDirectory = _config,
            Interactive = false,
        });
        return (code, output.ToString(), error.ToString());
    }

    private async Task LoginWithApiKeyAsync(string role)
    {
        using var client = await cluster.ClientAsync(role);
        var created = await client.PostAsJsonAsync("/api/keys", new CreateApiKeyRequest("mdsctl-" + Guid.NewGuid().ToString("N")[..8]));
        created.EnsureSuccessStatusCode();
        string key = (await created.Content.ReadFromJsonAsync<CreatedApiKey>())!.Key;
        var login = await RunAsync("login", "--url", cluster.BackendUrl.ToString(), "--api-key", key);
        Assert.True(login.Code == 0, login.Error);
    }

    [Fact]
    public async Task An_api_key_login_uploads_lists_shows_infers_and_adds_a_dataset_with_the_servers_own_DTOs()
    {
        await LoginWithApiKeyAsync(Roles.Researcher);
        string file = Path.Combine(Path.GetTempPath(), $"cli-linear-{Guid.NewGuid():N}.onnx");
        await File.WriteAllBytesAsync(file, TestGraphs.Linear([1f, 2f], 0.5f));
        try
        {
            var upload = await RunAsync("models", "upload", file, "--name", "cli-linear", "--tags", "cli", "--wait", "-o", "json");
            Assert.True(upload.Code == 0, upload.Error);
            var uploaded = JsonSerializer.Deserialize<ModelVersionDto>(upload.Out, JsonSerializerOptions.Web)!;
            Assert.Equal(("cli-linear", VersionStates.Ready), (uploaded.ModelName, uploaded.State));
        }
        finally
        {
            File.Delete(file);
        }

        var list = await RunAsync("models", "list", "-o", "json");
        Assert.True(list.Code == 0, list.Error);
        var models = JsonSerializer.Deserialize<List<ModelDto>>(list.Out, JsonSerializerOptions.Web)!;
        Assert.Contains(models, m => m.Name == "cli-linear" && m.Tags!.Contains("cli"));

        var show = await RunAsync("models", "show", "cli-linear", "-o", "json");
        Assert.True(show.Code == 0, show.Error);
        var model = JsonSerializer.Deserialize<ModelDto>(show.Out, JsonSerializerOptions.Web)!;
        Assert.Equal("x", Assert.Single(model.Versions).Inputs.Single().Name);

        var table = await RunAsync("models", "show", "cli-linear");
        Assert.Contains("Ready", table.Out);

        // y = x·[1, 2] + 0.5 for two rows.
        var infer = await RunAsync("infer", "cli-linear", "--data", "1,2;3,4", "-o", "json");
        Assert.True(infer.Code == 0, infer.Error);
        var output = JsonNode.Parse(infer.Out)!["outputs"]![0]!;
        Assert.Equal([5.5, 11.5], output["data"]!.AsArray().Select(v => v!.GetValue<double>()));
        string csv = Path.Combine(Path.GetTempPath(), $"cli-linear-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(csv, "a,b\n" + string.Join("\n", Enumerable.Range(0, 20).Select(i => $"{i},{i * 2}")) + "\n");
        try
        {
            var dataset = await RunAsync("datasets", "upload", "cli-linear", "1", csv, "-o", "json");
            Assert.True(dataset.Code == 0, dataset.Error);
        }
        finally
        {
            File.Delete(csv);
        }

        var inferTable = await RunAsync("infer", "cli-linear", "--data", "1,2");
        Assert.True(inferTable.Code == 0, inferTable.Error);
        Assert.Contains("5.5", inferTable.Out);
        Assert.Contains("OUTPUT", inferTable.Out);
    }

    [Fact]
    public async Task Failures_exit_1_with_the_backends_reason_and_usage_errors_exit_2()
    {
        await LoginWithApiKeyAsync(Roles.Analyst);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var answer = await analyst.GetAsync("/v2/models/cli-no-such-model");
        string reason = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();

        var unknown = await RunAsync("infer", "cli-no-such-model", "--data", "1,2");
        Assert.Equal(1, unknown.Code);
        Assert.Equal("error: " + reason, unknown.Error.Trim());

        var forbidden = await RunAsync("workers", "list");
        Assert.Equal(1, forbidden.Code);
        Assert.Contains("403", forbidden.Error);

        var usage = await RunAsync("infer", "cli-no-such-model", "--data", "1", "--csv", "x.csv");
        Assert.Equal(2, usage.Code);
        Assert.Contains("exactly one of", usage.Error);
    }
}
