using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Mds.Cli;

namespace Mds.UnitTests.Cli;

/// <summary>
/// mdsctl's parsing and framework, without a backend (a stub handler answers where one is needed). Threats: a script
/// cannot tell a usage error (2) from a failure (1); a credential is stored readable by others or printed; help without
/// examples; completion that suggests nothing; a request built with the wrong shape.
/// </summary>
public sealed class CliTests : IDisposable
{
    private readonly string _config = Path.Combine(Path.GetTempPath(), "mdsctl-unit-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_config))
        {
            Directory.Delete(_config, recursive: true);
        }
    }

    internal sealed record Result(int Code, string Out, string Error);

    private async Task<Result> RunAsync(HttpMessageHandler? handler, params string[] args)
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
            Handler = handler,
        });
        return new Result(code, output.ToString(), error.ToString());
    }

    private Task<Result> RunAsync(params string[] args) => RunAsync(null, args);

    [Theory]
    [InlineData("infer", "iris")]
    [InlineData("infer", "iris", "--data", "1,2", "--json", "x.json")]
    [InlineData("models", "bogus")]
    [InlineData("-o", "xml", "models", "list")]
    [InlineData("models", "show")]
    [InlineData("models", "scale", "iris", "one", "2")]
    [InlineData("login", "--url", "http://x")]
    [InlineData("completion", "fish")]
    [InlineData("batches", "run", "rows.csv")]
    [InlineData("batches", "run", "rows.csv", "--model", "iris", "--pipeline", "p")]
    [InlineData("batches", "run", "rows.csv", "--model", "iris:two")]
    [InlineData("batches", "show", "twelve")]
    [InlineData("experiments", "promote", "canary")]
    public async Task Usage_errors_exit_2_with_the_reason_and_a_pointer_to_help(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.Equal(2, result.Code);
        Assert.Contains("error: ", result.Error);
        Assert.Contains("--help' for usage", result.Error);
    }

    [Fact]
    public async Task Not_logged_in_fails_with_exit_1_and_says_how_to_log_in()
    {
        var result = await RunAsync("models", "list");
        Assert.Equal(1, result.Code);
        Assert.Contains("mdsctl login", result.Error);
    }

    [Theory]
    [InlineData("models", "upload", "--help")]
    [InlineData("infer", "-h")]
    [InlineData("batches", "run", "--help")]
    [InlineData("--help")]
    public async Task Help_shows_usage_and_examples(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.Equal(0, result.Code);
        Assert.Contains("Usage:", result.Out);
        Assert.Contains("Examples:", result.Out);
        Assert.Contains("  mdsctl ", result.Out[result.Out.IndexOf("Examples:", StringComparison.Ordinal)..]);
    }

    [Fact]
    public async Task Completion_suggests_subcommands_and_the_bash_script_asks_mdsctl()
    {
        var suggest = await RunAsync("[suggest:7]", "models ");
        Assert.Equal(0, suggest.Code);
        string[] lines = suggest.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("list", lines);
        Assert.Contains("upload", lines);

        var script = await RunAsync("completion", "bash");
        Assert.Equal(0, script.Code);
        Assert.Contains("complete -o default -F _mdsctl_complete mdsctl", script.Out);
        Assert.Contains("[suggest:", script.Out);
    }

    [Fact]
    public async Task Login_with_an_api_key_stores_it_mode_600_and_profiles_never_print_it()
    {
        const string key = "mds_0a1b2c3d_secretsecretsecretsecretsecretsecretsec";
        using var stub = new Stub(request =>
        {
            Assert.Equal("Bearer " + key, request.Headers.Authorization?.ToString());
            return request.RequestUri!.AbsolutePath == "/api/keys" ? (HttpStatusCode.OK, "[]") : (HttpStatusCode.NotFound, "");
        });
        var login = await RunAsync(stub, "login", "--url", "http://mds.test:5080", "--api-key", key, "--profile", "ci");
        Assert.True(login.Code == 0, login.Error);

        string file = Path.Combine(_config, "profiles.json");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_config));
        }

        var saved = JsonNode.Parse(File.ReadAllText(file))!;
        Assert.Equal("ci", saved["current"]!.GetValue<string>());
        Assert.Equal(key, saved["profiles"]!["ci"]!["apiKey"]!.GetValue<string>());

        foreach (string format in new[] { "table", "json", "yaml" })
        {
            var profiles = await RunAsync("profiles", "-o", format);
            Assert.Equal(0, profiles.Code);
            Assert.Contains("http://mds.test:5080", profiles.Out);
            Assert.Contains("mds_0a1b2c3d", profiles.Out);
            Assert.DoesNotContain("secretsecret", profiles.Out);
        }
    }

    [Fact]
    public async Task Backend_errors_exit_1_with_the_backends_reason()
    {
        const string key = "mds_0a1b2c3d_x";
        using var stub = new Stub(request => request.RequestUri!.AbsolutePath switch
        {
            "/api/keys" => (HttpStatusCode.OK, "[]"),
            "/v2/models/nope" => (HttpStatusCode.NotFound, """{"error":"Model 'nope' is not registered."}"""),
            "/api/models/nope" => (HttpStatusCode.NotFound, """{"title":"Not Found","status":404,"detail":"There is no model 'nope'."}"""),
            _ => (HttpStatusCode.InternalServerError, ""),
        });
        Assert.Equal(0, (await RunAsync(stub, "login", "--url", "http://mds.test", "--api-key", key)).Code);

        var infer = await RunAsync(stub, "infer", "nope", "--data", "1,2");
        Assert.Equal(1, infer.Code);
        Assert.Equal("error: Model 'nope' is not registered.", infer.Error.Trim());

        var show = await RunAsync(stub, "models", "show", "nope");
        Assert.Equal(1, show.Code);
        Assert.Equal("error: There is no model 'nope'.", show.Error.Trim());
    }

    [Fact]
    public void Error_text_reads_v2_errors_problem_details_and_spec_problems()
    {
        Assert.Equal("bad", ApiClient.ErrorText(HttpStatusCode.BadRequest, """{"error":"bad"}"""));
        Assert.Equal("why", ApiClient.ErrorText(HttpStatusCode.Conflict, """{"title":"t","detail":"why"}"""));
        Assert.Equal("The pipeline spec is not valid.\n  - steps[0].model: line 3: unknown model",
            ApiClient.ErrorText(HttpStatusCode.BadRequest, """{"error":"The pipeline spec is not valid.","problems":[{"path":"steps[0].model","message":"unknown model","line":3}]}"""));
        Assert.Contains("403", ApiClient.ErrorText(HttpStatusCode.Forbidden, ""));
        Assert.Contains("your role may not do this (403)", ApiClient.ErrorText(HttpStatusCode.Forbidden, """{"title":"Forbidden","status":403}"""));
        Assert.Equal("plain text", ApiClient.ErrorText(HttpStatusCode.BadGateway, "plain text"));
    }

    [Fact]
    public void Data_rows_fill_the_single_input_with_its_declared_shape_and_type()
    {
        var metadata = JsonNode.Parse("""{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[-1,4]}],"outputs":[]}""");
        var request = InferInput.Request(metadata, InferInput.ParseData("5.1,3.5,1.4,0.2; 6.7,3.0,5.2,2.3"));
        var input = request["inputs"]![0]!;
        Assert.Equal("x", input["name"]!.GetValue<string>());
        Assert.Equal("[2,4]", input["shape"]!.ToJsonString());
        Assert.Equal("[5.1,3.5,1.4,0.2,6.7,3,5.2,2.3]", input["data"]!.ToJsonString());

        var ints = JsonNode.Parse("""{"inputs":[{"name":"ids","datatype":"INT64","shape":[-1]}]}""");
        Assert.Equal("[1,2,3]", InferInput.Request(ints, InferInput.ParseData("1,2,3"))["inputs"]![0]!["data"]!.ToJsonString());

        Assert.Throws<UsageException>(() => InferInput.Request(metadata, InferInput.ParseData("1,2,3")));
        Assert.Throws<UsageException>(() => InferInput.ParseData("1,x"));
        var two = JsonNode.Parse("""{"inputs":[{"name":"a","datatype":"FP32","shape":[-1,1]},{"name":"b","datatype":"FP32","shape":[-1,1]}]}""");
        Assert.Throws<UsageException>(() => InferInput.Request(two, InferInput.ParseData("1")));
        Assert.Equal(2, InferInput.ParseCsv(["a,b", "1,2", "", "3,4"]).Count);
    }

    [Fact]
    public void Yaml_output_is_block_style_with_quoted_strings()
    {
        var value = JsonNode.Parse("""{"name":"iris","live":2,"tags":["a","b"],"versions":[{"version":1,"state":"Ready"}],"empty":[],"none":null}""");
        Assert.Equal("""
            name: "iris"
            live: 2
            tags:
              - "a"
              - "b"
            versions:
              - version: 1
                state: "Ready"
            empty: []
            none: null
            """.ReplaceLineEndings("\n"), Output.Yaml(value));
    }

    [Theory]
    [InlineData("iris", "iris", null)]
    [InlineData("iris:2", "iris", 2)]
    [InlineData("my.model:10", "my.model", 10)]
    [InlineData("iris:", null, null)]
    [InlineData("iris:0", null, null)]
    [InlineData(":2", null, null)]
    [InlineData("iris:v2", null, null)]
    public void Model_references_are_name_or_name_colon_version(string text, string? name, int? version)
    {
        var parsed = ModelRef.Parse(text);
        Assert.Equal(name, parsed?.Name);
        Assert.Equal(version, parsed?.Version);
    }

    [Fact]
    public async Task Batches_run_uploads_the_file_with_the_version_polls_a_job_and_writes_the_result()
    {
        const string key = "mds_0a1b2c3d_x";
        string csv = Path.Combine(_config, "rows.csv");
        string result = Path.Combine(_config, "result.csv");
        Directory.CreateDirectory(_config);
        await File.WriteAllTextAsync(csv, "a,b\n1,2\n3,4\n");
        string? form = null;
        int polls = 0;
        string Batch(string state, int done) =>
            $$"""{"id":7,"modelName":"iris","version":2,"state":"{{state}}","fileName":"rows.csv","totalRows":2,"doneRows":{{done}},"columns":["a","b","y"],"createdBy":"me","createdAt":"2026-01-01T00:00:00Z"}""";
        using var stub = new Stub(request =>
        {
            if (request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath == "/api/models/iris/batches")
            {
                using var reader = new StreamReader(request.Content!.ReadAsStream());
                form = reader.ReadToEnd();
                return (HttpStatusCode.Accepted, Batch("Queued", 0));
            }

            return request.RequestUri!.AbsolutePath switch
            {
                "/api/keys" => (HttpStatusCode.OK, "[]"),
                "/api/batches/7" => ++polls < 2 ? (HttpStatusCode.OK, Batch("Running", 1)) : (HttpStatusCode.OK, Batch("Succeeded", 2)),
                "/api/batches/7/result.csv" => (HttpStatusCode.OK, "a,b,y\n1,2,5\n3,4,11\n"),
                _ => (HttpStatusCode.NotFound, ""),
            };
        });
        Assert.Equal(0, (await RunAsync(stub, "login", "--url", "http://mds.test", "--api-key", key)).Code);

        var run = await RunAsync(stub, "batches", "run", csv, "--model", "iris:2", "--out", result);
        Assert.True(run.Code == 0, run.Error);
        Assert.Equal(2, polls);
        Assert.Contains("name=version", form, StringComparison.Ordinal);
        Assert.Contains("name=file; filename=rows.csv", form, StringComparison.Ordinal);
        Assert.Equal("a,b,y\n1,2,5\n3,4,11\n", await File.ReadAllTextAsync(result));
        Assert.Contains("result.csv", run.Out, StringComparison.Ordinal);

        polls = 1;
        var stdout = await RunAsync(stub, "batches", "run", csv, "--model", "iris");
        Assert.Equal((0, "a,b,y\n1,2,5\n3,4,11\n"), (stdout.Code, stdout.Out));
    }

    [Fact]
    public async Task A_failed_batch_exits_1_with_its_error()
    {
        string csv = Path.Combine(_config, "rows.csv");
        Directory.CreateDirectory(_config);
        await File.WriteAllTextAsync(csv, "a,b\n1,2\n");
        using var stub = new Stub(request => request.RequestUri!.AbsolutePath switch
        {
            "/api/keys" => (HttpStatusCode.OK, "[]"),
            "/api/pipelines/p/batches" => (HttpStatusCode.Accepted,
                """{"id":8,"modelName":"p.pipeline","version":1,"state":"Failed","fileName":"rows.csv","totalRows":1,"doneRows":0,"error":"no Ready replica","columns":[],"createdBy":"me","createdAt":"2026-01-01T00:00:00Z","pipeline":"p"}"""),
            _ => (HttpStatusCode.NotFound, ""),
        });
        Assert.Equal(0, (await RunAsync(stub, "login", "--url", "http://mds.test", "--api-key", "mds_0a1b2c3d_x")).Code);
        var run = await RunAsync(stub, "batches", "run", csv, "--pipeline", "p");
        Assert.Equal((1, "error: batch 8 failed: no Ready replica"), (run.Code, run.Error.Trim()));
    }

    private sealed class Stub(Func<HttpRequestMessage, (HttpStatusCode Status, string Body)> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var (status, body) = answer(request);
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
