using Grpc.Core;
using Mds.Backend.Gateway;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Gateway;

/// <summary>The gateway's sums of the workers' statistics, and how gRPC outcomes count in the HTTP-shaped traffic.</summary>
public sealed class GatewayStatisticsTests
{
    [Fact]
    public void Sum_adds_counts_and_times_and_keeps_the_latest_inference()
    {
        var a = Stats(last: 1_000, inferences: 6, executions: 2, successNs: 300, failCount: 1);
        var b = Stats(last: 5_000, inferences: 9, executions: 3, successNs: 700, failCount: 0);

        var sum = GatewayStatistics.Sum("m", "2", [a, b]);

        Assert.Equal(("m", "2", 5_000L, 15L, 5L), (sum.Name, sum.Version, sum.LastInference, sum.InferenceCount, sum.ExecutionCount));
        Assert.Equal(new StatisticDuration(5, 1_000), sum.InferenceStats.Success);
        Assert.Equal(new StatisticDuration(1, 10), sum.InferenceStats.Fail);
        Assert.Equal(new StatisticDuration(5, 50), sum.InferenceStats.ComputeInfer);
        Assert.Equal(new StatisticDuration(0, 0), sum.InferenceStats.Queue);
    }

    [Fact]
    public void Sum_of_no_worker_is_all_zeros()
    {
        var sum = GatewayStatistics.Sum("m", "1", []);
        Assert.Equal((0L, 0L, 0L), (sum.LastInference, sum.InferenceCount, sum.ExecutionCount));
        Assert.Equal(new StatisticDuration(0, 0), sum.InferenceStats.Success);
    }

    [Theory]
    [InlineData(StatusCode.OK, 200)]
    [InlineData(StatusCode.InvalidArgument, 400)]
    [InlineData(StatusCode.NotFound, 404)]
    [InlineData(StatusCode.Unavailable, 503)]
    [InlineData(StatusCode.DeadlineExceeded, 504)]
    [InlineData(StatusCode.Internal, 500)]
    public void A_grpc_status_counts_as_the_http_status_rest_would_answer(StatusCode status, int http) =>
        Assert.Equal(http, GatewayGrpcService.HttpStatusOf(status));

    private static ModelStatistics Stats(long last, long inferences, long executions, long successNs, long failCount) =>
        new("m", "2", last, inferences, executions, new InferStatistics(
            new StatisticDuration(executions, successNs), new StatisticDuration(failCount, failCount * 10), new StatisticDuration(0, 0),
            new StatisticDuration(0, 0), new StatisticDuration(executions, executions * 10), new StatisticDuration(0, 0)));
}
