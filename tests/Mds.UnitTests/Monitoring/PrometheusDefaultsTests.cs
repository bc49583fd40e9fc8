using System.Diagnostics;
using System.Text;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Prometheus;

namespace Mds.UnitTests.Monitoring;

/// <summary>What every service's defaults do to prometheus-net's metrics.</summary>
public sealed class PrometheusDefaultsTests
{
    [Fact]
    public async Task Observations_inside_a_request_s_activity_carry_no_exemplar()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddMdsDefaults("exemplar-test");
        var counter = Metrics.CreateCounter("mds_test_exemplar_total", "Test counter.");
        var histogram = Metrics.CreateHistogram("mds_test_exemplar_seconds", "Test histogram.");
        using (new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start())
        {
            counter.Inc();
            histogram.Observe(0.01);
        }

        using var stream = new MemoryStream();
        await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(stream, ExpositionFormat.OpenMetricsText);
        var ours = Encoding.UTF8.GetString(stream.ToArray()).Split('\n').Where(l => l.StartsWith("mds_test_exemplar", StringComparison.Ordinal)).ToList();
        Assert.Contains(ours, l => l.StartsWith("mds_test_exemplar_total 1", StringComparison.Ordinal));
        Assert.DoesNotContain(ours, l => l.Contains("trace_id", StringComparison.Ordinal));
    }
}
