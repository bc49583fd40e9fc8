using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Auth;

namespace Mds.Portal.Api;

/// <summary>
/// The backend's pipelines: <c>/api/pipelines</c> (specs, versions, runs) and the V2 metadata and readiness at
/// <c>/v2/pipelines/{name}</c>. Running one goes through <see cref="InferenceClient.InferPipelineAsync"/> and a CSV
/// batch through <see cref="BatchUploadsClient.StartPipelineAsync"/>, which wait longer than a page does.
/// </summary>
public sealed class PipelinesClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>Every pipeline.</summary>
    public Task<IReadOnlyList<PipelineDto>> ListAsync(CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<PipelineDto>>("api/pipelines", cancellationToken);

    /// <summary>One pipeline with its versions and step states, or null when there is none of that name.</summary>
    public Task<PipelineDto?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindAsync<PipelineDto>(PipelinePath(name), cancellationToken);
    }

    /// <summary>One version (spec text and graph), or null when there is no such version.</summary>
    public Task<PipelineVersionDto?> FindVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindAsync<PipelineVersionDto>(string.Create(CultureInfo.InvariantCulture, $"{PipelinePath(name)}/versions/{version}"), cancellationToken);
    }

    /// <summary>
    /// Applies a spec (YAML, or JSON when it starts with <c>{</c>), or with <paramref name="dryRun"/> only checks it
    /// (Researcher, Admin). A spec the backend refuses comes back as problems, not as an exception.
    /// </summary>
    public async Task<PipelineApplyOutcome> ApplyAsync(string specText, bool dryRun, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(specText);
        using var content = new StringContent(specText, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(SpecMediaType(specText)) { CharSet = "utf-8" };
        using var response = await SendAsync(HttpMethod.Post, dryRun ? "api/pipelines?dryRun=true" : "api/pipelines", cancellationToken, content);
        if (response.StatusCode == HttpStatusCode.BadRequest && await ReadProblemsAsync(response, cancellationToken) is { } refused)
        {
            return refused;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        // A dry run may answer without a body: nothing to report but that the spec is fine.
        var result = response.Content.Headers.ContentLength is 0 ? null : await response.Content.ReadFromJsonAsync<PipelineApplyResult>(cancellationToken);
        return new PipelineApplyOutcome(result, null, []);
    }

    /// <summary>Deletes the pipeline and all its versions (Researcher, Admin).</summary>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return SendAsync(HttpMethod.Delete, PipelinePath(name), null, cancellationToken);
    }

    /// <summary>Recent runs, newest first, without step tensors; filtered by HTTP status class or request id when given.</summary>
    public Task<IReadOnlyList<PipelineRunDto>> RunsAsync(string name, int limit = 50, string? status = null, string? requestId = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var query = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{PipelinePath(name)}/runs?limit={limit}"));
        if (!string.IsNullOrWhiteSpace(status))
        {
            query.Append("&status=").Append(Uri.EscapeDataString(status));
        }

        if (!string.IsNullOrWhiteSpace(requestId))
        {
            query.Append("&requestId=").Append(Uri.EscapeDataString(requestId.Trim()));
        }

        return GetAsync<IReadOnlyList<PipelineRunDto>>(query.ToString(), cancellationToken);
    }

    /// <summary>One run with each step's tensors and the run's request and response, or null when there is none.</summary>
    public Task<PipelineRunDto?> FindRunAsync(string name, string requestId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        return FindAsync<PipelineRunDto>($"{PipelinePath(name)}/runs/{Uri.EscapeDataString(requestId.Trim())}", cancellationToken);
    }

    /// <summary>The pipeline's V2 metadata (its inputs and outputs), or null when it is unknown.</summary>
    public Task<ModelMetadata?> MetadataAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindAsync<ModelMetadata>(V2Path(name), cancellationToken);
    }

    /// <summary>True when the pipeline answers calls (<c>GET /v2/pipelines/{name}/ready</c> is 200).</summary>
    public async Task<bool> ReadyAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var response = await SendAsync(HttpMethod.Get, V2Path(name) + "/ready", cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            await EnsureSuccessAsync(response, cancellationToken);
        }

        return response.IsSuccessStatusCode;
    }

    /// <summary><c>api/pipelines/{name}</c>, escaped.</summary>
    internal static string PipelinePath(string name) => $"api/pipelines/{Uri.EscapeDataString(name)}";

    /// <summary>JSON when the text is a JSON object, else YAML (of which JSON is a subset anyway).</summary>
    internal static string SpecMediaType(string specText) => specText.TrimStart().StartsWith('{') ? "application/json" : "application/yaml";

    private static string V2Path(string name) => $"v2/pipelines/{Uri.EscapeDataString(name)}";

    // The 400's problem details with the spec's problems; null when the body is not that (then the status speaks).
    private static async Task<PipelineApplyOutcome?> ReadProblemsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var problems = root.TryGetProperty("problems", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.Deserialize<List<PipelineSpecProblemDto>>(JsonSerializerOptions.Web) ?? []
                : [];
            string? error = Text(root, "detail") ?? Text(root, "error") ?? problems.FirstOrDefault()?.Message ?? Text(root, "title");
            return error is null && problems.Count == 0 ? null : new PipelineApplyOutcome(null, error, problems);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement owner, string property)
        => owner.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>What applying (or checking) a spec came to: the version it is now, or why it was refused.</summary>
/// <param name="Result">The applied version; null on a dry run's answer without a body, or when refused.</param>
/// <param name="Error">The first problem in one sentence, when refused.</param>
/// <param name="Problems">Every problem, each with its place in the spec.</param>
public sealed record PipelineApplyOutcome(PipelineApplyResult? Result, string? Error, IReadOnlyList<PipelineSpecProblemDto> Problems)
{
    /// <summary>True when the backend accepted the spec.</summary>
    public bool Accepted => Error is null && Problems.Count == 0;
}
