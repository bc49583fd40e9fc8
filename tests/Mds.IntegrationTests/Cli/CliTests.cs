using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mds.Cli;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using YamlDotNet.RepresentationModel;

namespace Mds.IntegrationTests.Cli;

/// <summary>
/// mdsctl run in-process against the real stack (shared cluster). Threats: the client and the server disagree on the
/// DTOs; an API-key login that does not authenticate later calls; an upload or inference that silently does the wrong
/// thing; a failure that exits 0 or hides the backend's reason; a usage error indistinguishable from a failure; a
/// revoked key that keeps working; a batch whose result loses or adds rows; -o json / -o yaml that scripts cannot parse.
/// Several commands share a test (each test here costs a login and models on the shared cluster, not a cluster).
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

    private Task<(int Code, string Out, string Error)> RunAsync(params string[] args) => RunWithInputAsync("", args);

    private async Task<(int Code, string Out, string Error)> RunWithInputAsync(string input, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(args, new CliEnvironment
        {
            Out = output,
            Error = error,
            In = new StringReader(input),
            Variables = _ => null,
            ConfigDirectory = _config,
            Interactive = false,
        });
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Runs mdsctl, expects exit 0, and reads its standard output as JSON of <typeparamref name="T"/>.</summary>
    private async Task<T> JsonAsync<T>(params string[] args)
    {
        var result = await RunAsync([.. args, "-o", "json"]);
        Assert.True(result.Code == 0, $"mdsctl {string.Join(' ', args)} exited {result.Code}: {result.Error}");
        return JsonSerializer.Deserialize<T>(result.Out, JsonSerializerOptions.Web)!;
    }

    /// <summary>Runs mdsctl with <c>-o yaml</c>, expects exit 0, and parses its standard output as YAML.</summary>
    private async Task<YamlNode> YamlAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "-o", "yaml"]);
        Assert.True(result.Code == 0, $"mdsctl {string.Join(' ', args)} exited {result.Code}: {result.Error}");
        var stream = new YamlStream();
        stream.Load(new StringReader(result.Out));
        return stream.Documents.Single().RootNode;
    }

    private static string Scalar(YamlNode node, string key) => ((YamlScalarNode)((YamlMappingNode)node).Children[new YamlScalarNode(key)]).Value!;

    private static string TempFile(string extension, string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mdsctl-it-{Guid.NewGuid():N}{extension}");
        File.WriteAllText(path, text);
        return path;
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

    [Fact]
    public async Task Pipelines_and_experiments_applied_from_files_report_run_and_end_through_the_cli()
    {
        await LoginWithApiKeyAsync(Roles.Researcher);
        await cluster.DeployAsync("cli-exp-model", TestGraphs.Affine("x", "y", 2, 2f, 1f));   // version 1: 2x + 1
        await cluster.DeployAsync("cli-exp-model", TestGraphs.Affine("x", "y", 2, 1f, 10f));  // version 2: x + 10
        var files = new List<string>
        {
            TempFile(".yaml", """
                name: cli-pipe
                steps:
                  - name: scale
                    model: cli-exp-model:1
                """),
            TempFile(".json", """{"name":"cli-exp","candidates":[{"name":"cli-exp-model","version":1,"weight":50},{"name":"cli-exp-model","version":2,"weight":50}]}"""),
            TempFile(".yaml", """
                name: cli-exp-stop
                candidates:
                  - { name: cli-exp-model, version: 1, weight: 50 }
                  - { name: cli-exp-model, version: 2, weight: 50 }
                """),
            TempFile(".json", """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,1]}]}"""),
        };
        try
        {
            // pipelines apply -f (YAML), status until Live, list (YAML), a run inspected by its request id, delete.
            var applied = await JsonAsync<PipelineApplyResult>("pipelines", "apply", "-f", files[0]);
            Assert.Equal(("cli-pipe", 1), (applied.Name, applied.Version));
            PipelineDto? pipeline = null;
            await Eventually.TrueAsync(async () => (pipeline = await JsonAsync<PipelineDto>("pipelines", "status", "cli-pipe")).State == PipelineStates.Live,
                TimeSpan.FromSeconds(30), "cli-pipe to go live");
            Assert.True(pipeline!.Steps.Single().Ready);
            var listed = (YamlSequenceNode)await YamlAsync("pipelines", "list");
            Assert.Contains(listed.Children, p => Scalar(p, "name") == "cli-pipe" && Scalar(p, "state") == PipelineStates.Live);

            using var analyst = await cluster.ClientAsync(Roles.Analyst);
            using var run = await analyst.PostAsync("/v2/pipelines/cli-pipe/infer", new StringContent(File.ReadAllText(files[3]), System.Text.Encoding.UTF8, "application/json"));
            Assert.True(run.IsSuccessStatusCode, await run.Content.ReadAsStringAsync());
            string requestId = run.Headers.GetValues(MdsHeaders.RequestId).Single();
            JsonNode? inspected = null;
            await Eventually.TrueAsync(async () =>
            {
                var result = await RunAsync("pipelines", "inspect", "cli-pipe", requestId, "-o", "json");
                inspected = result.Code == 0 ? JsonNode.Parse(result.Out) : null;
                return inspected is not null;
            }, TimeSpan.FromSeconds(30), "the pipeline run to be recorded");
            Assert.Contains(requestId, inspected!.ToJsonString(), StringComparison.Ordinal);

            var deleted = await RunAsync("pipelines", "delete", "cli-pipe");
            Assert.True(deleted.Code == 0, deleted.Error);
            var gone = await RunAsync("pipelines", "status", "cli-pipe");
            Assert.Equal(1, gone.Code);
            Assert.Contains("cli-pipe", gone.Error, StringComparison.Ordinal);

            // experiments apply -f (JSON), traffic through the endpoint (infer --json), results, promote.
            var experiment = await JsonAsync<ExperimentDto>("experiments", "apply", "-f", files[1]);
            Assert.Equal(("cli-exp", ExperimentStates.Active), (experiment.Name, experiment.State));
            for (int i = 0; i < 4; i++)
            {
                var answer = await JsonAsync<JsonNode>("infer", "cli-exp.experiment", "--json", files[3]);
                float y = answer["outputs"]![0]!["data"]![0]!.GetValue<float>();
                Assert.True(y is 3f or 11f, $"the experiment answered {y}");
            }

            var results = await JsonAsync<ExperimentResultsDto>("experiments", "results", "cli-exp");
            Assert.Equal(["cli-exp-model@1", "cli-exp-model@2"], results.Candidates.Select(c => c.Candidate).Order(StringComparer.Ordinal));
            var promoted = await JsonAsync<ExperimentDto>("experiments", "promote", "cli-exp", "--candidate", "cli-exp-model@2");
            Assert.Equal(ExperimentStates.Promoted, promoted.State);
            Assert.Equal(2, (await JsonAsync<ModelDto>("models", "show", "cli-exp-model")).LiveVersion);

            // experiments apply -f (YAML), stop; a second stop is a failure in words.
            Assert.Equal(ExperimentStates.Active, (await JsonAsync<ExperimentDto>("experiments", "apply", "-f", files[2])).State);
            var stopped = await YamlAsync("experiments", "stop", "cli-exp-stop");
            Assert.Equal(ExperimentStates.Stopped, Scalar(stopped, "state"));
            var list = await JsonAsync<List<ExperimentDto>>("experiments", "list");
            Assert.Contains(list, e => e.Name == "cli-exp-stop" && e.State == ExperimentStates.Stopped);
        }
        finally
        {
            files.ForEach(File.Delete);
        }
    }

    [Fact]
    public async Task An_admin_manages_keys_workers_and_models_and_a_revoked_key_then_fails_with_the_reason()
    {
        // An API key may not make API keys: the admin signs in with a password (read from standard input).
        var login = await RunWithInputAsync(MdsCluster.Password + "\n", "login", "--url", cluster.BackendUrl.ToString(), "--email", MdsCluster.AdminEmail, "--password-stdin");
        Assert.True(login.Code == 0, login.Error);

        // keys create / list / revoke; the revoked key, logged in as its own profile, is refused (exit 1, in words).
        var key = await JsonAsync<CreatedApiKey>("keys", "create", "cli-revoke-me");
        Assert.StartsWith("mds_", key.Key, StringComparison.Ordinal);
        Assert.Contains(await JsonAsync<List<ApiKeyDto>>("keys", "list"), k => k.Id == key.Id && k.Name == "cli-revoke-me");
        var other = await RunAsync("login", "--url", cluster.BackendUrl.ToString(), "--api-key", key.Key, "--profile", "revoked");
        Assert.True(other.Code == 0, other.Error);
        Assert.Equal(0, (await RunAsync("--profile", "revoked", "models", "list")).Code);
        var revoke = await RunAsync("keys", "revoke", key.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(revoke.Code == 0, revoke.Error);
        Assert.DoesNotContain(await JsonAsync<List<ApiKeyDto>>("keys", "list"), k => k.Id == key.Id);
        await Eventually.TrueAsync(async () => (await RunAsync("--profile", "revoked", "models", "list")).Code != 0, TimeSpan.FromSeconds(30), "the revoked key to be refused");
        var refused = await RunAsync("--profile", "revoked", "models", "list");
        Assert.Equal(1, refused.Code);
        Assert.StartsWith("error: ", refused.Error, StringComparison.Ordinal);
        Assert.Contains("401", refused.Error, StringComparison.Ordinal);

        // workers list / drain / activate, on a worker of its own that nothing can be placed on.
        var worker = await cluster.StartWorkerAsync("cli-drain-me", capabilities: "cli-only");
        try
        {
            Assert.Contains(await JsonAsync<List<WorkerDto>>("workers", "list"), w => w.Name == "cli-drain-me" && w.State == WorkerStates.Online);
            Assert.Equal(0, (await RunAsync("workers", "drain", "cli-drain-me")).Code);
            Assert.Equal(WorkerStates.Draining, (await JsonAsync<List<WorkerDto>>("workers", "list")).Single(w => w.Name == "cli-drain-me").State);
            var activated = await RunAsync("workers", "activate", "cli-drain-me");
            Assert.True(activated.Code == 0, activated.Error);
            Assert.Equal(WorkerStates.Online, (await JsonAsync<List<WorkerDto>>("workers", "list")).Single(w => w.Name == "cli-drain-me").State);
            var unknown = await RunAsync("workers", "drain", "cli-no-such-worker");
            Assert.Equal((1, "error: there is no worker named 'cli-no-such-worker'"), (unknown.Code, unknown.Error.Trim()));
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
        }

        // models live / scale / tags / delete.
        await cluster.DeployAsync("cli-admin-model", TestGraphs.Affine("x", "y", 2, 2f, 1f));
        await cluster.DeployAsync("cli-admin-model", TestGraphs.Affine("x", "y", 2, 1f, 10f));
        Assert.Equal(0, (await RunAsync("models", "live", "cli-admin-model", "1")).Code);
        Assert.Equal(1, (await JsonAsync<ModelDto>("models", "show", "cli-admin-model")).LiveVersion);
        var scaled = await JsonAsync<ModelVersionDto>("models", "scale", "cli-admin-model", "2", "2", "--min", "1", "--max", "3");
        Assert.Equal(2, scaled.Replicas);
        Assert.Equal(1, (await JsonAsync<ModelVersionDto>("models", "scale", "cli-admin-model", "2", "1")).Replicas);
        var tagged = await YamlAsync("models", "tags", "cli-admin-model", "tabular", "cli-demo");
        Assert.Equal(["cli-demo", "tabular"], ((YamlSequenceNode)((YamlMappingNode)tagged).Children[new YamlScalarNode("tags")]).Children.Select(t => ((YamlScalarNode)t).Value).Order(StringComparer.Ordinal));
        var deleted = await RunAsync("models", "delete", "cli-admin-model", "2");
        Assert.True(deleted.Code == 0, deleted.Error);
        Assert.Equal([1], (await JsonAsync<ModelDto>("models", "show", "cli-admin-model")).Versions.Select(v => v.Version));
        var twice = await RunAsync("models", "delete", "cli-admin-model", "2");
        Assert.Equal(1, twice.Code);
        Assert.StartsWith("error: ", twice.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batches_and_csv_inference_give_one_output_row_per_input_row_and_records_and_drift_see_them()
    {
        await LoginWithApiKeyAsync(Roles.Researcher);
        await cluster.DeployAsync("cli-batch", TestGraphs.Linear([1f, 2f], 0.5f)); // y = a + 2b + 0.5
        int large = MdsCluster.BatchSyncMaxRows + 20; // a Hangfire job: polled with progress
        string Rows(int n) => "a,b\n" + string.Concat(Enumerable.Range(0, n).Select(i => $"{i},{i % 7}\n"));
        string small = TempFile(".csv", Rows(5)), big = TempFile(".csv", Rows(large)), reference = TempFile(".csv", Rows(40));
        string result = Path.Combine(Path.GetTempPath(), $"mdsctl-it-{Guid.NewGuid():N}.result.csv");
        try
        {
            // infer --csv and --data: one output value per row.
            var csv = await JsonAsync<JsonNode>("infer", "cli-batch", "--csv", small);
            Assert.Equal([0.5, 3.5, 6.5, 9.5, 12.5], csv["outputs"]![0]!["data"]!.AsArray().Select(v => v!.GetValue<double>()));
            var data = await JsonAsync<JsonNode>("infer", "cli-batch", "--data", "1,1;2,2;3,3");
            Assert.Equal([3.5, 6.5, 9.5], data["outputs"]![0]!["data"]!.AsArray().Select(v => v!.GetValue<double>()));

            // batches run: a small file scored while the upload waits (CSV on stdout), a large one as a job (--out).
            var scored = await RunAsync("batches", "run", small, "--model", "cli-batch");
            Assert.True(scored.Code == 0, scored.Error);
            var lines = scored.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(1 + 5, lines.Length);
            Assert.StartsWith("a,b,", lines[0], StringComparison.Ordinal);
            Assert.Equal(["0,0", "1,1", "2,2", "3,3", "4,4"], lines[1..].Select(l => string.Join(',', l.Split(',')[..2])));

            var job = await JsonAsync<BatchDto>("batches", "run", big, "--model", "cli-batch:1", "--out", result);
            Assert.Equal((BatchStates.Succeeded, large, large), (job.State, job.TotalRows, job.DoneRows));
            var resultLines = File.ReadAllLines(result).Where(l => l.Length > 0).ToList();
            Assert.Equal(1 + large, resultLines.Count);
            Assert.Equal(Enumerable.Range(0, large).Select(i => $"{i},{i % 7}"), resultLines.Skip(1).Select(l => string.Join(',', l.Split(',')[..2])));

            Assert.Contains(await JsonAsync<List<BatchDto>>("batches", "list", "--model", "cli-batch"), b => b.Id == job.Id);
            var shown = await YamlAsync("batches", "show", job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal((job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), BatchStates.Succeeded), (Scalar(shown, "id"), Scalar(shown, "state")));
            var noModel = await RunAsync("batches", "run", small, "--model", "cli-no-such-model");
            Assert.Equal((1, "error: Model 'cli-no-such-model' does not exist."), (noModel.Code, noModel.Error.Trim()));
            Assert.Equal(2, (await RunAsync("batches", "run", small)).Code);

            // records search sees the CLI's inferences; drift run (after a reference dataset) and drift status.
            await Eventually.TrueAsync(async () => (await JsonAsync<InferenceRecordPageDto>("records", "search", "--model", "cli-batch")).Records.Count > 0,
                TimeSpan.FromSeconds(30), "the inference records to be written");
            Assert.All((await JsonAsync<InferenceRecordPageDto>("records", "search", "--model", "cli-batch")).Records, r => Assert.Equal("cli-batch", r.ModelName));
            Assert.Equal(0, (await RunAsync("datasets", "upload", "cli-batch", "1", reference)).Code);
            await JsonAsync<JsonNode>("infer", "cli-batch", "--csv", reference);
            DriftReportDto? report = null;
            await Eventually.TrueAsync(async () =>
            {
                var run = await RunAsync("drift", "run", "cli-batch", "1", "-o", "json");
                report = run.Code == 0 ? JsonSerializer.Deserialize<DriftReportDto>(run.Out, JsonSerializerOptions.Web) : null;
                return report is not null;
            }, TimeSpan.FromSeconds(30), "enough recorded rows for a drift check");
            Assert.Equal(("cli-batch", 1), (report!.Model, report.Version));
            Assert.Contains(await JsonAsync<List<DriftStatusDto>>("drift", "status"), d => d.Model == "cli-batch" && d.Version == 1);
        }
        finally
        {
            foreach (string file in new[] { small, big, reference, result })
            {
                File.Delete(file);
            }
        }
    }
}
