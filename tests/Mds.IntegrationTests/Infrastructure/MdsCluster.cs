using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Mds.Contracts.Api;
using Mds.Migrations;

namespace Mds.IntegrationTests.Infrastructure;

/// <summary>
/// A whole MDS on loopback for tests: a fresh PostgreSQL database (migrated by the real migrator), the backend and
/// workers as real processes. Exposes HTTP clients per role and intent methods (upload, wait until Ready, start or
/// kill a worker).
/// </summary>
public sealed class MdsCluster : IAsyncLifetime
{
    public const string AdminEmail = "admin@test.local";
    public const string Password = "correct-horse-battery";
    public const string WorkerKey = "test-worker-key-0123456789";
    public const long MaxUploadBytes = 2 * 1024 * 1024;
    /// <summary>Batches of more rows than this become Hangfire jobs in tests.</summary>
    public const int BatchSyncMaxRows = 100;

    /// <summary>The drift window (input rows) the test backend compares.</summary>
    public const int DriftWindowRows = 300;

    private readonly List<ServiceProcess> _workers = [];
    private readonly Dictionary<string, string> _tokens = [];
    private string _dataDirectory = "";
    private Dictionary<string, string> _backendEnvironment = [];

    /// <summary>The database owner's connection string (the migrator's; tests read and arrange with it).</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>The backend logs in as <see cref="DatabaseRoles.Backend"/>.</summary>
    public string BackendConnectionString { get; private set; } = "";

    /// <summary>Workers log in as <see cref="DatabaseRoles.Worker"/>: audit inserts and their Hangfire queue only.</summary>
    public string WorkerConnectionString { get; private set; } = "";

    /// <summary>The roles' passwords in tests (the test cluster trusts loopback; ./mds up's does not).</summary>
    public const string DatabaseRolePassword = "test-role-password";
    public ServiceProcess Backend { get; private set; } = null!;
    public IReadOnlyList<ServiceProcess> Workers => _workers;
    public Uri BackendUrl => Backend.Url;

    /// <summary>The backend's data directory (artifacts, datasets).</summary>
    public string BackendDataDirectory => Path.Combine(_dataDirectory, "backend");

    /// <summary>Set before InitializeAsync to start with no workers or more.</summary>
    public int InitialWorkers { get; init; } = 1;

    /// <summary>Extra backend settings (environment variables), e.g. faster failure detection.</summary>
    public IReadOnlyDictionary<string, string> BackendSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Set before InitializeAsync for streams: every backend gets this server's URL (<c>Mds:Streaming:Nats:Url</c>).</summary>
    public NatsServer? Nats { get; init; }

    public async Task InitializeAsync()
    {
        ConnectionString = await TestEnvironment.CreateDatabaseAsync("mds_it");
        await Migrator.EnsureRolesAsync(ConnectionString, DatabaseRolePassword, DatabaseRolePassword);
        await Migrator.MigrateAsync(ConnectionString);
        BackendConnectionString = WithRole(ConnectionString, DatabaseRoles.Backend);
        WorkerConnectionString = WithRole(ConnectionString, DatabaseRoles.Worker);
        _dataDirectory = Directory.CreateTempSubdirectory("mds-it-").FullName;

        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Mds"] = BackendConnectionString,
            ["Mds__DataDirectory"] = BackendDataDirectory,
            ["Mds__Cluster__WorkerKey"] = WorkerKey,
            ["Mds__Auth__SigningKey"] = "integration-tests-signing-key-0123456789abcdef",
            ["Mds__Admin__Email"] = AdminEmail,
            ["Mds__Admin__Password"] = Password,
            ["Mds__Scheduler__ReconcileInterval"] = "00:00:01",
            ["Mds__Batch__SyncMaxRows"] = BatchSyncMaxRows.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mds__Batch__RowsPerRequest"] = "32",
            ["Mds__Drift__WindowRows"] = DriftWindowRows.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mds__Drift__Schedule"] = "*/5 * * * * *",
            ["Mds__Drift__SyncInterval"] = "00:00:02",
            ["Mds__Outliers__Interval"] = "00:00:00.500",
            ["Mds__Diagnostics__ListEndpoints"] = "true",
            ["Mds__Registry__MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Tests sign in often from one address; the sign-in limits have their own tests (SignInAbuseTests).
            ["Mds__Auth__SignInPermitsPerAddress"] = "100000",
            ["Mds__Auth__SignInPermitsPerAccount"] = "100000",
            // Suites deploy their models side by side; the concurrency limits have their own tests (OperationalLimitsTests).
            ["Mds__Registry__MaxConcurrentUploads"] = "64",
            ["Mds__Registry__MaxQueuedUploads"] = "1000",
            // Test models load in ~70 MiB; InspectTests' memory hog needs 1 GiB.
            ["Mds__Registry__InspectMemoryMb"] = "256",
            ["Mds__Batch__MaxConcurrentUploads"] = "64",
            ["Mds__Batch__MaxQueuedUploads"] = "1000",
            ["Mds__Batch__MaxStoredPerUser"] = "100000",
            ["Mds__Explanations__MaxConcurrent"] = "64",
            ["Mds__Explanations__MaxQueued"] = "1000",
            ["Mds__Drift__MaxConcurrentManualRuns"] = "64",
            ["Mds__Drift__MaxQueuedManualRuns"] = "1000",
        };
        if (Nats is not null)
        {
            environment["Mds__Streaming__Nats__Url"] = Nats.Url;
        }

        foreach (var (key, value) in BackendSettings)
        {
            environment[key] = value;
        }

        _backendEnvironment = environment;
        Backend = ServiceProcess.Start("backend", TestEnvironment.ServiceDll("Mds.Backend"), TestEnvironment.FreePort(), environment);
        await Backend.WaitUntilHealthyAsync("/healthz", TimeSpan.FromSeconds(60));

        using var admin = await ClientAsync(Roles.Admin);
        foreach (string role in new[] { Roles.Researcher, Roles.Analyst })
        {
            var created = await admin.PostAsJsonAsync("/api/users", new CreateUserRequest(EmailOf(role), Password, [role]));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        for (int i = 0; i < InitialWorkers; i++)
        {
            await StartWorkerAsync($"worker-{i}");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var w in _workers)
        {
            await w.DisposeAsync();
        }

        if (Backend is not null)
        {
            await Backend.DisposeAsync();
        }

        if (ConnectionString.Length == 0)
        {
            return; // InitializeAsync failed before anything was created; its own error is the one to see
        }

        await TestEnvironment.DropDatabaseAsync(ConnectionString);
        try
        {
            if (_dataDirectory.Length > 0)
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
        }
        catch (IOException)
        {
            // a worker may still hold a cache file; the temp directory is cleaned by the OS eventually
        }
    }

    /// <summary><paramref name="connectionString"/> logging in as <paramref name="role"/> instead.</summary>
    public static string WithRole(string connectionString, string role) =>
        new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Username = role, Password = DatabaseRolePassword }.ConnectionString;

