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
        // Three calls on one client: the first may go the full way, the later ones take the gateway's and the worker's
        // fast paths (a remembered credential), where no activity is started and the headers carry the trace.
        var sent = new List<(string RequestId, ActivityTraceId TraceId)>();
        for (int i = 0; i < 3; i++)
        {
            var traceId = ActivityTraceId.CreateRandom();
            string requestId = "trace-" + Guid.NewGuid().ToString("N");
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 3f }) };
            request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            request.Headers.Add(MdsHeaders.RequestId, requestId);
            Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(request)).StatusCode);
            sent.Add((requestId, traceId));
        }

        foreach (var (requestId, traceId) in sent)
        {
            Assert.Equal(traceId.ToHexString(), (await RecordAsync(analyst, requestId)).TraceId);
        }
    }

    [Fact]
    public async Task A_call_straight_to_a_worker_is_recorded_with_the_callers_trace_id_and_a_malformed_traceparent_starts_a_new_trace()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([1f], 0f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string run = Guid.NewGuid().ToString("N")[..8];
        var traceId = ActivityTraceId.CreateRandom();
        HttpClient? direct = null;
        foreach (var worker in cluster.Workers)
        {
            var candidate = await cluster.WorkerClientAsync(worker.Url);
            using var probe = await candidate.PostAsync($"/v2/models/{Model}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
            if (probe.StatusCode == HttpStatusCode.OK)
            {
                direct = candidate;
                break;
            }

            candidate.Dispose();
        }

        Assert.NotNull(direct); // the model's replica is on one of the workers
        using (direct)
        {
            // The worker's fast path (the credential is remembered after the probe) starts no activity: the header is read.
            for (int i = 0; i < 2; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Model}/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 2f }) };
                request.Headers.TryAddWithoutValidation("traceparent", i == 0 ? $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-00" : "00-not-a-trace-01");
                request.Headers.Add(MdsHeaders.RequestId, $"direct-{run}-{i}");
                Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(request)).StatusCode);
            }
        }

        Assert.Equal(traceId.ToHexString(), (await RecordAsync(analyst, $"direct-{run}-0")).TraceId);
        string? fresh = (await RecordAsync(analyst, $"direct-{run}-1")).TraceId;
        Assert.Matches("^[0-9a-f]{32}$", fresh!);
        Assert.NotEqual(traceId.ToHexString(), fresh);
    }

    private static async Task<InferenceRecordSummaryDto> RecordAsync(HttpClient client, string requestId)
    {
        InferenceRecordSummaryDto? record = null;
        await Eventually.TrueAsync(async () =>
        {
            record = (await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}"))!.Records.SingleOrDefault();
            return record is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        return record!;
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
