using System.Globalization;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>Image models: <c>POST /api/models/{name}[/versions/{v}]/infer/image</c>, the same API scripts use.</summary>
public sealed class ImagesClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>The backend's default image size limit (<c>Mds:Images:MaxImageBytes</c>, 20 MiB).</summary>
    public const long MaxImageBytes = 20L * 1024 * 1024;

    /// <summary>Classifies <paramref name="image"/>; throws with the backend's reason when it is refused.</summary>
    public async Task<ImagePredictionDto> InferAsync(string model, int? version, string fileName, byte[] image, int top, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(image);
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(image), "file", fileName);
        string path = (version is { } v ? ModelsClient.VersionPath(model, v) : ModelsClient.ModelPath(model))
            + string.Create(CultureInfo.InvariantCulture, $"/infer/image?top={top}");
        return await SendForAsync<ImagePredictionDto>(HttpMethod.Post, path, form, cancellationToken);
    }
}
