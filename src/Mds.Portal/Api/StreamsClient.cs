using System.Net;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// The backend's streams: <c>GET /api/streams</c>, a model's or pipeline's stream (<c>GET/PUT /api/{kind}/{name}/streaming</c>),
/// publishing a test message and reading the latest outputs and errors (<c>/api/streams/{kind}/{name}/messages</c>).
/// The streams API words its refusals as <c>{"error": …}</c>; they come back as <see cref="HttpRequestException"/>s
/// carrying that sentence.
/// </summary>
public sealed class StreamsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>Kind of a model's stream.</summary>
    public const string Models = "models";

    /// <summary>Kind of a pipeline's stream.</summary>
    public const string Pipelines = "pipelines";

    /// <summary>Every model and pipeline with stream settings (Researcher, Admin).</summary>
    public async Task<IReadOnlyList<StreamDto>> ListAsync(CancellationToken cancellationToken = default)
        => await ReadAsync<List<StreamDto>>(HttpMethod.Get, "api/streams", null, cancellationToken);

    /// <summary>A model's or pipeline's stream (Disabled when it has none); null when there is no such model or pipeline.</summary>
    public async Task<StreamDto?> FindAsync(string kind, string name, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, SettingPath(kind, name), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureStreamSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<StreamDto>(cancellationToken);
    }

    /// <summary>Enables or disables the stream (Researcher, Admin); <paramref name="cleanOnDisable"/> also deletes the engine's streams with their messages.</summary>
    public async Task<StreamDto> SetAsync(string kind, string name, bool enabled, bool cleanOnDisable = false, CancellationToken cancellationToken = default)
    {
        using var body = await JsonBodyAsync(new StreamingRequest(enabled, cleanOnDisable), cancellationToken);
        return await ReadAsync<StreamDto>(HttpMethod.Put, SettingPath(kind, name), body, cancellationToken);
    }

    /// <summary>Publishes <paramref name="body"/> (a V2 JSON request) to the stream's input subject (Researcher, Admin); answers the request id it went with.</summary>
    public async Task<string> PublishAsync(string kind, string name, string body, string? requestId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var content = await JsonBodyAsync(new StreamTestMessageRequest(body, string.IsNullOrWhiteSpace(requestId) ? null : requestId.Trim()), cancellationToken);
        using var json = await ReadAsync<JsonDocument>(HttpMethod.Post, MessagesPath(kind, name), content, cancellationToken);
        return json.RootElement.TryGetProperty("requestId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "";
    }

    /// <summary>The latest outputs (<paramref name="errors"/> false) or errors of the stream, newest first.</summary>
    public async Task<IReadOnlyList<StreamMessageDto>> LatestAsync(string kind, string name, bool errors, int limit = 20, CancellationToken cancellationToken = default)
    {
        var list = await ReadAsync<List<StreamMessageDto>>(HttpMethod.Get, $"{MessagesPath(kind, name)}?subject={(errors ? "errors" : "outputs")}&limit={limit}", null, cancellationToken);
        list.Reverse(); // the API answers oldest first
        return list;
    }

    /// <summary><c>api/{kind}/{name}/streaming</c>, escaped.</summary>
    internal static string SettingPath(string kind, string name)
        => $"api/{Kind(kind)}/{Uri.EscapeDataString(Name(name))}/streaming";

    /// <summary><c>api/streams/{kind}/{name}/messages</c>, escaped.</summary>
    internal static string MessagesPath(string kind, string name)
        => $"api/streams/{Kind(kind)}/{Uri.EscapeDataString(Name(name))}/messages";

    private static string Kind(string kind) => kind is Models or Pipelines ? kind : throw new ArgumentException($"'{kind}' is neither '{Models}' nor '{Pipelines}'.", nameof(kind));

    private static string Name(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return name;
    }

    private async Task<T> ReadAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await SendAsync(method, path, cancellationToken, content);
        await EnsureStreamSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<T>(cancellationToken)
            ?? throw new HttpRequestException($"The backend answered {(int)response.StatusCode} without a body.");
    }

    // The streams API's {"error": "…"} first; problem details (the authorisation layer's 401/403) as every client reads them.
    private static async Task EnsureStreamSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? error = null;
        try
        {
            string text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (text.StartsWith('{'))
            {
                using var json = JsonDocument.Parse(text);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
                {
                    error = e.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Not the streams API's own answer: read it as problem details below.
        }

        if (error is not null)
        {
            throw new HttpRequestException(error, null, response.StatusCode);
        }

        await EnsureSuccessAsync(response, cancellationToken);
    }
}
