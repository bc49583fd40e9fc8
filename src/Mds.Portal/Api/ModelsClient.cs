using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>The backend's model registry: <c>/api/models</c>.</summary>
public sealed class ModelsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>Every model with its versions.</summary>
    public Task<IReadOnlyList<ModelDto>> ListAsync(CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<ModelDto>>("api/models", cancellationToken);

    /// <summary>One model with its versions, or null when there is no model of that name.</summary>
    public Task<ModelDto?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindAsync<ModelDto>(ModelPath(name), cancellationToken);
    }

    /// <summary>
    /// A version's feature names and class labels, when the backend read them from the ONNX graph's metadata
    /// (<c>featureNames</c>, <c>classes</c> on the version); empty labels when it did not.
    /// </summary>
    public async Task<VersionLabels> FindLabelsAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var response = await SendAsync(HttpMethod.Get, VersionPath(name, version), cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return VersionLabels.None;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var json = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
        return json.RootElement.ValueKind == JsonValueKind.Object ? VersionLabels.From(json.RootElement) : VersionLabels.None;
    }

    /// <summary>Replaces the model's tags (Researcher, Admin); throws with the backend's reason for a tag it refuses.</summary>
    public async Task<ModelDto> SetTagsAsync(string name, IReadOnlyList<string> tags, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(tags);
        return await SendForAsync<ModelDto>(HttpMethod.Put, ModelPath(name) + "/tags", await JsonBodyAsync(new TagsRequest(tags), cancellationToken), cancellationToken);
    }

    /// <summary>Makes <paramref name="version"/> the one the bare model name answers with.</summary>
    public Task SetLiveAsync(string name, int version, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Post, VersionPath(name, version) + "/live", null, cancellationToken);

    /// <summary>Forgets where a Failed version failed to load; the scheduler places it again.</summary>
    public Task RetryAsync(string name, int version, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Post, VersionPath(name, version) + "/retry", null, cancellationToken);

    /// <summary>Sets the desired replicas, and the autoscaling bounds (both null: no autoscaling).</summary>
    public async Task ScaleAsync(string name, int version, ScaleRequest scale, CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Put, VersionPath(name, version) + "/replicas", await JsonBodyAsync(scale, cancellationToken), cancellationToken);

    /// <summary>A version's changes of desired replicas, newest first: the autoscaler's with their reasons, and users'.</summary>
    public Task<IReadOnlyList<ScalingEventDto>> ScalingEventsAsync(string name, int version, CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<ScalingEventDto>>(VersionPath(name, version) + "/scaling-events", cancellationToken);

    /// <summary>Turns a version's adaptive batching on with these settings, or off.</summary>
    public async Task SetBatchingAsync(string name, int version, BatchingDto batching, CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Put, VersionPath(name, version) + "/batching", await JsonBodyAsync(batching, cancellationToken), cancellationToken);

    /// <summary>Deletes a version: its replicas are unloaded and it no longer answers.</summary>
    public Task DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Delete, VersionPath(name, version), null, cancellationToken);

    /// <summary><c>api/models/{name}</c>, escaped.</summary>
    internal static string ModelPath(string name) => $"api/models/{Uri.EscapeDataString(name)}";

    /// <summary><c>api/models/{name}/versions/{v}</c>, escaped.</summary>
    internal static string VersionPath(string name, int version) => $"{ModelPath(name)}/versions/{version}";
}

/// <summary>
/// What a version's ONNX metadata says its features and classes are called (null when it does not say), and the names
/// every page shows for its features (<c>featureLabels</c>: the metadata's, else the reference dataset's header, else
/// positions; see the backend's <c>TabularCsv.FeatureLabels</c>).
/// </summary>
public sealed record VersionLabels(IReadOnlyList<string>? FeatureNames, IReadOnlyList<string>? Classes, IReadOnlyList<string>? FeatureLabels = null)
{
    /// <summary>No names known.</summary>
    public static VersionLabels None { get; } = new(null, null);

    /// <summary>The names a form labels the features with: <see cref="FeatureLabels"/>, else the metadata's.</summary>
    public IReadOnlyList<string>? FieldLabels => FeatureLabels ?? FeatureNames;

    /// <summary>Reads <c>featureNames</c>, <c>classes</c> and <c>featureLabels</c> from a version's JSON, when present.</summary>
    public static VersionLabels From(JsonElement version)
        => new(Strings(version, "featureNames"), Strings(version, "classes"), Strings(version, "featureLabels"));

    private static List<string>? Strings(JsonElement owner, string property)
    {
        if (!owner.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var list = value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() ?? "" : e.ToString()).ToList();
        return list.Count == 0 ? null : list;
    }
}
