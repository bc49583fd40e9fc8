using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mds.Cli;

/// <summary>Calls the backend with the profile's credential; any non-success answer becomes an <see cref="ApiException"/> in words.</summary>
internal sealed class ApiClient : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;

    public ApiClient(Uri baseUrl, string? credential, HttpMessageHandler? handler = null)
    {
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = baseUrl;
        _http.Timeout = Timeout.InfiniteTimeSpan;
        if (credential is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }
    }

    public Uri BaseUrl => _http.BaseAddress!;

    public async Task<T> GetAsync<T>(string path, CancellationToken ct) =>
        await ReadAsync<T>(await SendAsync(new HttpRequestMessage(HttpMethod.Get, path), ct), ct);

    public async Task<JsonNode?> GetNodeAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path), ct);
        return await ReadNodeAsync(response, ct);
    }

    public async Task<T> SendJsonAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        }

        return await ReadAsync<T>(await SendAsync(request, ct), ct);
    }

    public async Task<JsonNode?> SendNodeAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var response = await SendAsync(new HttpRequestMessage(method, path) { Content = content }, ct);
        return await ReadNodeAsync(response, ct);
    }

    public async Task<T> SendContentAsync<T>(HttpMethod method, string path, HttpContent content, CancellationToken ct) =>
        await ReadAsync<T>(await SendAsync(new HttpRequestMessage(method, path) { Content = content }, ct), ct);

    /// <summary>Sends; a non-success status throws with the backend's reason.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"cannot reach {BaseUrl}: {e.Message}");
        }
        finally
        {
            request.Dispose();
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(ct);
            throw new ApiException((int)response.StatusCode, ErrorText(response.StatusCode, body));
        }
    }

    /// <summary>
    /// The reason in an error answer: V2's <c>{"error"}</c>, problem details' detail (or title), plus any listed problems;
    /// else the status in words.
    /// </summary>
    public static string ErrorText(HttpStatusCode status, string body)
    {
        string fallback = status switch
        {
            HttpStatusCode.Unauthorized => "not signed in, or the credential is no longer valid (401); run 'mdsctl login'",
            HttpStatusCode.Forbidden => "your role may not do this (403)",
            HttpStatusCode.NotFound => "not found (404)",
            _ => $"the backend answered {(int)status} {status}",
        };
        if (string.IsNullOrWhiteSpace(body))
        {
            return fallback;
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return body.Length > 500 ? body[..500] : body.Trim();
        }

        if (node is not JsonObject obj)
        {
            return fallback;
        }

        // A bare title ("Forbidden") says less than the status in words.
        string? message = Text(obj["error"]) ?? Text(obj["detail"])
            ?? (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound ? null : Text(obj["title"]));
        var text = new StringBuilder(message ?? fallback);
        if (obj["problems"] is JsonArray problems)
        {
            foreach (var problem in problems)
            {
                string? line = problem is JsonObject p
                    ? string.Join(": ", new[] { Text(p["path"]), p["line"] is { } l ? "line " + l.ToJsonString() : null, Text(p["message"]) }.Where(s => !string.IsNullOrEmpty(s)))
                    : Text(problem);
                if (!string.IsNullOrEmpty(line) && message?.Contains(line, StringComparison.Ordinal) != true)
                {
                    text.Append('\n').Append("  - ").Append(line);
                }
            }
        }
        else if (obj["errors"] is JsonObject errors)
        {
            foreach (var (field, list) in errors)
            {
                text.Append('\n').Append("  - ").Append(field).Append(": ").Append(list is JsonArray a ? string.Join("; ", a.Select(Text)) : Text(list));
            }
        }

        return text.ToString();
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue(out string? s) ? s : node?.ToJsonString();

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        using (response)
        {
            try
            {
                return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
            }
            catch (JsonException e)
            {
                throw new CliException($"the backend's answer is not what this client expects ({e.Message}); are client and server the same version?");
            }
        }
    }

    private static async Task<JsonNode?> ReadNodeAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string text = await response.Content.ReadAsStringAsync(ct);
        return string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
    }

    public void Dispose() => _http.Dispose();
}
