using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Mds.IntegrationTests.Infrastructure;

/// <summary>
/// A real <c>nats-server</c> with JetStream, of a test's own: on a free loopback port, its state in a temporary
/// folder. It can be killed (SIGKILL, as a crash) and started again on the same port with the same state; disposing
/// kills it and deletes the state. Uses Debian's <c>nats-server</c>, which <c>./mds test</c> installs.
/// </summary>
public sealed class NatsServer : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string _directory;
    private readonly string? _token;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private NatsServer(string binary, string directory, int port, string? token)
    {
        _binary = binary;
        _directory = directory;
        _token = token;
        Port = port;
    }

    public int Port { get; }

    /// <summary><c>nats://127.0.0.1:{port}</c>.</summary>
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>The JetStream store directory (kept across <see cref="KillAsync"/> and <see cref="StartServerAsync"/>).</summary>
    public string StoreDirectory => Path.Combine(_directory, "jetstream");

    /// <summary>What the server wrote last, for failure messages.</summary>
    public string OutputTail
    {
        get
        {
            lock (_output)
            {
                var text = _output.ToString();
                return text.Length > 4000 ? text[^4000..] : text;
            }
        }
    }

    /// <summary>A server on a free port (or <paramref name="port"/>), started and accepting connections; with <paramref name="token"/>, clients must present it.</summary>
    public static async Task<NatsServer> StartAsync(int? port = null, string? token = null)
    {
        var binary = new[] { "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nats-server is not installed: run the tests with ./mds test, which installs it (apt-get install nats-server).");
        var server = new NatsServer(binary, Directory.CreateTempSubdirectory("mds-nats-").FullName, port ?? TestEnvironment.FreePort(), token);
        try
        {
            await server.StartServerAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Starts the server (again), on the same port and state; returns once it accepts clients with JetStream on.</summary>
    public async Task StartServerAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("nats-server is already running");
        }

        var info = new ProcessStartInfo(_binary, ["-js", "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-sd", StoreDirectory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_token is not null)
        {
            info.ArgumentList.Add("--auth");
            info.ArgumentList.Add(_token);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Capture(e.Data);
        process.ErrorDataReceived += (_, e) => Capture(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"nats-server exited with code {process.ExitCode}:\n{OutputTail}");
            }

            if (await AcceptsClientsWithJetStreamAsync())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"nats-server did not accept connections on port {Port} within 30 s:\n{OutputTail}");
    }

    /// <summary>SIGKILL, as a crash: no flush, no goodbye to clients. The state stays for <see cref="StartServerAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a file still being written by a dying server: the temporary folder is left behind
        }
    }

    /// <summary>The server's greeting (<c>INFO {...}</c>) says JetStream is on once it is ready for clients.</summary>
    private async Task<bool> AcceptsClientsWithJetStreamAsync()
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync("127.0.0.1", Port, timeout.Token);
            var buffer = new byte[4096];
            int read = await client.GetStream().ReadAsync(buffer, timeout.Token);
            var greeting = Encoding.UTF8.GetString(buffer, 0, read);
            return greeting.StartsWith("INFO ", StringComparison.Ordinal) && greeting.Contains("\"jetstream\":true", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private void Capture(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
