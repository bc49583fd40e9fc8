using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Npgsql;

namespace Mds.Bench;

/// <summary>
/// A throw-away MDS on loopback for benchmarks that need real processes: a new database on the given PostgreSQL server
/// (migrated by the real migrator), the backend, and workers with per-worker settings, all from the Release build.
/// Disposing stops them and drops the database.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private const string AdminEmail = "admin@bench.local";
    private const string AdminPassword = "bench-admin-password-1";
    private const string WorkerKey = "bench-worker-key-0123456789abcdef";

    private readonly List<ServiceHost> _workers = [];
    private readonly string _dataDirectory;

    private LocalCluster(string connectionString, string dataDirectory)
    {
        ConnectionString = connectionString;
        _dataDirectory = dataDirectory;
    }

    public string ConnectionString { get; }

    public ServiceHost Backend { get; private set; } = null!;

    /// <summary>Creates the database, migrates it and starts the backend (with <paramref name="backendSettings"/> added to its environment).</summary>
    public static async Task<LocalCluster> StartAsync(string serverConnectionString, CancellationToken ct, IReadOnlyDictionary<string, string>? backendSettings = null)
    {
        string database = $"mds_bench_{Guid.NewGuid():N}";
        string connectionString = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = database }.ConnectionString;
        var cluster = new LocalCluster(connectionString, Directory.CreateTempSubdirectory("mds-bench-").FullName);
        try
        {
            // The migrator creates the database when it does not exist, as ./mds relies on.
            await ServiceHost.RunToEndAsync(ServiceHost.Dll("migrations", "Mds.Migrations"), new Dictionary<string, string> { ["ConnectionStrings__Mds"] = connectionString }, ct);
            var environment = new Dictionary<string, string>
            {
                ["ConnectionStrings__Mds"] = connectionString,
                ["Mds__DataDirectory"] = Path.Combine(cluster._dataDirectory, "backend"),
                ["Mds__Cluster__WorkerKey"] = WorkerKey,
                ["Mds__Auth__SigningKey"] = "bench-signing-key-0123456789abcdef0123456789",
                ["Mds__Admin__Email"] = AdminEmail,
                ["Mds__Admin__Password"] = AdminPassword,
                ["Mds__Scheduler__ReconcileInterval"] = "00:00:01",
            };
            foreach (var (key, value) in backendSettings ?? new Dictionary<string, string>())
            {
                environment[key] = value;
            }

            cluster.Backend = ServiceHost.Start("backend", ServiceHost.Dll("src", "Mds.Backend"), ServiceHost.FreeLoopbackUrl(), environment);
            await cluster.Backend.WaitUntilHealthyAsync("/healthz", TimeSpan.FromSeconds(90), ct);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts a worker named <paramref name="name"/> with <paramref name="settings"/> added, and waits until it is ready
    /// (registered), or only live when <paramref name="readyPath"/> says <c>/v2/health/live</c> (a worker started while
    /// the database is away cannot register yet).
    /// </summary>
    /// <remarks><paramref name="dll"/>: another build of the worker (the autoscale bench's before-and-after), else this one.</remarks>
    public async Task<ServiceHost> StartWorkerAsync(string name, IReadOnlyDictionary<string, string> settings, CancellationToken ct, string readyPath = "/v2/health/ready", string? dll = null)
    {
        var url = ServiceHost.FreeLoopbackUrl();
        int grpcPort = ServiceHost.FreeLoopbackUrl().Port;
        var environment = new Dictionary<string, string>
        {
            ["Mds__Worker__GrpcPort"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mds__Worker__GrpcUrl"] = $"http://127.0.0.1:{grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
            ["ConnectionStrings__Mds"] = ConnectionString,
            ["Mds__Worker__Name"] = name,
            ["Mds__Worker__BackendUrl"] = Backend.Url.ToString().TrimEnd('/'),
            ["Mds__Worker__PublicUrl"] = url.ToString().TrimEnd('/'),
            ["Mds__Worker__Capabilities"] = "onnx,cpu",
            ["Mds__Worker__MemoryCapacityMb"] = "2048",
            ["Mds__Worker__CacheDirectory"] = Path.Combine(_dataDirectory, name),
            ["Mds__Cluster__WorkerKey"] = WorkerKey,
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var worker = ServiceHost.Start(name, dll ?? ServiceHost.Dll("src", "Mds.Workers"), url, environment);
        _workers.Add(worker);
        await worker.WaitUntilHealthyAsync(readyPath, TimeSpan.FromSeconds(90), ct); // ready = registered
        return worker;
    }

    /// <summary>Stops a worker started by <see cref="StartWorkerAsync"/> before the cluster ends.</summary>
    public async Task StopWorkerAsync(ServiceHost worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        _workers.Remove(worker);
        await worker.DisposeAsync();
    }

    /// <summary>
    /// The admin's bearer token once <see cref="AdminClientAsync"/> has signed in: what the benches send when they call
    /// a worker directly (workers authenticate every caller).
    /// </summary>
    public static AuthenticationHeaderValue? WorkerAuthorization { get; private set; }

    /// <summary><see cref="WorkerAuthorization"/> as gRPC metadata (empty before sign-in).</summary>
    public static Grpc.Core.Metadata GrpcAuthorization() =>
        WorkerAuthorization is { } a ? new Grpc.Core.Metadata { { "authorization", a.ToString() } } : [];

    /// <summary>An HTTP client of the backend signed in as the admin.</summary>
    public async Task<HttpClient> AdminClientAsync(CancellationToken ct)
    {
        var http = new HttpClient { BaseAddress = Backend.Url, Timeout = TimeSpan.FromSeconds(60) };
        using var response = await http.PostAsJsonAsync("/api/auth/token", new TokenRequest(AdminEmail, AdminPassword), ct);
        response.EnsureSuccessStatusCode();
        var token = (await response.Content.ReadFromJsonAsync<TokenResponse>(ct))!;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
        WorkerAuthorization = http.DefaultRequestHeaders.Authorization;
        return http;
    }

    /// <summary>
    /// Uploads <paramref name="onnx"/> as <paramref name="model"/> with <paramref name="replicas"/> replicas and waits until all are
    /// Ready; <paramref name="version"/> is the version the upload becomes (2 for a second upload of the same name).
    /// </summary>
    public static async Task DeployAsync(HttpClient admin, string model, string onnx, int replicas, CancellationToken ct, int version = 1)
    {
        ArgumentNullException.ThrowIfNull(admin);
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new StringContent(model), "name");
            form.Add(new StringContent(replicas.ToString(System.Globalization.CultureInfo.InvariantCulture)), "replicas");
            var file = new ByteArrayContent(await File.ReadAllBytesAsync(onnx, ct));
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", "model.onnx");
            using var uploaded = await admin.PostAsync(new Uri("/api/models", UriKind.Relative), form, ct);
            if (!uploaded.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"upload: {(int)uploaded.StatusCode} {await uploaded.Content.ReadAsStringAsync(ct)}");
            }
        }

        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            var uploaded = (await admin.GetFromJsonAsync<ModelVersionDto>(new Uri($"/api/models/{model}/versions/{version}", UriKind.Relative), ct))!;
            if (uploaded.ReplicaStates.Count(r => r.State == ReplicaStates.Ready) == replicas)
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(90))
            {
                throw new TimeoutException($"{model}@{version}: {replicas} Ready replicas not reached ({uploaded.State}: {string.Join(", ", uploaded.ReplicaStates.Select(r => $"{r.WorkerName} {r.State} {r.Error}"))})");
            }

            await Task.Delay(100, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        if (Backend is not null)
        {
            await Backend.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        var server = new NpgsqlConnectionStringBuilder(ConnectionString);
        string database = server.Database!;
        server.Database = "postgres";
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // a cache file still held; the temp directory is the OS's to clean
        }
    }
}
