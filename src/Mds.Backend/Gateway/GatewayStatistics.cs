using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Mds.Backend.Auth;
using Mds.Contracts.Inference;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Gateway;

/// <summary>
/// The statistics extension on the gateway: <c>/v2/models/stats</c> and <c>/v2/models/{name}[/versions/{v}]/stats</c>
/// in the workers' form, each version's counts and times summed over the workers that hold a Ready replica of it.
/// Workers are asked in parallel with a short timeout; one that does not answer is left out and named in the
/// <see cref="MissingHeader"/> response header (and the log), not a failure.
/// </summary>
public static class GatewayStatistics
{
    /// <summary>The extension's name in the server metadata.</summary>
    public const string Extension = "statistics";

    /// <summary>Response header naming the workers whose statistics are missing from the sums (comma-separated).</summary>
    public const string MissingHeader = "Mds-Stats-Missing";

    private const string ClientName = "gateway-statistics";

    public static IServiceCollection AddGatewayStatistics(this IServiceCollection services)
    {
        services.AddHttpClient(ClientName);
        return services;
    }

    public static IEndpointRouteBuilder MapGatewayStatistics(this IEndpointRouteBuilder app)
    {
        // The literal "stats" outranks the {name} parameter of /v2/models/{name}, so a model cannot shadow this route.
        var models = app.MapGroup("/v2/models").WithTags("Inference").RequireAuthorization(Policies.Inference);
        models.MapGet("/stats", All).WithName("V2AllModelStatistics")
            .WithSummary("Counts and times of every model version, summed over the workers with a Ready replica");
        models.MapGet("/{name}/stats", Model).WithName("V2ModelStatistics")
            .WithSummary("Counts and times of the model's versions with a Ready replica, summed over their workers");
        models.MapGet("/{name}/versions/{version}/stats", Model).WithName("V2ModelStatisticsVersion")
            .WithSummary("Counts and times of one model version, summed over the workers with a Ready replica");
        return app;
    }

    private static async Task<IResult> All(HttpContext http, RoutingTable routing, IHttpClientFactory clients, IOptions<GatewayOptions> options, ILoggerFactory logs, Auth.SigningKeys keys)
    {
        string token = keys.InternalTokenFor(Auth.CallerIdentity.Name(http.User) ?? "anonymous");
        // One call per worker: which of its answers count is what the table says is Ready there.
        var readyOn = routing.Models
            .SelectMany(m => m.Versions.Values.SelectMany(v => v.Ready.Select(r => (r.WorkerId, r.WorkerName, r.Url, Key: (m.Name, Version: V(v.Version))))))
            .ToList();
        var counted = readyOn.Select(x => (x.WorkerId, x.Key)).ToHashSet();
        var workers = readyOn.DistinctBy(x => x.WorkerId).Select(x => (x.WorkerId, x.WorkerName, x.Url)).ToList();
        var answers = await Task.WhenAll(workers.Select(w => AskAsync(clients, token, options.Value.StatisticsTimeout, w.WorkerName, w.Url, "/v2/models/stats", http.RequestAborted)));

        var sums = new SortedDictionary<(string Name, string Version), List<ModelStatistics>>();
        foreach (var key in counted.Select(c => c.Key).Distinct())
        {
            sums[key] = [];
        }

        for (int i = 0; i < workers.Count; i++)
        {
            foreach (var s in answers[i].Stats ?? [])
            {
                if (counted.Contains((workers[i].WorkerId, (s.Name, s.Version))))
                {
                    sums[(s.Name, s.Version)].Add(s);
                }
            }
        }

        Missing(http, logs.CreateLogger(typeof(GatewayStatistics).FullName!), answers);
        return TypedResults.Ok(new ModelStatisticsResponse([.. sums.Select(kv => Sum(kv.Key.Name, kv.Key.Version, kv.Value))]));
    }

