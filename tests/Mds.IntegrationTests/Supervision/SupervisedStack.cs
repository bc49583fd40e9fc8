using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Npgsql;

namespace Mds.IntegrationTests.Supervision;

/// <summary>
/// <c>./mds up</c> itself, as an operator runs it, in a state folder of its own (<c>MDS_STATE_DIR</c>) on free ports:
/// its own PostgreSQL cluster and nats-server, the backend, two workers and the portal, supervised. Uses what the
/// build produced (<c>MDS_BUILD=0</c>) and seeds nothing; the tests deploy the iris sample with two replicas.
/// </summary>
public sealed class SupervisedStack : IAsyncLifetime
{
    public const string AdminPassword = "supervised-admin-Password-1";
    public const string PgPassword = "supervised-pg-password";
    public const string Model = "iris-pair";

    private readonly ConcurrentQueue<string> _output = new();
    private Process _up = null!;
    private string _stateDirectory = "";
    private readonly int _backendPort = TestEnvironment.FreePort();
    private readonly int _workerBasePort = FreeEvenRange(4);
    private readonly int _portalPort = TestEnvironment.FreePort();

    public Uri Api => new($"http://127.0.0.1:{_backendPort}");
    public Uri PortalUrl => new($"http://127.0.0.1:{_portalPort}");
    public Uri WorkerUrl(int index) => new($"http://127.0.0.1:{_workerBasePort + 2 * index}");
    public string Output => string.Join('\n', _output);
    public string StateDirectory => _stateDirectory;
    public string Token { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _stateDirectory = Directory.CreateTempSubdirectory("mds-supervised-").FullName;
        var start = Mds("up");
        _up = Process.Start(start)!;
        _up.OutputDataReceived += (_, e) => Capture(e.Data);
        _up.ErrorDataReceived += (_, e) => Capture(e.Data);
        _up.BeginOutputReadLine();
        _up.BeginErrorReadLine();
        await Eventually.TrueAsync(() => Task.FromResult(_output.Any(l => l.StartsWith("MDS is running", StringComparison.Ordinal)) || _up.HasExited),
            TimeSpan.FromMinutes(4), "./mds up to start the stack");
        Assert.False(_up.HasExited, $"./mds up exited:\n{Output}");

        using var anonymous = new HttpClient { BaseAddress = Api };
        var token = await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest("admin@mds.local", AdminPassword));
        token.EnsureSuccessStatusCode();
        Token = (await token.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;

        using var client = Client(Api);
        using var form = new MultipartFormDataContent
        {
            { new StringContent(Model), "name" },
            { new StringContent("2"), "replicas" },
        };
        var file = new ByteArrayContent(await File.ReadAllBytesAsync(TestEnvironment.Sample("iris")));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", "model.onnx");
        var uploaded = await client.PostAsync("/api/models", form);
        Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
        await WaitForReadyReplicasAsync(2, TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync()
    {
        if (_up is not null)
        {
            // ./mds down stops ./mds up (TERM), which stops every service and its PostgreSQL.
            using var down = Process.Start(Mds("down"))!;
            await down.WaitForExitAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await _up.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _up.Kill(entireProcessTree: true);
            }

            _up.Dispose();
        }

        try
        {
            Directory.Delete(_stateDirectory, recursive: true);
        }
        catch (IOException)
        {
            // left for the OS's temp cleanup
        }
    }

    /// <summary>A client with the admin's token.</summary>
    public HttpClient Client(Uri baseAddress)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    /// <summary>The supervisor's table (.mds/run/services.tsv): pid and restarts per running service.</summary>
    public Dictionary<string, (string State, int Pid, int Restarts)> Services()
    {
        var table = new Dictionary<string, (string, int, int)>(StringComparer.Ordinal);
        string path = Path.Combine(_stateDirectory, "run", "services.tsv");
        if (!File.Exists(path))
        {
            return table;
        }

        foreach (string line in File.ReadAllLines(path))
        {
            var f = line.Split('\t');
            if (f.Length >= 4)
            {
                table[f[0]] = (f[1], int.TryParse(f[2], out int pid) ? pid : 0, int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return table;
    }

    /// <summary>Seconds between the backend's first "started" and "ready" lines of this ./mds up (its cold start).</summary>
    public int BackendColdStartSeconds()
    {
        var lines = _output.ToArray();
        static TimeSpan At(string line) => TimeSpan.Parse(line[..8], System.Globalization.CultureInfo.InvariantCulture);
        string started = lines.First(l => l.Contains("[backend]  started", StringComparison.Ordinal));
        string ready = lines.First(l => l.Contains("[backend]  ready", StringComparison.Ordinal));
        return (int)Math.Ceiling((At(ready) - At(started)).TotalSeconds);
    }

    /// <summary>How many loads the workers' logs show so far ("Loading replica ...").</summary>
    public int LoadsSoFar() =>
        Enumerable.Range(0, 2).Sum(i => File.ReadLines(Path.Combine(_stateDirectory, "logs", $"worker-{i}.log")).Count(l => l.Contains("Loading replica", StringComparison.Ordinal)));

    /// <summary>The stack's database, as its owner.</summary>
    public string DatabaseConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = int.Parse(File.ReadAllText(Path.Combine(_stateDirectory, "pg-port")).Trim(), System.Globalization.CultureInfo.InvariantCulture),
        Username = "postgres",
        Password = PgPassword,
        Database = "mds",
        Pooling = false,
    }.ConnectionString;

    public async Task WaitForReadyReplicasAsync(int count, TimeSpan timeout)
    {
        using var client = Client(Api);
        ModelVersionDto? last = null;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                last = await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{Model}/versions/1");
                return last!.State == VersionStates.Ready && last.ReplicaStates.Count(r => r.State == ReplicaStates.Ready) >= count;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, timeout, $"{count} Ready replicas of {Model} (last: {last?.State}, replicas {string.Join(",", last?.ReplicaStates.Select(r => r.State) ?? [])}):\n{Output}");
    }

    /// <summary>One iris inference through <paramref name="client"/> (the gateway or a worker); true when it answered 200.</summary>
    public static async Task<bool> InferAsync(HttpClient client, string? requestId = null) => await InferStatusAsync(client, requestId) == 200;

    /// <summary>One iris inference: the HTTP status, 0 when no answer came.</summary>
    public static async Task<int> InferStatusAsync(HttpClient client, string? requestId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer")
        {
            Content = V2Json.Request("Features", [1, 4], "FP32", new[] { 5.1f, 3.5f, 1.4f, 0.2f }),
        };
        if (requestId is not null)
        {
            request.Headers.Add(MdsHeaders.RequestId, requestId);
        }

        try
        {
            using var response = await client.SendAsync(request);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private ProcessStartInfo Mds(string command)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(TestEnvironment.RepoRoot, "mds"), command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = TestEnvironment.RepoRoot,
        };
        start.Environment["MDS_STATE_DIR"] = _stateDirectory;
        start.Environment["MDS_BUILD"] = "0";
        start.Environment["MDS_SEED"] = "0";
        start.Environment["MDS_BACKEND_PORT"] = _backendPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["MDS_PORTAL_PORT"] = _portalPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["MDS_WORKER_BASE_PORT"] = _workerBasePort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["MDS_ADMIN_PASSWORD"] = AdminPassword;
        start.Environment["MDS_PG_PASSWORD"] = PgPassword;
        start.Environment["MDS_STOP_GRACE"] = "15";
        start.Environment["DOTNET_gcServer"] = "0";
        return start;
    }

    private void Capture(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    /// <summary>A base port with <paramref name="count"/> free ports after it (the workers' REST and gRPC ports) and the backend's gRPC one free too.</summary>
    private static int FreeEvenRange(int count)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            int port = TestEnvironment.FreePort();
            if (port + count < 65535 && Enumerable.Range(port, count).All(IsFree))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free port range");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
