using Mds.Backend.Auth;
using Mds.Backend.Batches;
using Mds.Backend.Images;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Config;

/// <summary><c>/api/config</c>: the limits the operator set, for clients to check forms against (any signed-in role).</summary>
public static class ConfigApi
{
    public static IEndpointRouteBuilder MapConfigApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/config", Get).RequireAuthorization(Policies.AnyUser).WithTags("Config")
            .WithName("GetConfig").WithSummary("The limits this backend enforces: upload sizes, replicas, batch size");
        return app;
    }

    private static Ok<ConfigDto> Get(IOptions<RegistryOptions> registry, IOptions<BatchOptions> batch, IOptions<ImageOptions> images)
    {
        var r = registry.Value;
        bool staging = r.MaxStagedUploads > 0 && r.MaxStagedBytes > 0;
        return TypedResults.Ok(new ConfigDto(
            r.MaxUploadBytes, r.MaxDatasetBytes, batch.Value.MaxUploadBytes, batch.Value.SyncMaxRows, images.Value.MaxImageBytes,
            r.MaxReplicas, BatchingSettings.MaxBatchSizeLimit, BatchingSettings.MaxLatencyLimitMicroseconds,
            staging ? (int)r.StagedUploadLifetime.TotalSeconds : 0));
    }
}
