using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Config;

/// <summary><c>GET /api/config</c> serves the limits the backend enforces, so the portal's checks cannot drift from them.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ConfigApiTests(MdsCluster cluster)
{
    [Fact]
    public async Task The_portal_reads_the_operators_limits_not_copies_of_the_defaults()
    {
        using var client = await cluster.ClientAsync(Roles.Analyst);

        var config = (await client.GetFromJsonAsync<ConfigDto>("/api/config"))!;

        // The test backend sets Mds:Registry:MaxUploadBytes to 2 MiB (MdsCluster.MaxUploadBytes), not the 512 MiB default.
        Assert.Equal(MdsCluster.MaxUploadBytes, config.MaxModelUploadBytes);
        Assert.True(config.MaxReplicas >= 1);
        Assert.Equal(BatchingSettings.MaxBatchSizeLimit, config.MaxBatchSize);
        Assert.True(config.StagedUploadSeconds > 0);
        Assert.True(config.MaxDatasetBytes > 0 && config.MaxBatchUploadBytes > 0 && config.MaxImageBytes > 0);
    }
}
