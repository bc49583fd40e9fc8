using System.Net;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// Uploads of ONNX files to the registry: <c>POST /api/models/inspect</c> (read the schema without storing) and
/// <c>POST /api/models</c> (register a version). Its own client because a large file takes longer than a page waits.
/// </summary>
public sealed class ModelUploadsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>What the backend would register <paramref name="file"/> as; throws with the backend's reason when it is no model.</summary>
    public async Task<ModelInspection> InspectAsync(UploadFile file, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        using var form = new MultipartFormDataContent();
        form.Add(new ProgressStreamContent(file.Open(), file.Length, progress), "file", file.Name);
        return await SendForAsync<ModelInspection>(HttpMethod.Post, "api/models/inspect", form, cancellationToken);
    }

    /// <summary>Registers <paramref name="file"/> as the next version of <see cref="ModelUpload.Name"/>.</summary>
    public Task<ModelVersionDto> UploadAsync(ModelUpload upload, UploadFile file, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        return RegisterAsync(upload, form => form.Add(new ProgressStreamContent(file.Open(), file.Length, progress), "file", file.Name), cancellationToken);
    }

    /// <summary>
    /// Registers <paramref name="file"/>, sending it only when it must: while <paramref name="inspection"/> says the
    /// backend keeps the inspected upload staged, by its sha256 alone; when it has none (expired, or another backend
    /// answered), or no inspection is given, by sending the file.
    /// </summary>
    public async Task<ModelVersionDto> UploadAsync(ModelUpload upload, UploadFile file, ModelInspection? inspection, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (inspection is { StagedUntil: { } until } && until > DateTimeOffset.UtcNow)
        {
            progress?.Report(file.Length); // nothing to send: the backend has the bytes
            try
            {
                return await UploadStagedAsync(upload, inspection.Sha256, cancellationToken);
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.BadRequest && e.Message.Contains(inspection.Sha256, StringComparison.Ordinal))
            {
                // The backend no longer has it staged (its refusal names the hash; a bad field's does not): send the file.
                progress?.Report(0);
            }
        }

        return await UploadAsync(upload, file, progress, cancellationToken);
    }

    /// <summary>
    /// Registers the upload the signed-in user inspected (<see cref="InspectAsync"/>) by its <paramref name="sha256"/>,
    /// without sending the file again; throws with the backend's reason (400) when it is no longer staged.
    /// </summary>
    public Task<ModelVersionDto> UploadStagedAsync(ModelUpload upload, string sha256, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sha256);
        return RegisterAsync(upload, form => form.Add(new StringContent(sha256), "sha256"), cancellationToken);
    }

    private async Task<ModelVersionDto> RegisterAsync(ModelUpload upload, Action<MultipartFormDataContent> addContent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        using var form = new MultipartFormDataContent
        {
            { new StringContent(upload.Name), "name" },
        };
        if (!string.IsNullOrWhiteSpace(upload.Description))
        {
            form.Add(new StringContent(upload.Description.Trim()), "description");
        }

        if (upload.Requirements.Count > 0)
        {
            form.Add(new StringContent(string.Join(',', upload.Requirements)), "requirements");
        }

        if (upload.MemoryMb is { } memory)
        {
            form.Add(new StringContent(memory.ToString(System.Globalization.CultureInfo.InvariantCulture)), "memoryMb");
        }

        form.Add(new StringContent(upload.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture)), "replicas");
        if (upload.Tags is { Count: > 0 } tags)
        {
            // Added to the model's tags; a model's existing tags stay.
            form.Add(new StringContent(string.Join(',', tags)), "tags");
        }

        foreach (var (field, value) in upload.ImageFields ?? new Dictionary<string, string>())
        {
            form.Add(new StringContent(value), field);
        }

        // The file (or the sha256) goes last so the fields are read before the large part.
        addContent(form);
        return await SendForAsync<ModelVersionDto>(HttpMethod.Post, "api/models", form, cancellationToken);
    }
}

/// <summary>
/// The fields of a model upload besides the file; <paramref name="Tags"/> are added to the model's; <paramref name="ImageFields"/>
/// are an image model's preprocessing form fields (<c>imageSize</c>, <c>imageMean</c>, <c>imageStd</c>, <c>imageScale</c>, <c>channelOrder</c>).
/// </summary>
public sealed record ModelUpload(string Name, string? Description, IReadOnlyList<string> Requirements, int? MemoryMb, int Replicas, IReadOnlyList<string>? Tags = null,
    IReadOnlyDictionary<string, string>? ImageFields = null);

/// <summary>A file to send: its name, length and a way to read it (once per call; a browser file can be read again).</summary>
public sealed record UploadFile(string Name, long Length, Func<Stream> Open);
