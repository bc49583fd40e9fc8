using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Mds.Onnx;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Registry;

/// <summary>What inspecting an uploaded file found: its schema, the reason the model is refused, or that the inspection could not run.</summary>
/// <param name="Schema">The model's schema when ONNX Runtime loaded it.</param>
/// <param name="Refusal">Why the model is refused (the uploader's problem: 400).</param>
/// <param name="Failure">Why the inspection could not run (the server's problem: 503).</param>
public sealed record ModelInspectionResult(OnnxSchema? Schema, string? Refusal, string? Failure);

/// <summary>
/// Loads uploaded ONNX files in a child process (<c>Mds.ModelInspector</c>), never in the backend's: ONNX Runtime
/// parses and optimises the graph natively, so a hostile or huge model could exhaust the backend's memory or crash it.
/// The child gets a wall-clock timeout, a memory cap (its resident memory polled every 50 ms; the process tree killed
/// above the cap), a managed-heap limit, a bounded stdout and an environment with no secrets in it.
/// </summary>
public sealed class OnnxInspector(IOptions<RegistryOptions> options, ILogger<OnnxInspector> log)
{
    /// <summary>The inspector's assembly, beside the backend's own (the backend project references it).</summary>
    public const string InspectorFileName = "Mds.ModelInspector.dll";

    private const int MaxOutputChars = 4 * 1024 * 1024;
    private const int MaxErrorChars = 16 * 1024;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Inspects the ONNX file at <paramref name="path"/>.</summary>
    public async Task<ModelInspectionResult> InspectAsync(string path, CancellationToken cancellationToken)
    {
        var o = options.Value;
        string inspector = string.IsNullOrEmpty(o.InspectorPath) ? Path.Combine(AppContext.BaseDirectory, InspectorFileName) : o.InspectorPath;
        if (!File.Exists(inspector))
        {
            log.LogError("The model inspector {Inspector} is missing: uploads cannot be validated", inspector);
            return Failed($"The model inspector ({InspectorFileName}) is not installed beside the backend, so uploads cannot be validated now.");
        }

        long capBytes = (long)o.InspectMemoryMb * 1024 * 1024;
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(inspector))!,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(inspector);
        start.ArgumentList.Add(path);

        // The backend's environment holds its secrets (connection string, signing and cluster keys): the child gets
        // none of it, only what the .NET runtime needs.
        start.Environment.Clear();
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x" + capBytes.ToString("X", CultureInfo.InvariantCulture);
        start.Environment[InspectorOutput.MemoryCapVariable] = capBytes.ToString(CultureInfo.InvariantCulture);
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = new Process { StartInfo = start };
        var watch = Stopwatch.StartNew();
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            log.LogError(e, "The model inspector could not be started");
            return Failed("The model inspector could not be started, so uploads cannot be validated now.");
        }

        var stdout = ReadBoundedAsync(process.StandardOutput, MaxOutputChars);
        var stderr = ReadBoundedAsync(process.StandardError, MaxErrorChars);
        var exited = process.WaitForExitAsync(CancellationToken.None);
        long peak = 0;
        bool overMemory = false, timedOut = false;
        try
        {
            while (!exited.IsCompleted)
            {
                long resident = InspectorOutput.PeakResidentBytes(process.Id.ToString(CultureInfo.InvariantCulture));
                peak = Math.Max(peak, resident);
                if (resident > capBytes)
                {
                    overMemory = true;
                    break;
                }

                if (watch.Elapsed > o.InspectTimeout)
                {
                    timedOut = true;
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                await Task.WhenAny(exited, Task.Delay(PollInterval, CancellationToken.None)).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!exited.IsCompleted)
            {
                Kill(process);
            }

            await exited.ConfigureAwait(false);
        }

        string output = await stdout.ConfigureAwait(false);
        string errors = await stderr.ConfigureAwait(false);
        log.LogInformation("Inspected an upload in {Elapsed} ms (exit {ExitCode}, peak resident {PeakMb} MiB)",
            watch.ElapsedMilliseconds, overMemory || timedOut ? -1 : process.ExitCode, peak / (1024 * 1024));

        if (overMemory)
        {
            return Refused($"The model needs more than {o.InspectMemoryMb} MiB to load (limit Mds:Registry:InspectMemoryMb).");
        }

        if (timedOut)
        {
            return Refused($"The model took longer than {o.InspectTimeout.TotalSeconds:0.#} s to load (limit Mds:Registry:InspectTimeout).");
        }

        return process.ExitCode switch
        {
            InspectorOutput.ExitOk or InspectorOutput.ExitRefused => Read(output, errors),
            InspectorOutput.ExitOutOfMemory => Refused($"The model needs more than {o.InspectMemoryMb} MiB to load (limit Mds:Registry:InspectMemoryMb)."),
            // Killed by the kernel's out-of-memory killer, or crashed natively while ONNX Runtime loaded the model.
            128 + 9 => Refused("Loading the model was killed (SIGKILL), most likely for using too much memory."),
            128 + 4 or 128 + 6 or 128 + 7 or 128 + 8 or 128 + 11 => Refused($"ONNX Runtime crashed while loading the model (signal {process.ExitCode - 128})."),
            _ => Unexpected(process.ExitCode, errors),
        };
    }

    private ModelInspectionResult Read(string output, string errors)
    {
        try
        {
            var (schema, error) = InspectorOutput.Parse(output);
            return error is not null ? Refused($"The file is not a valid ONNX model: {error}") : new ModelInspectionResult(schema, null, null);
        }
        catch (JsonException e)
        {
            log.LogError(e, "The model inspector's answer is not its JSON contract ({Length} chars); stderr: {Errors}", output.Length, errors);
            return Failed("The model inspector gave an answer the backend cannot read, so the upload cannot be validated now.");
        }
    }

    private ModelInspectionResult Unexpected(int exitCode, string errors)
    {
        log.LogError("The model inspector failed (exit {ExitCode}); stderr: {Errors}", exitCode, errors);
        return Failed($"The model inspector failed (exit code {exitCode}), so the upload cannot be validated now.");
    }

    private static ModelInspectionResult Refused(string reason) => new(null, reason, null);

    private static ModelInspectionResult Failed(string reason) => new(null, null, reason);

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it exited meanwhile
        }
    }

    /// <summary>Reads at most <paramref name="limit"/> characters, then drains and drops the rest (so the child never blocks on a full pipe).</summary>
    private static async Task<string> ReadBoundedAsync(StreamReader reader, int limit)
    {
        var text = new StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (text.Length < limit)
            {
                text.Append(buffer, 0, Math.Min(read, limit - text.Length));
            }
        }

        return text.ToString();
    }

    /// <summary>The <c>dotnet</c> host this backend runs on (the inspector is a framework-dependent dll).</summary>
    private static string DotnetHost()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        // Started through an apphost: the runtime lives in <root>/shared/Microsoft.NETCore.App/<version>/.
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
