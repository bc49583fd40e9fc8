using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Portal.Auth;
using Mds.Portal.Components.Pages.Experiments;

namespace Mds.Portal.Api;

/// <summary>
/// The backend's experiments: <c>/api/experiments</c> (A/B splits, mirrors, rollouts): list, read, create from a
/// YAML or JSON spec, delete, stop, promote a candidate, change the weights (one request, applied atomically) and
/// read the results with their statistics.
/// </summary>
public sealed class ExperimentsClient(HttpClient http, BackendToken token) : BackendClient(http, token)
{
    /// <summary>Every experiment, running or ended.</summary>
    public Task<IReadOnlyList<ExperimentDto>> ListAsync(CancellationToken cancellationToken = default)
        => GetAsync<IReadOnlyList<ExperimentDto>>("api/experiments", cancellationToken);

    /// <summary>One experiment, or null when there is none of that name.</summary>
    public Task<ExperimentDto?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return FindAsync<ExperimentDto>(ExperimentPath(name), cancellationToken);
    }

    /// <summary>
    /// Creates an experiment from its spec (YAML, or JSON when it starts with <c>{</c>) (Researcher, Admin). A spec the
    /// backend refuses (400) comes back as problems, not as an exception.
    /// </summary>
    public async Task<ExperimentCreateOutcome> CreateAsync(string specText, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(specText);
        using var content = new StringContent(specText, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(PipelinesClient.SpecMediaType(specText)) { CharSet = "utf-8" };
        using var response = await SendAsync(HttpMethod.Post, "api/experiments", cancellationToken, content);
        if (response.StatusCode == HttpStatusCode.BadRequest && await ReadProblemsAsync(response, cancellationToken) is { } refused)
        {
            return refused;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        var created = await response.Content.ReadFromJsonAsync<ExperimentDto>(cancellationToken)
            ?? throw new HttpRequestException($"The backend answered {(int)response.StatusCode} without a body.");
        return new ExperimentCreateOutcome(created, null, []);
    }

    /// <summary>Deletes the experiment (Researcher, Admin): it stops routing; the models stay.</summary>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return SendAsync(HttpMethod.Delete, ExperimentPath(name), null, cancellationToken);
    }

    /// <summary>Ends the experiment without promoting anything (Researcher, Admin); its results stay readable.</summary>
    public Task StopAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return SendAsync(HttpMethod.Post, ExperimentPath(name) + "/stop", null, cancellationToken);
    }

    /// <summary>Makes <paramref name="candidate"/> the live version (or the pipeline's target) and ends the experiment (Researcher, Admin).</summary>
    public async Task PromoteAsync(string name, string candidate, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(candidate);
        using var body = await JsonBodyAsync(new ExperimentPromoteRequest(candidate), cancellationToken);
        await SendAsync(HttpMethod.Post, ExperimentPath(name) + "/promote", body, cancellationToken);
    }

    /// <summary>Sets every candidate's weight in one request, which the backend applies atomically (Researcher, Admin).</summary>
    public async Task SetWeightsAsync(string name, IReadOnlyDictionary<string, double> weights, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(weights);
        using var body = await JsonBodyAsync(new ExperimentWeightsRequest(weights), cancellationToken);
        await SendAsync(HttpMethod.Put, ExperimentPath(name) + "/weights", body, cancellationToken);
    }

    /// <summary>Each candidate's requests, errors, latency, accuracy and comparisons, the mirror's agreement and the last hour's traffic.</summary>
    public async Task<ExperimentResultsDto> ResultsAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var response = await SendAsync(HttpMethod.Get, ExperimentPath(name) + "/results", cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<ExperimentResultsDto>(ResultsJson, cancellationToken)
            ?? throw new HttpRequestException($"The backend answered {(int)response.StatusCode} without a body.");
    }

    /// <summary>
    /// How results are read: the web defaults, and a comparison's interval ends may be <c>"NaN"</c> (a test that gives
    /// no interval, such as Mann-Whitney's), which plain JSON numbers cannot carry.
    /// </summary>
    public static JsonSerializerOptions ResultsJson { get; } = new(JsonSerializerOptions.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString | System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary><c>api/experiments/{name}</c>, escaped.</summary>
    internal static string ExperimentPath(string name) => $"api/experiments/{Uri.EscapeDataString(name)}";

    // The 400's problem details: a "problems" list (of "path: message" texts, or like pipelines' path, message, line), or validation "errors"
    // (field → messages), or just the detail; null when the body is none of these (then the status speaks).
    private static async Task<ExperimentCreateOutcome?> ReadProblemsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
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

            var problems = new List<PipelineSpecProblemDto>();
            if (root.TryGetProperty("problems", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                // The experiments API words each problem as "path: message"; objects with path, message and line are read too.
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        problems.Add(ExperimentSpecLines.Parse(item.GetString()!));
                    }
                    else if (item.ValueKind == JsonValueKind.Object && item.Deserialize<PipelineSpecProblemDto>(JsonSerializerOptions.Web) is { } problem)
                    {
                        problems.Add(problem);
                    }
                }
            }
            else if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in errors.EnumerateObject())
                {
                    var messages = field.Value.ValueKind == JsonValueKind.Array
                        ? field.Value.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.String).Select(m => m.GetString()!)
                        : field.Value.ValueKind == JsonValueKind.String ? [field.Value.GetString()!] : [];
                    problems.AddRange(messages.Select(m => new PipelineSpecProblemDto(field.Name, m)));
                }
            }

            string? error = Text(root, "detail") ?? Text(root, "error") ?? problems.FirstOrDefault()?.Message ?? Text(root, "title");
            return error is null && problems.Count == 0 ? null : new ExperimentCreateOutcome(null, error, problems);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement owner, string property)
        => owner.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>What creating an experiment came to: the experiment, or why it was refused.</summary>
/// <param name="Experiment">The experiment created; null when refused.</param>
/// <param name="Error">The first problem in one sentence, when refused.</param>
/// <param name="Problems">Every problem, each with its place in the spec where the backend names it.</param>
public sealed record ExperimentCreateOutcome(ExperimentDto? Experiment, string? Error, IReadOnlyList<PipelineSpecProblemDto> Problems)
{
    /// <summary>True when the backend accepted the spec.</summary>
    public bool Accepted => Experiment is not null;
}
