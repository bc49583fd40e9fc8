using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Mds.Portal.Auth;
using Microsoft.AspNetCore.Mvc;

namespace Mds.Portal.Api;

/// <summary>
/// What every typed client of the backend shares: the signed-in user's bearer token on each request (a 401 for it
/// sends the browser to sign in, see <see cref="SignInOnUnauthorized"/>), and failures turned into
/// <see cref="HttpRequestException"/>s whose message a person can read (the problem details' detail).
/// </summary>
public abstract class BackendClient(HttpClient http, BackendToken token)
{
    /// <summary>GETs <paramref name="path"/> (relative to the backend's base address) and reads its JSON body.</summary>
    protected async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await SendAsync(HttpMethod.Get, path, cancellationToken, null, null);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<T>(response, cancellationToken);
    }

    /// <summary>Like <see cref="GetAsync{T}"/>, but null when the backend answers 404.</summary>
    protected async Task<T?> FindAsync<T>(string path, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await SendAsync(HttpMethod.Get, path, cancellationToken, null, null);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<T>(response, cancellationToken);
    }

    /// <summary>Sends <paramref name="content"/> (or nothing) and reads the JSON answer; throws unless it succeeded.</summary>
    protected async Task<T> SendForAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await SendAsync(method, path, cancellationToken, content);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<T>(response, cancellationToken);
    }

    /// <summary>Sends <paramref name="content"/> (or nothing), ignoring the answer's body; throws unless it succeeded.</summary>
    protected async Task SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, path, cancellationToken, content);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>A JSON body with a Content-Length (buffered: small, and any proxy takes it).</summary>
    protected static async Task<HttpContent> JsonBodyAsync<T>(T value, CancellationToken cancellationToken)
    {
        var body = JsonContent.Create(value);
        await body.LoadIntoBufferAsync(cancellationToken);
        return body;
    }

    /// <summary>
    /// Sends a request with the signed-in user's bearer token; the caller owns the response. With
    /// <see cref="HttpCompletionOption.ResponseHeadersRead"/> the body is left to stream rather than buffered.
    /// </summary>
    protected async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, CancellationToken cancellationToken, HttpContent? content = null, Action<HttpRequestMessage>? configure = null, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (await token.GetAsync() is { } accessToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            request.Options.Set(SignInOnUnauthorized.Sender, token);
        }

        configure?.Invoke(request);
        return await SendAsync(http, request, cancellationToken, completion);
    }

    /// <summary>Sends <paramref name="request"/>, reporting a timeout as the backend not answering.</summary>
    internal static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        ArgumentNullException.ThrowIfNull(http);
        try
        {
            return await http.SendAsync(request, completion, cancellationToken);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException($"The backend did not answer within {http.Timeout.TotalSeconds:0} s.", ex);
        }
    }

    /// <summary>Throws an <see cref="HttpRequestException"/> carrying the status and the problem's detail unless the call succeeded.</summary>
    internal static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? detail = null;
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(cancellationToken);
            detail = problem?.Detail ?? problem?.Title;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            // Not problem details (a proxy's error page, say): the status alone says enough.
        }

        int status = (int)response.StatusCode;
        throw new HttpRequestException(detail ?? $"The backend answered {status} {response.ReasonPhrase}.", null, response.StatusCode);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
        where T : class
        => await response.Content.ReadFromJsonAsync<T>(cancellationToken)
            ?? throw new HttpRequestException($"The backend answered {(int)response.StatusCode} without a body.");
}
