using System.IO.Compression;
using Mds.Backend.Http;
using Mds.Contracts.Cluster;
using Mds.Onnx;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Mds.Backend.Registry;

/// <summary>
/// An uploaded model made ready to validate and store: one <c>.onnx</c> file as sent, or — for a model whose weights
/// live in external-data files, sent as a zip or as one <c>file</c> part plus <c>data</c> parts — the files unpacked
/// side by side in a workspace (so ONNX Runtime finds them when it validates the model) and packed into a
/// <see cref="ModelBundle"/>. Every external-data <c>location</c> the model names must be a relative path inside
/// its own directory and be in the upload. Disposing deletes the workspace and any bundle not yet stored.
/// </summary>
internal sealed class ModelPackage : IDisposable
{
    /// <summary>The most entries a model zip may have.</summary>
    public const int MaxZipEntries = 1000;

    /// <summary>The most an entry of a model zip may expand (uncompressed ÷ compressed).</summary>
    public const int MaxZipRatio = 100;

    /// <summary>The most <c>data</c> parts in a multi-file upload.</summary>
    public const int MaxDataParts = 256;

    private readonly string? _workspace;

    private ModelPackage(StagedArtifact artifact, string modelPath, string? workspace)
    {
        Artifact = artifact;
        ModelPath = modelPath;
        _workspace = workspace;
    }

    /// <summary>What is stored: the .onnx file, or the bundle (named by its manifest's hash).</summary>
    public StagedArtifact Artifact { get; }

    /// <summary>The .onnx file to validate, with its data files beside it.</summary>
    public string ModelPath { get; }

