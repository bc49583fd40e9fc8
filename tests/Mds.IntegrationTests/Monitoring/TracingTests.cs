using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Monitoring;

/// <summary>W3C trace context travels caller → backend gateway → worker, and the worker's inference record keeps the caller's trace id.</summary>
[Collection(ClusterCollection.Name)]
public sealed class TracingTests(MdsCluster cluster)
{
    private const string Model = "tracing-linear";

    [Fact]
    public async Task An_inference_through_the_gateway_is_recorded_with_the_callers_trace_id()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([1f], 0f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        string requestId = "trace-" + Guid.NewGuid().ToString("N");

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 3f }) };
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{callerSpan.ToHexString()}-01");
        request.Headers.Add(MdsHeaders.RequestId, requestId);
        Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(request)).StatusCode);

        InferenceRecordSummaryDto? record = null;
        await Eventually.TrueAsync(async () =>
        {
            record = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!.Records.SingleOrDefault();
            return record is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        Assert.Equal(traceId.ToHexString(), record!.TraceId);
    }

    [Fact]
    public async Task Without_a_traceparent_each_inference_gets_a_trace_of_its_own()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([1f], 0f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string run = Guid.NewGuid().ToString("N")[..8];
        var traceIds = new List<string?>();
        for (int i = 0; i < 2; i++)
        {
            // a plain HttpClient outside any activity sends no traceparent
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 1f }) };
            request.Headers.Add(MdsHeaders.RequestId, $"untraced-{run}-{i}");
            Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(request)).StatusCode);
        }

        for (int i = 0; i < 2; i++)
        {
            InferenceRecordSummaryDto? record = null;
            await Eventually.TrueAsync(async () =>
            {
                record = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId=untraced-{run}-{i}"))!.Records.SingleOrDefault();
                return record is not null;
            }, TimeSpan.FromSeconds(30), $"the record of untraced-{run}-{i}");
            traceIds.Add(record!.TraceId);
        }

        Assert.All(traceIds, id => Assert.Matches("^[0-9a-f]{32}$", id!));
        Assert.NotEqual(traceIds[0], traceIds[1]);
    }
}
