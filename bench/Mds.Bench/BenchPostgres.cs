using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Mds.Bench;

/// <summary>
/// A PostgreSQL server of a benchmark's own (initdb in a temporary folder, on the given or a free loopback port, the
/// test cluster's settings), for benchmarks that stop and start the database, which a shared server must never see.
/// Uses the PostgreSQL that ./mds installs; as root, the server runs as the <c>postgres</c> user, as ./mds runs it.
/// Disposing stops it (immediate) and deletes its folder.
/// </summary>
internal sealed class BenchPostgres : IAsyncDisposable
{
    private const string Settings = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300";

    private readonly string _bin;
    private readonly string _directory;

    private BenchPostgres(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>A server-level connection string (no database), as <see cref="LocalCluster.StartAsync"/> takes.</summary>
    public string ServerConnectionString => $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres";

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>initdb and start, on <paramref name="port"/> (0: a free one).</summary>
    public static async Task<BenchPostgres> StartAsync(int port, CancellationToken ct)
    {
        string bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().LastOrDefault() ?? ""
            : "";
        if (bin.Length == 0)
        {
            throw new InvalidOperationException("No PostgreSQL server binaries under /usr/lib/postgresql/*/bin: run ./mds bench, which installs them.");
        }

        string directory = Directory.CreateTempSubdirectory("mds-bench-pg-").FullName;
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["postgres:postgres", directory], ct);
        }

        var server = new BenchPostgres(bin, directory, port > 0 ? port : ServiceHost.FreeLoopbackUrl().Port);
        await server.PgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], ct);
        await server.StartServerAsync(ct);
        return server;
    }

    /// <summary>Stops the server as an operator or a failover would: fast shutdown, every connection cut.</summary>
    public Task StopServerAsync(CancellationToken ct) => PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], ct);

    /// <summary>Starts the server (again) and waits until it accepts connections.</summary>
    public Task StartServerAsync(CancellationToken ct) => PgAsync("pg_ctl", [
        "-D", DataDirectory, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60",
        "-o", $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {_directory} -c listen_addresses=127.0.0.1 {Settings}", "start"], ct);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // the OS's temp folder to clean
        }
    }

    private Task PgAsync(string tool, IReadOnlyList<string> args, CancellationToken ct) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args], ct)
            : RunAsync(Path.Combine(_bin, tool), args, ct);

    private static async Task RunAsync(string file, IReadOnlyList<string> args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }
}