    private static async Task<IResult> Model(HttpContext http, string name, string? version, RoutingTable routing, IHttpClientFactory clients, IOptions<GatewayOptions> options, ILoggerFactory logs, Auth.SigningKeys keys)
    {
        string token = keys.InternalTokenFor(Auth.CallerIdentity.Name(http.User) ?? "anonymous");
        if (!RoutingTable.TryParseVersion(version, out int? v))
        {
            return GatewayApi.Error(StatusCodes.Status404NotFound, $"model '{name}' has no version '{version}'");
        }

        var found = await routing.ResolveAsync(name, v, http.RequestAborted);
        if (found.Model is null || (v is not null && found.Version is null))
        {
            return GatewayApi.Error(StatusCodes.Status404NotFound, found.Error ?? $"model '{name}' not found");
        }

        // A version asked for by number is answered even with no Ready replica (all zeros); otherwise the versions
        // that have one.
        var versions = v is not null ? [found.Version!] : found.Model.Versions.Values.Where(r => r.Ready.Length > 0).ToList();
        var asks = versions.Select(r => Task.WhenAll(r.Ready.Select(replica => AskAsync(clients, token, options.Value.StatisticsTimeout, replica.WorkerName, replica.Url,
            $"/v2/models/{Uri.EscapeDataString(found.Model.Name)}/versions/{V(r.Version)}/stats", http.RequestAborted)))).ToList();
        var answers = await Task.WhenAll(asks);

        Missing(http, logs.CreateLogger(typeof(GatewayStatistics).FullName!), answers.SelectMany(a => a));
        return TypedResults.Ok(new ModelStatisticsResponse([.. versions.Select((r, i) =>
            Sum(found.Model.Name, V(r.Version), answers[i].SelectMany(a => a.Stats ?? []).Where(s => s.Version == V(r.Version))))]));
    }

    /// <summary>One version's statistics summed over workers: counts and times added, the latest last inference.</summary>
    internal static ModelStatistics Sum(string name, string version, IEnumerable<ModelStatistics> parts)
    {
        long last = 0, inferences = 0, executions = 0;
        StatisticDuration success = Zero, fail = Zero, queue = Zero, input = Zero, infer = Zero, output = Zero;
        foreach (var p in parts)
        {
            last = Math.Max(last, p.LastInference);
            inferences += p.InferenceCount;
            executions += p.ExecutionCount;
            var s = p.InferenceStats;
            (success, fail, queue) = (Add(success, s.Success), Add(fail, s.Fail), Add(queue, s.Queue));
            (input, infer, output) = (Add(input, s.ComputeInput), Add(infer, s.ComputeInfer), Add(output, s.ComputeOutput));
        }

        return new ModelStatistics(name, version, last, inferences, executions, new InferStatistics(success, fail, queue, input, infer, output));
    }

    private static readonly StatisticDuration Zero = new(0, 0);

    private static StatisticDuration Add(StatisticDuration a, StatisticDuration b) => new(a.Count + b.Count, a.Ns + b.Ns);

    private static string V(int version) => version.ToString(CultureInfo.InvariantCulture);

    /// <summary>A worker's statistics; null with a reason when it did not answer in time or not in the protocol's form.</summary>
    private static async Task<Answer> AskAsync(IHttpClientFactory clients, string token, TimeSpan timeout, string worker, string url, string path, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            using var http = clients.CreateClient(ClientName);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(url), path));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cts.Token);
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return new Answer(worker, [], null); // not loaded there after all (the table is a moment behind): nothing to add
            }

            if (!response.IsSuccessStatusCode)
            {
                return new Answer(worker, null, $"answered {(int)response.StatusCode}");
            }

            var body = await response.Content.ReadFromJsonAsync<ModelStatisticsResponse>(cts.Token);
            return new Answer(worker, body?.ModelStats ?? [], null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new Answer(worker, null, $"no answer within {timeout.TotalMilliseconds:0} ms");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            return new Answer(worker, null, e.Message);
        }
    }

    private static void Missing(HttpContext http, ILogger log, IEnumerable<Answer> answers)
    {
        var missing = answers.Where(a => a.Stats is null).DistinctBy(a => a.Worker).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        http.Response.Headers[MissingHeader] = string.Join(", ", missing.Select(a => a.Worker));
        foreach (var a in missing)
        {
            log.LogWarning("Statistics of worker {Worker} left out: {Reason}", a.Worker, a.Why);
        }
    }

    private sealed record Answer(string Worker, IReadOnlyList<ModelStatistics>? Stats, string? Why);
}
