using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Mds.Bench;

/// <summary>
/// A <c>nats-server</c> with JetStream of the benchmark's own (as the integration tests' NatsServer): loopback, the
/// first free port from <c>port</c> up (or any free one), state in a temporary folder deleted on dispose. Uses Debian's
/// <c>nats-server</c>, which <c>./mds up</c> and <c>./mds bench streams</c> install.
/// </summary>
internal sealed class BenchNats : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private BenchNats(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string Url => $"nats://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public int ProcessId => _process.Id;

    public static async Task<BenchNats> StartAsync(int? fromPort, CancellationToken ct)
    {
        string binary = new[] { "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nats-server is not installed: ./mds bench streams installs it (apt-get install nats-server).");
        int port = fromPort is int from ? FreePortFrom(from) : new Uri(ServiceHost.FreeLoopbackUrl().ToString()).Port;
        string directory = Directory.CreateTempSubdirectory("mds-bench-nats-").FullName;
        var info = new ProcessStartInfo(binary, ["-js", "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-sd", Path.Combine(directory, "jetstream")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var nats = new BenchNats(process, directory, port);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await AcceptsAsync(port, ct))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await nats.DisposeAsync();
                throw new InvalidOperationException($"nats-server did not start on 127.0.0.1:{port}");
            }

            await Task.Delay(50, ct);
        }

        return nats;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // the temporary folder is the OS's to clean
        }
    }

    private static int FreePortFrom(int from)
    {
        for (int port = from; port < from + 100; port++)
        {
            try
            {
                using var listener = new TcpListener(System.Net.IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken
            }
        }

        throw new InvalidOperationException($"no free port from {from} to {from + 99}");
    }

    private static async Task<bool> AcceptsAsync(int port, CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var buffer = new byte[4096];
            int read = await client.GetStream().ReadAsync(buffer, timeout.Token);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, read).Contains("\"jetstream\":true", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
