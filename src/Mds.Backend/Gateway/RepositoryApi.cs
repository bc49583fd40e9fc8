using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Registry;
using Mds.Backend.Cluster;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Gateway;

/// <summary>One entry of <c>POST /v2/repository/index</c>: a model version and its state, as Triton's repository extension lists them.</summary>
/// <param name="Name">The model.</param>
/// <param name="Version">The version, as text.</param>
/// <param name="State"><c>READY</c>, <c>LOADING</c> or <c>UNAVAILABLE</c>.</param>
/// <param name="Reason">Why it is not READY, when it is not.</param>
public sealed record RepositoryIndexEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("reason")] string Reason);

/// <summary>
/// The Open Inference Protocol's model repository extension on the gateway, mapped onto the registry and the
/// scheduler: <c>index</c> lists every version with its state; <c>load</c> asks for replicas again for the versions
/// scaled to zero and answers once one is Ready; <c>unload</c> scales every version of the model to zero (autoscaling
/// off), so its replicas are unloaded everywhere. The model and its versions stay registered.
/// </summary>
public static class RepositoryApi
{
    /// <summary>The extension's name in the server metadata.</summary>
    public const string Extension = "model_repository";

    /// <summary>How long <c>load</c> waits for a Ready replica.</summary>
    public static readonly TimeSpan LoadWait = TimeSpan.FromSeconds(60);

    public static IEndpointRouteBuilder MapRepositoryApi(this IEndpointRouteBuilder app)
    {
        var repository = app.MapGroup("/v2/repository").WithTags("Inference");
        repository.MapPost("/index", Index).RequireAuthorization(Policies.AnyUser)
            .WithName("V2RepositoryIndex").WithSummary("Every model version with its state (body {\"ready\": true} for the Ready ones only)");
        repository.MapPost("/models/{name}/load", Load).RequireAuthorization(Policies.Researcher)
            .WithName("V2RepositoryLoad").WithSummary("Give the model's versions scaled to zero a replica again; answers when one is Ready");
        repository.MapPost("/models/{name}/unload", Unload).RequireAuthorization(Policies.Researcher)
            .WithName("V2RepositoryUnload").WithSummary("Scale every version of the model to zero replicas");
        return app;
    }

    private static async Task<IResult> Index(HttpContext http, MdsDbContext db, CancellationToken ct)
    {
        bool readyOnly = false;
        if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: ct);
                if (body.RootElement.ValueKind != JsonValueKind.Object)
                {
                    return GatewayApi.Error(StatusCodes.Status400BadRequest, "the body must be a JSON object, e.g. {\"ready\": true}");
                }

                if (body.RootElement.TryGetProperty("ready", out var ready))
                {
                    if (ready.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        return GatewayApi.Error(StatusCodes.Status400BadRequest, "'ready' must be true or false");
                    }

                    readyOnly = ready.GetBoolean();
                }
            }
            catch (JsonException e)
            {
                return GatewayApi.Error(StatusCodes.Status400BadRequest, "the body is not valid JSON: " + e.Message);
            }
        }

        var versions = await db.ModelVersions.AsNoTracking().Include(v => v.Model).Include(v => v.ReplicaList)
            .OrderBy(v => v.Model.Name).ThenBy(v => v.Version).ToListAsync(ct);
        var entries = versions.Select(v =>
        {
            var (state, reason) = RegistryMapping.StateOf(v);
            return new RepositoryIndexEntry(v.Model.Name, v.Version.ToString(CultureInfo.InvariantCulture),
                state switch { VersionStates.Ready => "READY", VersionStates.Loading => "LOADING", _ => "UNAVAILABLE" },
                state == VersionStates.Ready ? "" : reason ?? state);
        }).Where(e => !readyOnly || e.State == "READY").ToList();
        return TypedResults.Json(entries);
    }

    private static async Task<IResult> Load(string name, MdsDbContext db, ClusterChanged changed, RoutingTable routing, CancellationToken ct)
    {
        var versions = await db.ModelVersions.Where(v => v.Model.Name == name).ToListAsync(ct);
        if (versions.Count == 0)
        {
            return GatewayApi.Error(StatusCodes.Status404NotFound, $"unknown model '{name}'");
        }

        foreach (var v in versions.Where(v => v.Replicas == 0))
        {
            v.Replicas = Math.Max(1, v.MinReplicas ?? 1);
        }

        await db.SaveChangesAsync(ct);
        await changed.RaiseAsync(ct);
        var deadline = DateTimeOffset.UtcNow + LoadWait;
        while (true)
        {
            var route = await routing.ResolveAsync(name, null, ct);
            if (route.Status == RouteStatus.Found)
            {
                return TypedResults.Json(new { });
            }

            var states = await db.ModelVersions.AsNoTracking().Include(v => v.ReplicaList).Where(v => v.Model.Name == name).ToListAsync(ct);
            var failed = states.Select(RegistryMapping.StateOf).FirstOrDefault(s => s.State == VersionStates.Failed);
            if (failed.State is not null && states.All(v => RegistryMapping.StateOf(v).State is VersionStates.Failed or VersionStates.Pending))
            {
                return GatewayApi.Error(StatusCodes.Status503ServiceUnavailable, $"model '{name}' failed to load: {failed.Reason}");
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                return GatewayApi.Error(StatusCodes.Status503ServiceUnavailable,
                    $"model '{name}' is not Ready after {LoadWait.TotalSeconds:0} s ({route.Error ?? "still loading"}); see GET /api/models/{name}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }

    private static async Task<IResult> Unload(string name, MdsDbContext db, ClusterChanged changed, CancellationToken ct)
    {
        var versions = await db.ModelVersions.Where(v => v.Model.Name == name).ToListAsync(ct);
        if (versions.Count == 0)
        {
            return GatewayApi.Error(StatusCodes.Status404NotFound, $"unknown model '{name}'");
        }

        foreach (var v in versions)
        {
            (v.Replicas, v.MinReplicas, v.MaxReplicas) = (0, null, null);
        }

        await db.SaveChangesAsync(ct);
        await changed.RaiseAsync(ct);
        return TypedResults.Json(new { });
    }
}
