using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// The Grafana dashboard (deploy/grafana/dashboards/mds.json) against the metrics table in docs/operations.md: every
/// MDS metric a panel queries is a documented one, so a renamed metric cannot leave a panel silently empty.
/// </summary>
public sealed partial class DashboardTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public void Every_metric_the_dashboard_queries_is_documented()
    {
        var documented = Documented();
        Assert.Contains("mds_inference_requests_total", documented); // the table was found at all
        var queried = Queried();
        Assert.NotEmpty(queried);
        Assert.All(queried, name => Assert.True(documented.Contains(name), $"the dashboard queries {name}, which docs/operations.md does not list"));
    }

    [Fact]
    public void Every_panel_reads_the_provisioned_prometheus_data_source()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "deploy", "grafana", "dashboards", "mds.json")));
        string datasources = File.ReadAllText(Path.Combine(RepoRoot, "deploy", "grafana", "datasources.yml"));
        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.NotEmpty(panels);
        Assert.All(panels, p =>
        {
            string uid = p.GetProperty("datasource").GetProperty("uid").GetString()!;
            Assert.Contains($"uid: {uid}", datasources, StringComparison.Ordinal);
            Assert.NotEmpty(p.GetProperty("targets").EnumerateArray());
        });
    }

    /// <summary>The <c>mds_…</c> names in the first column of docs/operations.md's metrics table.</summary>
    private static HashSet<string> Documented() =>
        File.ReadLines(Path.Combine(RepoRoot, "docs", "operations.md"))
            .Select(line => DocumentedMetric().Match(line))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The MDS metrics in every panel's queries, histogram series (<c>_bucket</c>, <c>_sum</c>, <c>_count</c>) as their histogram's name.</summary>
    private static HashSet<string> Queried()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "deploy", "grafana", "dashboards", "mds.json")));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                foreach (Match m in QueriedMetric().Matches(target.GetProperty("expr").GetString()!))
                {
                    string name = m.Value;
                    names.Add(HistogramSeries().Replace(name, ""));
                }
            }
        }

        return names;
    }

    [GeneratedRegex(@"^\| `(mds_[a-z_]+)` \|")]
    private static partial Regex DocumentedMetric();

    [GeneratedRegex(@"\bmds_[a-z_]+")]
    private static partial Regex QueriedMetric();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();

    internal static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mds.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (Mds.sln) above " + AppContext.BaseDirectory);
    }
}
