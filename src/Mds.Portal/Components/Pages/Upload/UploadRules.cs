using System.Text.RegularExpressions;
using Mds.Portal.Api;

namespace Mds.Portal.Components.Pages.Upload;

/// <summary>
/// What the upload form accepts, by the backend's own rules (so a person hears about a bad field before sending
/// 500 MiB): the model name pattern, an <c>.onnx</c> file (or a <c>.zip</c> of a model and its external-data files)
/// within the upload limit, 1 to 64 replicas, positive memory.
/// Each check returns the message to show, or null when the value is fine. No I/O: tested directly.
/// </summary>
public static partial class UploadRules
{
    /// <summary>The most replicas a version may ask for (the backend's <c>Mds:Registry:MaxReplicas</c> default).</summary>
    public const int MaxReplicas = 64;

    /// <summary>The capabilities offered as chips; others may be typed in.</summary>
    public static readonly IReadOnlyList<string> KnownRequirements = ["onnx", "cpu", "gpu"];

    /// <summary>Why <paramref name="name"/> is not a model name, or null.</summary>
    public static string? NameError(string? name) => name switch
    {
        null or "" => "Enter a name.",
        { Length: > 128 } => "At most 128 characters.",
        _ when !NamePattern().IsMatch(name) => "Letters, digits, '.', '_' and '-' only, starting with a letter or digit.",
        _ => null,
    };

    /// <summary>The file types the page takes: an ONNX model, or a zip of one and its external-data files.</summary>
    public const string AcceptedFiles = ".onnx,.zip";

    /// <summary>
    /// Why this file cannot be uploaded, or null: an <c>.onnx</c> file, or a <c>.zip</c> holding one and its external-data
    /// files (the backend unpacks and checks it), of at most <paramref name="maxBytes"/> (default: the backend's default limit).
    /// </summary>
    public static string? FileError(string? fileName, long sizeBytes, long maxBytes = ModelUploadsClient.MaxUploadBytes) => fileName switch
    {
        null or "" => "Choose an .onnx file, or a .zip of a model and its external-data files.",
        _ when !IsModelFile(fileName) => $"“{fileName}” is neither an .onnx file nor a .zip of a model and its external-data files.",
        _ when sizeBytes <= 0 => $"“{fileName}” is empty.",
        _ when sizeBytes > maxBytes => $"“{fileName}” is larger than the {Components.Shared.Format.Bytes(maxBytes)} the backend accepts.",
        _ => null,
    };

    /// <summary>Whether the file's name says it is an ONNX model or a zip of one.</summary>
    public static bool IsModelFile(string fileName) =>
        fileName.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why this replica count is refused, or null.</summary>
    public static string? ReplicasError(int? replicas) => replicas switch
    {
        null => "Enter how many replicas.",
        < 1 or > MaxReplicas => $"Between 1 and {MaxReplicas}.",
        _ => null,
    };

    /// <summary>Why this memory figure is refused, or null (empty means: let the workers measure it).</summary>
    public static string? MemoryError(int? memoryMb) => memoryMb is <= 0 ? "Must be a positive number of MiB." : null;

    /// <summary>Why a typed-in requirement is refused, or null.</summary>
    public static string? RequirementError(string? requirement) => requirement switch
    {
        null or "" => "Enter a capability.",
        { Length: > 64 } => "At most 64 characters.",
        _ when !RequirementPattern().IsMatch(requirement) => "Letters, digits, '.', '_' and '-' only.",
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
            ReplicasError(input.Replicas),
            MemoryError(input.MemoryMb),
        }.OfType<string>().ToList();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex RequirementPattern();
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

    /// <summary>The largest file the page sends (<see cref="PortalOptions.MaxModelUploadBytes"/>).</summary>
    public long MaxFileBytes { get; set; } = ModelUploadsClient.MaxUploadBytes;

    /// <summary>An image model's preprocessing fields as typed (<c>imageSize</c>, <c>imageMean</c>, …); empty ones take the backend's defaults.</summary>
    public Dictionary<string, string> ImageFields { get; } = new(StringComparer.Ordinal);

    /// <summary>The fields the backend takes.</summary>
    public ModelUpload ToUpload() => new(Name!.Trim(), Description, [.. Requirements], MemoryMb, Replicas ?? 1, Tags,
        ImageFields.Where(f => !string.IsNullOrWhiteSpace(f.Value)).ToDictionary(f => f.Key, f => f.Value.Trim(), StringComparer.Ordinal));
}
