using System.Text.Json;
using System.Text.Json.Serialization;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Onnx;

/// <summary>
/// What <c>Mds.ModelInspector</c> writes on stdout and the backend reads back: the schema as JSON
/// (<c>{"inputs", "outputs", "featureNames", "classes", "problems", "file"}</c>), or <c>{"error": "..."}</c>.
/// </summary>
public static class InspectorOutput
{
    /// <summary>The schema was written.</summary>
    public const int ExitOk = 0;

    /// <summary>ONNX Runtime refused the model; the error says why (the uploader's problem).</summary>
    public const int ExitRefused = 1;

    /// <summary>The inspector itself failed (bad usage, a bug): the server's problem.</summary>
    public const int ExitFailure = 2;

    /// <summary>The memory cap was reached while loading (the model's problem: it needs more memory).</summary>
    public const int ExitOutOfMemory = 3;

    /// <summary>The environment variable in which the backend gives the inspector its memory cap, in bytes.</summary>
    public const string MemoryCapVariable = "MDS_INSPECT_MEMORY_BYTES";

    /// <summary>
    /// The most resident memory process <paramref name="pid"/> (a number, or <c>self</c>) has used so far: the kernel's
    /// high-water mark (VmHWM in /proc/PID/status), so a peak between two looks still counts; 0 where there is no /proc
    /// or the process is gone.
    /// </summary>
    public static long PeakResidentBytes(string pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = line.AsSpan(6).Trim();
                    kb = kb.EndsWith("kB", StringComparison.Ordinal) ? kb[..^2].TrimEnd() : kb;
                    return long.TryParse(kb, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value) ? value * 1024 : 0;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The schema as the inspector writes it.</summary>
    public static string Schema(OnnxSchema schema) => JsonSerializer.Serialize(schema, Json);

    /// <summary>A failure as the inspector writes it: <c>{"error": "..."}</c>.</summary>
    public static string Error(string message) => JsonSerializer.Serialize(new ErrorBody(message), Json);

    /// <summary>Reads what the inspector wrote: the schema, or the error it reported.</summary>
    /// <exception cref="JsonException">The text is neither (a truncated or garbled answer).</exception>
    public static (OnnxSchema? Schema, string? Error) Parse(string text)
    {
        var body = JsonSerializer.Deserialize<Body>(text, Json) ?? throw new JsonException("The inspector wrote null.");
        if (body.Error is not null)
        {
            return (null, body.Error);
        }

        if (body.Inputs is null || body.Outputs is null)
        {
            throw new JsonException("The inspector's answer has neither an error nor inputs and outputs.");
        }

        return (new OnnxSchema(body.Inputs, body.Outputs, body.FeatureNames, body.Classes, body.Problems ?? [], body.File), null);
    }

    private sealed record ErrorBody(string Error);

    private sealed record Body(
        string? Error,
        List<TensorMetadata>? Inputs,
        List<TensorMetadata>? Outputs,
        List<string>? FeatureNames,
        List<string>? Classes,
        List<string>? Problems,
        ModelFileInfo? File);
}
