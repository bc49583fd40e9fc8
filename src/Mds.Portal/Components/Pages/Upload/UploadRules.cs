using Mds.Contracts.Rules;
using Mds.Portal.Api;

namespace Mds.Portal.Components.Pages.Upload;

/// <summary>
/// What the upload form accepts, by the backend's own rules (so a person hears about a bad field before sending
/// 500 MiB): the model name and capability rules of <c>Mds.Contracts.Rules</c>, an <c>.onnx</c> file (or a <c>.zip</c>
/// of a model and its external-data files) within the backend's upload limit, 1 to the backend's maximum replicas,
/// positive memory; the limits come from <c>GET /api/config</c> (no limit is checked here when it is not known).
/// Each check returns the message to show, or null when the value is fine. No I/O: tested directly.
/// </summary>
public static class UploadRules
{
    /// <summary>The capabilities offered as chips; others may be typed in.</summary>
    public static readonly IReadOnlyList<string> KnownRequirements = ["onnx", "cpu", "gpu"];

    /// <summary>Why <paramref name="name"/> is not a model name, or null.</summary>
    public static string? NameError(string? name) => name switch
    {
        null or "" => "Enter a name.",
        { Length: > ModelNameRule.MaxLength } => $"At most {ModelNameRule.MaxLength} characters.",
        _ when !ModelNameRule.IsValid(name) => "Letters, digits, '.', '_' and '-' only, starting with a letter or digit.",
        _ => null,
    };

    /// <summary>The file types the page takes: an ONNX model, or a zip of one and its external-data files.</summary>
    public const string AcceptedFiles = ".onnx,.zip";

    /// <summary>
    /// Why this file cannot be uploaded, or null: an <c>.onnx</c> file, or a <c>.zip</c> holding one and its external-data
    /// files (the backend unpacks and checks it), of at most <paramref name="maxBytes"/> (the backend's limit; null: not known, not checked).
    /// </summary>
    public static string? FileError(string? fileName, long sizeBytes, long? maxBytes = null) => fileName switch
    {
        null or "" => "Choose an .onnx file, or a .zip of a model and its external-data files.",
        _ when !IsModelFile(fileName) => $"“{fileName}” is neither an .onnx file nor a .zip of a model and its external-data files.",
        _ when sizeBytes <= 0 => $"“{fileName}” is empty.",
        _ when sizeBytes > maxBytes => $"“{fileName}” is larger than the {Components.Shared.Format.Bytes(maxBytes.Value)} the backend accepts.",
        _ => null,
    };

    /// <summary>Whether the file's name says it is an ONNX model or a zip of one.</summary>
    public static bool IsModelFile(string fileName) =>
        fileName.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why this replica count is refused, or null; <paramref name="maxReplicas"/> is the backend's limit (null: not known, not checked).</summary>
    public static string? ReplicasError(int? replicas, int? maxReplicas = null) => replicas switch
    {
        null => "Enter how many replicas.",
        < 1 => maxReplicas is { } max ? $"Between 1 and {max}." : "At least 1.",
        _ when replicas > maxReplicas => $"Between 1 and {maxReplicas}.",
        _ => null,
    };

    /// <summary>Why this memory figure is refused, or null (empty means: let the workers measure it).</summary>
    public static string? MemoryError(int? memoryMb) => memoryMb is <= 0 ? "Must be a positive number of MiB." : null;

    /// <summary>Why a typed-in requirement is refused (by <see cref="CapabilityRule"/>, after trimming and lower-casing), or null.</summary>
    public static string? RequirementError(string? requirement) => requirement?.Trim() switch
    {
        null or "" => "Enter a capability.",
        { Length: > CapabilityRule.MaxLength } => $"At most {CapabilityRule.MaxLength} characters.",
        _ when !CapabilityRule.IsValid(requirement) => "Letters, digits, '_' and '-' only, starting with a letter or digit.",
        _ => null,
    };

    /// <summary>Every problem with <paramref name="input"/>, file included; empty when it may be sent.</summary>
    public static IReadOnlyList<string> Validate(UploadInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new[]
        {
            FileError(input.FileName, input.FileSizeBytes, input.MaxFileBytes),
            NameError(input.Name),
            ReplicasError(input.Replicas, input.MaxReplicas),
            MemoryError(input.MemoryMb),
        }.OfType<string>().ToList();
    }
}

/// <summary>What the upload form holds.</summary>
public sealed class UploadInput
{
    /// <summary>The model's name: a new model, or the next version of an existing one.</summary>
    public string? Name { get; set; }

    /// <summary>Free text.</summary>
    public string? Description { get; set; }

    /// <summary>Capabilities a worker must offer.</summary>
    public IReadOnlyCollection<string> Requirements { get; set; } = ["onnx", "cpu"];

    /// <summary>Memory to reserve per replica; null lets the workers measure it.</summary>
    public int? MemoryMb { get; set; }

    /// <summary>Desired replicas.</summary>
    public int? Replicas { get; set; } = 1;

    /// <summary>Tags added to the model's (lower-case words; see <see cref="Models.ModelTags"/>).</summary>
    public IReadOnlyList<string> Tags { get; set; } = [];

    /// <summary>The chosen file's name.</summary>
    public string? FileName { get; set; }

    /// <summary>The chosen file's size.</summary>
    public long FileSizeBytes { get; set; }

    /// <summary>The largest file the backend takes (<c>GET /api/config</c>); null while not known.</summary>
    public long? MaxFileBytes { get; set; }

    /// <summary>The most replicas the backend allows (<c>GET /api/config</c>); null while not known.</summary>
    public int? MaxReplicas { get; set; }

    /// <summary>An image model's preprocessing fields as typed (<c>imageSize</c>, <c>imageMean</c>, …); empty ones take the backend's defaults.</summary>
    public Dictionary<string, string> ImageFields { get; } = new(StringComparer.Ordinal);

    /// <summary>The fields the backend takes.</summary>
    public ModelUpload ToUpload() => new(Name!.Trim(), Description, [.. Requirements], MemoryMb, Replicas ?? 1, Tags,
        ImageFields.Where(f => !string.IsNullOrWhiteSpace(f.Value)).ToDictionary(f => f.Key, f => f.Value.Trim(), StringComparer.Ordinal));
}