    public static async Task<(ModelPackage? Package, ProblemHttpResult? Error)> PrepareAsync(
        StagedArtifact? file, IReadOnlyList<StagedArtifact> data, ArtifactStore store, long maxBytes, CancellationToken ct)
    {
        if (file is null || file.SizeBytes == 0)
        {
            return (null, ApiResults.Bad("'file' is required: the .onnx model file (or a zip holding it and its external-data files)."));
        }

        bool zip = await IsZipAsync(file.Path, ct);
        if (zip && data.Count > 0)
        {
            return (null, ApiResults.Bad("Send either a zip of the model and its data files, or the .onnx as 'file' with one 'data' part per data file, not both."));
        }

        if (!zip && data.Count == 0)
        {
            // One .onnx file: it must not point at files it did not bring (ONNX Runtime would read them from the backend's disk).
            var (locations, unreadable) = ExternalData(file.Path);
            if (unreadable is not null || locations!.Count == 0)
            {
                return (new ModelPackage(file, file.Path, null), null); // ONNX Runtime's validation says what is wrong, if anything
            }

            return (null, WhyNotConfined(locations) ?? ApiResults.Bad(
                $"The model keeps its weights in external data files ({Listed(locations)}): upload it as a zip with them, or with one 'data' part per file named by its location."));
        }

        string workspace = store.NewWorkspace();
        var package = default(ModelPackage);
        try
        {
            string root = Path.Combine(workspace, "files");
            string modelRelative;
            if (zip)
            {
                IReadOnlyList<string> written;
                try
                {
                    written = await ModelBundle.ExtractAsync(file.Path, root, MaxZipEntries, maxBytes, MaxZipRatio, ct);
                }
                catch (InvalidDataException e)
                {
                    return (null, ApiResults.Bad("The zip is refused: " + e.Message + "."));
                }

                var models = written.Where(n => n.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)).ToList();
                if (models.Count != 1)
                {
                    return (null, ApiResults.Bad(models.Count == 0
                        ? "The zip holds no .onnx file: put the model and its external-data files in it."
                        : $"The zip holds {models.Count} .onnx files ({Listed(models)}); it must hold exactly one model."));
                }

                modelRelative = models[0];
            }
            else
            {
                modelRelative = ModelBundle.ModelFileName;
                Directory.CreateDirectory(root);
                File.Move(file.Path, Path.Combine(root, modelRelative));
                foreach (var part in data)
                {
                    string location = part.FileName ?? "";
                    if (ModelBundle.WhyNotConfined(location) is { } why)
                    {
                        return (null, ApiResults.Bad($"Data part {why}: name each data part by its location, a relative path inside the model's directory."));
                    }

                    string target = Path.Combine(root, location);
                    if (location == modelRelative || File.Exists(target) || Directory.Exists(target))
                    {
                        return (null, ApiResults.Bad($"Data part '{location}' is sent twice or clashes with the model file."));
                    }

                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Move(part.Path, target);
                }
            }

            string modelPath = Path.Combine(root, modelRelative);
            string modelDirectory = Path.GetDirectoryName(modelPath)!;
            var (referenced, error) = ExternalData(modelPath);
            if (error is not null)
            {
                return (null, ApiResults.Bad($"The file is not a valid ONNX model: {error}"));
            }

            if (WhyNotConfined(referenced!) is { } hostile)
            {
                return (null, hostile);
            }

            var missing = referenced!.Where(l => !File.Exists(Path.Combine(modelDirectory, l))).ToList();
            if (missing.Count > 0)
            {
                return (null, ApiResults.Bad($"The model's external data file{(missing.Count == 1 ? "" : "s")} {Listed(missing)} {(missing.Count == 1 ? "is" : "are")} not in the upload."));
            }

            if (!zip)
            {
                var unused = data.Select(d => d.FileName!).Where(l => !referenced!.Contains(l, StringComparer.Ordinal)).ToList();
                if (unused.Count > 0)
                {
                    return (null, ApiResults.Bad($"Data part{(unused.Count == 1 ? "" : "s")} {Listed(unused)}: the model names no such external data location."));
                }
            }

            if (referenced!.Contains(ModelBundle.ModelFileName, StringComparer.Ordinal))
            {
                return (null, ApiResults.Bad($"An external data location may not be named '{ModelBundle.ModelFileName}'."));
            }

            if (referenced!.Count == 0)
            {
                // A zip of a self-contained model: stored as the .onnx alone, as if uploaded on its own.
                string sha = await ModelBundle.Sha256OfFileAsync(modelPath, ct);
                package = new ModelPackage(new StagedArtifact(modelPath, sha, new FileInfo(modelPath).Length, file.FileName), modelPath, workspace);
                return (package, null);
            }

            var bundle = await PackAsync(store, modelPath, modelDirectory, referenced!, ct);
            package = new ModelPackage(bundle with { FileName = file.FileName }, modelPath, workspace);
            return (package, null);
        }
        finally
        {
            if (package is null)
            {
                Directory.Delete(workspace, recursive: true);
            }
        }
    }

    public void Dispose()
    {
        if (Artifact.IsBundle && File.Exists(Artifact.Path))
        {
            File.Delete(Artifact.Path); // not stored (refused, or the commit failed)
        }

        if (_workspace is not null && Directory.Exists(_workspace))
        {
            Directory.Delete(_workspace, recursive: true);
        }
    }

    /// <summary>Writes the bundle (entries stored, not compressed: weights do not compress, and workers unpack faster).</summary>
    private static async Task<StagedArtifact> PackAsync(ArtifactStore store, string modelPath, string modelDirectory, IReadOnlyList<string> locations, CancellationToken ct)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal) { [ModelBundle.ModelFileName] = await ModelBundle.Sha256OfFileAsync(modelPath, ct) };
        foreach (string location in locations)
        {
            files[location] = await ModelBundle.Sha256OfFileAsync(Path.Combine(modelDirectory, location), ct);
        }

        byte[] manifest = ModelBundle.Manifest(files);
        string path = store.NewPartPath();
        try
        {
            await using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await using (var zip = await ZipArchive.CreateAsync(output, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: null, ct))
                {
                    var entry = zip.CreateEntry(ModelBundle.ManifestName, CompressionLevel.NoCompression);
                    await using (var stream = await entry.OpenAsync(ct))
                    {
                        await stream.WriteAsync(manifest, ct);
                    }

                    foreach (string name in files.Keys.Order(StringComparer.Ordinal))
                    {
                        string source = name == ModelBundle.ModelFileName ? modelPath : Path.Combine(modelDirectory, name);
                        entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
                        await using var target = await entry.OpenAsync(ct);
                        await using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
                        await input.CopyToAsync(target, 1 << 20, ct);
                    }
                }

                await output.FlushAsync(ct);
                output.Flush(flushToDisk: true); // on disk before the database says it exists
            }

            return new StagedArtifact(path, ModelBundle.Sha256(manifest), new FileInfo(path).Length, IsBundle: true);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private static (IReadOnlyList<string>? Locations, string? Error) ExternalData(string modelPath)
    {
        try
        {
            return (OnnxFileFacts.Read(modelPath).ExternalDataFiles, null);
        }
        catch (InvalidOnnxModelException e)
        {
            return (null, e.Message);
        }
    }

    private static ProblemHttpResult? WhyNotConfined(IReadOnlyList<string> locations)
    {
        foreach (string location in locations)
        {
            if (ModelBundle.WhyNotConfined(location) is { } why)
            {
                return ApiResults.Bad($"The model's external data location {why}: every location must be a relative path inside the model's own directory.");
            }
        }

        return null;
    }

    private static async Task<bool> IsZipAsync(string path, CancellationToken ct)
    {
        byte[] head = new byte[4];
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
        return await file.ReadAtLeastAsync(head, 4, throwOnEndOfStream: false, ct) == 4 && head is [0x50, 0x4b, 0x03, 0x04];
    }

    private static string Listed(IEnumerable<string> names) => string.Join(", ", names.Take(5).Select(n => $"'{(n.Length <= 80 ? n : n[..80] + "…")}'"));
}
