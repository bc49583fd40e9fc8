using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;

namespace Mds.IntegrationTests.Monitoring;

/// <summary>
/// <c>/metrics</c> of a worker and of the backend, scraped before and after a known set of requests: every figure moves
/// by exactly what was sent (test collections run one at a time, so nothing else sends to this model meanwhile).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MetricsTests(MdsCluster cluster)
{
    private const string Model = "metrics-linear";

    [Fact]
    public async Task Worker_and_gateway_figures_move_by_exactly_the_requests_made()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        var worker = await WorkerOfAsync(Model);
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        using var direct = await cluster.WorkerClientAsync(worker.Url);
        string madeUp = "metrics-made-up-" + Guid.NewGuid().ToString("N")[..8];
        var workerBefore = await PrometheusText.ScrapeAsync(worker.Url);
        var backendBefore = await PrometheusText.ScrapeAsync(cluster.BackendUrl);

        int[] rows = [1, 2, 3, 5, 8];
        foreach (int n in rows)
        {
            var ok = await analyst.PostAsync($"/v2/models/{Model}/infer", V2Json.Request("x", [n, 1], "FP32", new float[n]));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // Refused by the model (wrong shape), and not even decodable: both 400, both "invalid".
        var wrongShape = await analyst.PostAsync($"/v2/models/{Model}/infer", V2Json.Request("x", [1, 3], "FP32", new[] { 1f, 2f, 3f }));
        Assert.Equal(HttpStatusCode.BadRequest, wrongShape.StatusCode);
        var undecodable = await analyst.PostAsync($"/v2/models/{Model}/infer", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, undecodable.StatusCode);
        // Names nobody deployed, at the gateway and straight at the worker: counted, but not as labels.
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.PostAsync($"/v2/models/{madeUp}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await direct.PostAsync($"/v2/models/{madeUp}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }))).StatusCode);

        var w = await PrometheusText.ScrapeAsync(worker.Url);
        var b = await PrometheusText.ScrapeAsync(cluster.BackendUrl);
        (string, string)[] okTags = [("model", Model), ("version", "1"), ("status", "ok")];
        (string, string)[] invalidTags = [("model", Model), ("version", "1"), ("status", "invalid")];
        (string, string)[] versionTags = [("model", Model), ("version", "1")];

        // worker: requests, durations, batch sizes (rows), queue time
        AssertMoved(rows.Length, workerBefore, w, "mds_inference_requests_total", okTags);
        AssertMoved(2, workerBefore, w, "mds_inference_requests_total", invalidTags);
        AssertMoved(1, workerBefore, w, "mds_inference_requests_total", ("model", "(unknown)"), ("status", "not_found"));
        AssertMoved(rows.Length, workerBefore, w, "mds_inference_duration_seconds_count", okTags);
        Assert.True(Delta(workerBefore, w, "mds_inference_duration_seconds_sum", okTags) > 0);
        AssertMoved(rows.Sum(), workerBefore, w, "mds_inference_batch_size_sum", versionTags);
        AssertMoved(rows.Length, workerBefore, w, "mds_inference_batch_size_count", versionTags);
        Assert.Equal(3, BucketDelta(workerBefore, w, "mds_inference_batch_size", 4, versionTags)); // 1, 2 and 3 rows
        Assert.Equal(rows.Length, BucketDelta(workerBefore, w, "mds_inference_batch_size", double.PositiveInfinity, versionTags));
        AssertMoved(rows.Length + 1, workerBefore, w, "mds_inference_queue_seconds_count", versionTags); // the wrong shape reached the run too
        Assert.True(w.Single("mds_models_loaded") >= 1, w.Text);
        Assert.True(w.Single("mds_worker_working_set_bytes") > 10_000_000, w.Text);
        Assert.True(w.Single("mds_worker_managed_heap_bytes") > 0, w.Text);
        Assert.False(w.Has("mds_inference_requests_total", ("model", madeUp)), w.Text);

        // gateway: what it answered, by the model and version it routed to
        AssertMoved(rows.Length, backendBefore, b, "mds_gateway_requests_total", okTags);
        AssertMoved(2, backendBefore, b, "mds_gateway_requests_total", invalidTags);
        AssertMoved(1, backendBefore, b, "mds_gateway_requests_total", ("model", "(unknown)"), ("status", "not_found"));
        AssertMoved(rows.Length, backendBefore, b, "mds_gateway_duration_seconds_count", okTags);
        Assert.False(b.Has("mds_gateway_requests_total", ("model", madeUp)), b.Text);

        // audit: the seven answers the model gave are written (in batches, off the request path)
        double written = 0;
        await Eventually.TrueAsync(async () =>
        {
            written = Delta(workerBefore, await PrometheusText.ScrapeAsync(worker.Url), "mds_audit_records_written_total");
            return written >= rows.Length + 2;
        }, TimeSpan.FromSeconds(30), $"7 audit records written (so far {written})");
        var afterAudit = await PrometheusText.ScrapeAsync(worker.Url);
        AssertMoved(0, workerBefore, afterAudit, "mds_audit_records_dropped_total");
        Assert.True(afterAudit.Has("mds_audit_buffer_records"), afterAudit.Text);
        Assert.True(Delta(workerBefore, afterAudit, "mds_audit_write_duration_seconds_count") >= 1);
    }

    /// <summary>
    /// The alerts and the dashboard name metrics by the rule AlertRulesTests applies to the instruments in src/
    /// (<c>mds_</c> + the instrument's name, histograms as <c>_bucket</c>/<c>_sum</c>/<c>_count</c>): a live scrape of the
    /// backend and a worker serves exactly such names, and the cluster-state gauges the worker, version and replica
    /// alerts read are there with the state of a Ready model.
    /// </summary>
    [Fact]
    public async Task Alerts_on_misnamed_or_missing_metrics_are_caught_by_a_live_scrape()
    {
        await cluster.EnsureReadyAsync(Model, TestGraphs.Linear([2f], 1f));
        var worker = await WorkerOfAsync(Model);
        var exported = ExportedBySource();
        Assert.Contains("mds_model_version_state", exported);
        using (var analyst = await cluster.ClientAsync(Roles.Analyst))
        {
            var ok = await analyst.PostAsync($"/v2/models/{Model}/infer", V2Json.Request("x", [1, 1], "FP32", new[] { 1f }));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode); // so the request counters and histograms have series
        }

        PrometheusText backend = null!;
        (string, string)[] ready = [("model", Model), ("version", "1"), ("state", ReplicaStates.Ready)];
        await Eventually.TrueAsync(async () =>
        {
            backend = await PrometheusText.ScrapeAsync(cluster.BackendUrl);
            return backend.Has("mds_model_version_state", ready) && backend.Single("mds_model_version_state", ready) == 1;
        }, TimeSpan.FromSeconds(40), "mds_model_version_state of the Ready model"); // read every 15 s
        Assert.Equal(0, backend.Single("mds_model_version_state", ("model", Model), ("version", "1"), ("state", "Pending")));
        Assert.True(backend.Single("mds_replicas", ready) >= 1, backend.Text);
        Assert.Equal(0, backend.Single("mds_replicas", ("model", Model), ("version", "1"), ("state", ReplicaStates.Failed)));
        Assert.Equal(1, backend.Single("mds_worker_state", ("worker", worker.Name), ("state", WorkerStates.Online)));
        Assert.Equal(0, backend.Single("mds_worker_state", ("worker", worker.Name), ("state", WorkerStates.Offline)));

        var workerScrape = await PrometheusText.ScrapeAsync(worker.Url);
        var served = backend.Samples.Concat(workerScrape.Samples).Select(s => s.Name).Where(n => n.StartsWith("mds_", StringComparison.Ordinal)).ToHashSet();
        Assert.Contains("mds_gateway_requests_total", served);
        Assert.Contains("mds_inference_duration_seconds_bucket", served);
        Assert.All(served, name => Assert.True(exported.Contains(name), $"/metrics serves {name}, which the naming rule does not derive from src/"));
    }

    /// <summary>What AlertRulesTests derives from src/: every instrument on meter Mds, as prometheus-net's MeterAdapter names it.</summary>
    private static HashSet<string> ExportedBySource()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var instrument = new System.Text.RegularExpressions.Regex(
            @"\.Create(?<kind>Counter|Histogram|ObservableGauge|UpDownCounter|ObservableCounter|ObservableUpDownCounter|Gauge)(?:<\w+>)?\(\s*""(?<name>[a-z_]+)""");
        foreach (string file in Directory.EnumerateFiles(Path.Combine(TestEnvironment.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories))
        {
            foreach (System.Text.RegularExpressions.Match m in instrument.Matches(File.ReadAllText(file)))
            {
                string name = "mds_" + m.Groups["name"].Value;
                names.Add(name);
                if (m.Groups["kind"].Value == "Histogram")
                {
                    names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                }
            }
        }

        return names;
    }

    private async Task<ServiceProcess> WorkerOfAsync(string model)
    {
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        var version = (await analyst.GetFromJsonAsync<ModelVersionDto>($"/api/models/{model}/versions/1"))!;
        var replica = Assert.Single(version.ReplicaStates, r => r.State == ReplicaStates.Ready);
        return cluster.Workers.Single(w => w.Name == replica.WorkerName);
    }

    /// <summary>Asserts that <paramref name="name"/> with <paramref name="labels"/> moved by exactly <paramref name="expected"/>, showing the scrape when not.</summary>
    private static void AssertMoved(double expected, PrometheusText before, PrometheusText after, string name, params (string, string)[] labels)
    {
        double moved = Delta(before, after, name, labels);
        Assert.True(moved == expected, $"{name} {{{string.Join(", ", labels)}}} moved by {moved}, expected {expected}; after:\n{after.Text}");
    }

    private static double Delta(PrometheusText before, PrometheusText after, string name, params (string, string)[] labels) =>
        after.Sum(name, labels) - before.Sum(name, labels);

    /// <summary>The change of the cumulative bucket <c>le</c> = <paramref name="bound"/> of histogram <paramref name="name"/>.</summary>
    private static double BucketDelta(PrometheusText before, PrometheusText after, string name, double bound, params (string, string)[] labels)
    {
        double Bucket(PrometheusText scrape)
        {
            var buckets = scrape.Samples
                .Where(s => s.Name == name + "_bucket" && labels.All(l => s.Labels.TryGetValue(l.Item1, out string? v) && v == l.Item2))
                .Where(s => ParseBound(s.Labels["le"]) == bound)
                .ToList();
            return buckets.Sum(s => s.Value);
        }

        Assert.True(after.Samples.Any(s => s.Name == name + "_bucket" && ParseBound(s.Labels["le"]) == bound), $"no bucket le={bound} in {name}:\n{after.Text}");
        return Bucket(after) - Bucket(before);
    }

    private static double ParseBound(string le) =>
        le == "+Inf" ? double.PositiveInfinity : double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture);
}
