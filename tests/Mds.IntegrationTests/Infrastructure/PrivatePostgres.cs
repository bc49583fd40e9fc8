using System.Diagnostics;
using Npgsql;

namespace Mds.IntegrationTests.Infrastructure;

/// <summary>
/// A PostgreSQL server of a test's own (initdb in a temporary folder, on a free loopback port), for tests that stop
/// and start the database, which the suite's shared server must never do. Uses the PostgreSQL that ./mds installs;
/// as root, the server runs as the <c>postgres</c> user, as ./mds runs it.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _directory;

    private PrivatePostgres(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Connection string of the server's <c>postgres</c> database.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = "postgres" }.ConnectionString;

    /// <summary>initdb and start.</summary>
    public static async Task<PrivatePostgres> StartAsync()
    {
        string bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().LastOrDefault() ?? ""
            : "";
        if (bin.Length == 0)
        {
            throw new InvalidOperationException("No PostgreSQL server binaries under /usr/lib/postgresql/*/bin: run the tests with ./mds test, which installs them.");
        }

        string directory = Directory.CreateTempSubdirectory("mds-private-pg-").FullName;
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["postgres:postgres", directory]);
        }

        var server = new PrivatePostgres(bin, directory, TestEnvironment.FreePort());
        await server.PgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]);
        await server.StartServerAsync();
        return server;
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>Stops the server (fast shutdown: connections are cut), stays down for <paramref name="down"/>, starts it again.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]);
        await Task.Delay(down);
        await StartServerAsync();
    }

    /// <summary>Stops the server (fast shutdown: connections are cut) until <see cref="StartServerAsync"/>.</summary>
    public Task StopServerAsync() => PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Starts the server (again).</summary>
    public Task StartServerAsync() => PgAsync("pg_ctl", [
        "-D", DataDirectory, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60",
        "-o", $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]);

    private Task PgAsync(string tool, IReadOnlyList<string> args) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args])
            : RunAsync(Path.Combine(_bin, tool), args);

    private static async Task RunAsync(string file, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }
}