    /// <summary>
    /// Another backend instance on the same database (as behind a load balancer), with <paramref name="settings"/> over
    /// the first one's; no gRPC port of its own. The caller disposes it.
    /// </summary>
    public async Task<ServiceProcess> StartBackendAsync(string name, IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>(_backendEnvironment) { ["Mds__Gateway__GrpcPort"] = "0" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var backend = ServiceProcess.Start(name, TestEnvironment.ServiceDll("Mds.Backend"), TestEnvironment.FreePort(), environment);
        try
        {
            await backend.WaitUntilHealthyAsync("/healthz", TimeSpan.FromSeconds(60));
        }
        catch
        {
            await backend.DisposeAsync();
            throw;
        }

        return backend;
    }

    public static string EmailOf(string role) => role == Roles.Admin ? AdminEmail : $"{role.ToLowerInvariant()}@test.local";

    /// <summary>Starts a worker process and waits until the backend lists it Online.</summary>
    public async Task<ServiceProcess> StartWorkerAsync(string name, string capabilities = "onnx,cpu", int memoryMb = 2048, IReadOnlyDictionary<string, string>? settings = null)
    {
        int port = TestEnvironment.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Mds"] = WorkerConnectionString,
            ["Mds__Worker__Name"] = name,
            ["Mds__Worker__BackendUrl"] = BackendUrl.ToString().TrimEnd('/'),
            ["Mds__Worker__PublicUrl"] = $"http://127.0.0.1:{port}",
            ["Mds__Worker__Capabilities"] = capabilities,
            ["Mds__Worker__MemoryCapacityMb"] = memoryMb.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mds__Worker__CacheDirectory"] = Path.Combine(_dataDirectory, name),
            ["Mds__Cluster__WorkerKey"] = WorkerKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var worker = ServiceProcess.Start(name, TestEnvironment.ServiceDll("Mds.Workers"), port, environment);
        _workers.Add(worker);
        await worker.WaitUntilHealthyAsync("/v2/health/live", TimeSpan.FromSeconds(60));

        using var admin = await ClientAsync(Roles.Admin);
        await Eventually.TrueAsync(async () =>
        {
            var workers = await admin.GetFromJsonAsync<List<WorkerDto>>("/api/workers");
            return workers!.Any(w => w.Name == name && w.State == WorkerStates.Online);
        }, TimeSpan.FromSeconds(30), $"worker {name} to register:\n{worker.OutputTail}");
        return worker;
    }

    /// <summary>Stops a worker (SIGTERM, SIGKILL after 10 s) and forgets it; the backend then sees it go silent.</summary>
    public async Task StopWorkerAsync(ServiceProcess worker)
    {
        _workers.Remove(worker);
        await worker.DisposeAsync();
    }

    /// <summary>A client signed in as <paramref name="role"/> (null: anonymous).</summary>
    public async Task<HttpClient> ClientAsync(string? role)
    {
        var client = new HttpClient { BaseAddress = BackendUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (role is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(role));
        }

        return client;
    }

    /// <summary>A client that calls a worker directly (REST) with <paramref name="role"/>'s token (null: anonymous).</summary>
    public async Task<HttpClient> WorkerClientAsync(Uri workerUrl, string? role = Roles.Analyst)
    {
        var client = new HttpClient { BaseAddress = workerUrl };
        if (role is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(role));
        }

        return client;
    }

