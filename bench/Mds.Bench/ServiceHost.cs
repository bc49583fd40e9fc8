using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Mds.Bench;

/// <summary>
/// An MDS service (backend or worker) started from the Release build as its own process on loopback, as <c>./mds</c>
/// starts it. Its output is kept (the last lines) for error messages; stopping sends SIGTERM, then SIGKILL.
/// </summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceHost(string name, Process process, Uri url)
    {
        Name = name;
        _process = process;
        Url = url;
    }

    public string Name { get; }

    public Uri Url { get; }

    /// <summary>The process id, for CPU accounting.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The last lines the process wrote.</summary>
    public string OutputTail => string.Join('\n', _output.TakeLast(40));

    /// <summary>Raised for every line the process writes (on the thread that reads its output), for benchmarks that read its log.</summary>
    public event Action<string>? LineWritten;

    /// <summary>The repository root (the folder with Mds.sln above this program).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The Release build of a project under <c>src/</c>, <c>migrations/</c> or <c>bench/</c>; fails clearly when it is not built.</summary>
    public static string Dll(string folder, string project)
    {
        string dll = Path.Combine(RepoRoot, folder, project, "bin", "Release", "net10.0", project + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is not built: run `dotnet build Mds.sln -c Release` first.");
    }

    /// <summary>An http URL on a loopback port nobody listens on right now.</summary>
    public static Uri FreeLoopbackUrl() => new($"http://127.0.0.1:{FreePort().ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Starts <paramref name="dll"/> listening on <paramref name="url"/> with <paramref name="environment"/> added.</summary>
    public static ServiceHost Start(string name, string dll, Uri url, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string>? arguments = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(environment);
        var info = new ProcessStartInfo("dotnet", [dll, .. arguments ?? []])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.Environment["ASPNETCORE_URLS"] = url.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var host = new ServiceHost(name, process, url);
        process.OutputDataReceived += (_, e) => host.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => host.Capture(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Runs <paramref name="dll"/> to completion (the migrator); throws with its output unless it exits 0.</summary>
    public static async Task RunToEndAsync(string dll, IReadOnlyDictionary<string, string> environment, CancellationToken ct)
    {
        var info = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        string output = await process.StandardOutput.ReadToEndAsync(ct) + await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(dll)} exited with {process.ExitCode}: {output}");
        }
    }

    /// <summary>Waits until <paramref name="path"/> answers 2xx; throws with the output if the process exits or time runs out.</summary>
    public async Task WaitUntilHealthyAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{OutputTail}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // not listening yet
            }

            await Task.Delay(100, ct);
        }

        throw new TimeoutException($"{Name} was not healthy at {path} within {timeout}:\n{OutputTail}");
    }

    /// <summary>SIGKILL: no shutdown, no last write (for benchmarks that measure what a crash loses).</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mds.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (Mds.sln) above " + AppContext.BaseDirectory);
    }

    private void Capture(string? line)
    {
        if (line is null)
        {
            return;
        }

        LineWritten?.Invoke(line);
        _output.Enqueue(line);
        while (_output.Count > 200)
        {
            _output.TryDequeue(out _);
        }
    }
}
