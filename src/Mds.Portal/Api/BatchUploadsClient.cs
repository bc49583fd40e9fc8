using System.Globalization;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// Sends CSV files to be scored: <c>POST /api/models/{name}/batches</c> or <c>POST /api/pipelines/{name}/batches</c>. Its own client because a large file, or a
/// small one scored while the request waits, takes longer than a page waits for anything else.
/// </summary>
public sealed class BatchUploadsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>
    /// Sends <paramref name="file"/> to be scored by <paramref name="version"/> (the live one when null). The answer is
    /// Succeeded for a small file (scored while this waits) or Queued (a job scores it; poll <see cref="BatchesClient.FindAsync"/>).
    /// Throws with the backend's reason when the file does not fit the model.
    /// </summary>
    public Task<BatchDto> StartAsync(string model, int? version, UploadFile file, string? labelColumn, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        return StartAtAsync(ModelsClient.ModelPath(model) + "/batches", version, file, labelColumn, progress, cancellationToken);
    }

    /// <summary>Sends <paramref name="file"/> to be run through a pipeline (<c>POST /api/pipelines/{name}/batches</c>), as <see cref="StartAsync"/> does for a model.</summary>
    public Task<BatchDto> StartPipelineAsync(string pipeline, UploadFile file, string? labelColumn, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pipeline);
        return StartAtAsync(PipelinesClient.PipelinePath(pipeline) + "/batches", null, file, labelColumn, progress, cancellationToken);
    }

    private async Task<BatchDto> StartAtAsync(string path, int? version, UploadFile file, string? labelColumn, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        using var form = new MultipartFormDataContent();
        if (version is { } v)
        {
            form.Add(new StringContent(v.ToString(CultureInfo.InvariantCulture)), "version");
        }

        if (!string.IsNullOrWhiteSpace(labelColumn))
        {
            form.Add(new StringContent(labelColumn), "labelColumn");
        }

        // The file goes last so the fields are read before the large part.
        form.Add(new ProgressStreamContent(file.Open(), file.Length, progress), "file", file.Name);
        return await SendForAsync<BatchDto>(HttpMethod.Post, path, form, cancellationToken);
    }
}