    /// <summary>A gRPC channel to a worker (cleartext HTTP/2) whose calls carry <paramref name="role"/>'s token (null: none).</summary>
    public async Task<GrpcChannel> WorkerChannelAsync(string address, string? role = Roles.Analyst) =>
        ChannelWithToken(address, role is null ? null : await TokenAsync(role));

    /// <summary>A gRPC channel (cleartext HTTP/2) whose calls carry <c>authorization: Bearer {token}</c> (null: none).</summary>
    public static GrpcChannel ChannelWithToken(string address, string? token)
    {
        if (token is null)
        {
            return GrpcChannel.ForAddress(address);
        }

        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            metadata.Add("authorization", "Bearer " + token);
            return Task.CompletedTask;
        });
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, credentials),
            UnsafeUseInsecureChannelCallCredentials = true,
        });
    }

    public async Task<string> TokenAsync(string role)
    {
        if (_tokens.TryGetValue(role, out string? token))
        {
            return token;
        }

        using var anonymous = new HttpClient { BaseAddress = BackendUrl };
        var response = await anonymous.PostAsJsonAsync("/api/auth/token", new TokenRequest(EmailOf(role), Password));
        response.EnsureSuccessStatusCode();
        token = (await response.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;
        _tokens[role] = token;
        return token;
    }

    /// <summary>Uploads an ONNX file as a researcher; returns the raw response.</summary>
    public async Task<HttpResponseMessage> UploadAsync(string name, byte[] onnx, IReadOnlyDictionary<string, string>? fields = null, string? role = Roles.Researcher)
    {
        using var client = await ClientAsync(role);
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(name), "name");
        foreach (var (key, value) in fields ?? new Dictionary<string, string>())
        {
            form.Add(new StringContent(value), key);
        }

        var file = new ByteArrayContent(onnx);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", "model.onnx");
        return await client.PostAsync("/api/models", form);
    }

    /// <summary>Posts one file as multipart <c>file</c> (plus text fields) to <paramref name="path"/> as <paramref name="role"/>.</summary>
    public async Task<HttpResponseMessage> PostFileAsync(string path, byte[] content, string fileName, IReadOnlyDictionary<string, string>? fields = null, string? role = Roles.Researcher)
    {
        using var client = await ClientAsync(role);
        using var form = new MultipartFormDataContent();
        foreach (var (key, value) in fields ?? new Dictionary<string, string>())
        {
            form.Add(new StringContent(value), key);
        }

        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        return await client.PostAsync(path, form);
    }

    /// <summary>Uploads a CSV as a version's reference dataset.</summary>
    public Task<HttpResponseMessage> UploadDatasetAsync(string model, int version, string csv, string? labelColumn = null, string? role = Roles.Researcher) =>
        PostFileAsync($"/api/models/{model}/versions/{version}/dataset", System.Text.Encoding.UTF8.GetBytes(csv), "data.csv",
            labelColumn is null ? null : new Dictionary<string, string> { ["labelColumn"] = labelColumn }, role);

    /// <summary>Uploads and waits until the new version is Ready.</summary>
    public async Task<ModelVersionDto> DeployAsync(string name, byte[] onnx, IReadOnlyDictionary<string, string>? fields = null)
    {
        var response = await UploadAsync(name, onnx, fields);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"upload of {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var version = (await response.Content.ReadFromJsonAsync<ModelVersionDto>())!;
        return await WaitForVersionAsync(name, version.Version, VersionStates.Ready, TimeSpan.FromSeconds(60));
    }

    /// <summary>Deploys <paramref name="name"/> unless an earlier test did; either way waits until version 1 is Ready.</summary>
    public async Task EnsureReadyAsync(string name, byte[] onnx)
    {
        using var client = await ClientAsync(Roles.Analyst);
        if ((await client.GetAsync($"/api/models/{name}")).StatusCode == HttpStatusCode.NotFound)
        {
            await DeployAsync(name, onnx);
        }
        else
        {
            await WaitForVersionAsync(name, 1, VersionStates.Ready, TimeSpan.FromSeconds(60));
        }
    }

    public async Task<ModelVersionDto> WaitForVersionAsync(string name, int version, string state, TimeSpan timeout)
    {
        using var client = await ClientAsync(Roles.Analyst);
        ModelVersionDto? last = null;
        await Eventually.TrueAsync(async () =>
        {
            last = await client.GetFromJsonAsync<ModelVersionDto>($"/api/models/{name}/versions/{version}");
            return last!.State == state;
        }, timeout, $"{name} v{version} to become {state} (last: {last?.State} {last?.StateReason}); workers:\n{string.Join("\n---\n", _workers.Select(w => w.Name + ":\n" + w.OutputTail))}\nbackend:\n{Backend.OutputTail}");
        return last!;
    }
}

/// <summary>Polls a condition until it holds or time runs out.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}");
            }

            await Task.Delay(100);
        }
    }
}
