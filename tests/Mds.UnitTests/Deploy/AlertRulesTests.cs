using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// deploy/prometheus/alerts.yml: valid for Prometheus (<c>promtool check rules</c>), every alert fired and kept quiet by
/// deploy/prometheus/alerts.test.yml (<c>promtool test rules</c>), loaded by deploy/prometheus.yml, and every metric it
/// or the Grafana dashboard queries one that the code exports, so a renamed instrument cannot leave an alert silent.
/// promtool comes with Debian's <c>prometheus</c> package (<c>./mds test</c> installs it).
/// </summary>
public sealed partial class AlertRulesTests
{
    private static readonly string RepoRoot = DashboardTests.FindRepoRoot();
    private static readonly string RulesDir = Path.Combine(RepoRoot, "deploy", "prometheus");
    private static readonly string Rules = Path.Combine(RulesDir, "alerts.yml");
    private static readonly string RuleTests = Path.Combine(RulesDir, "alerts.test.yml");

    /// <summary>Names Prometheus itself gives every target, which alerts may use beside MDS's own.</summary>
    private static readonly HashSet<string> PrometheusOwn = ["up"];

    [Fact]
    public void Invalid_alert_rules_are_caught_by_promtool_check_rules()
    {
        var (code, output) = Promtool("check", "rules", Rules);
        Assert.True(code == 0, output);
        Assert.Contains($"SUCCESS: {Alerts().Count} rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_alert_that_would_not_fire_or_would_fire_on_healthy_series_fails_promtool_test_rules()
    {
        var (code, output) = Promtool("test", "rules", RuleTests);
        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_alert_without_a_firing_and_a_quiet_test_case_is_caught()
    {
        var cases = new YamlStream();
        cases.Load(new StringReader(File.ReadAllText(RuleTests)));
        var fired = new HashSet<string>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        foreach (var test in Seq(Map(cases.Documents[0].RootNode)["tests"]))
        {
            foreach (var check in Seq(Map(test)["alert_rule_test"]))
            {
                var c = Map(check);
                string alert = Scalar(c["alertname"]);
                bool firing = c.TryGetValue("exp_alerts", out var exp) && Seq(exp).Any();
                (firing ? fired : quiet).Add(alert);
            }
        }

        var alerts = Alerts();
        Assert.True(alerts.Count >= 10, string.Join(", ", alerts.Keys));
        Assert.All(alerts.Keys, alert =>
        {
            Assert.True(fired.Contains(alert), $"alerts.test.yml never expects {alert} to fire");
            Assert.True(quiet.Contains(alert), $"alerts.test.yml never expects {alert} to stay quiet");
        });
        Assert.Empty(fired.Union(quiet).Except(alerts.Keys)); // no test of an alert that no longer exists
    }

    [Fact]
    public void Prometheus_config_without_the_rule_file_or_compose_without_its_mount_is_caught()
    {
        string config = File.ReadAllText(Path.Combine(RepoRoot, "deploy", "prometheus.yml"));
        const string InContainer = "/etc/prometheus/rules/alerts.yml";
        Assert.Contains(InContainer, config, StringComparison.Ordinal);
        Assert.Contains("./deploy/prometheus:/etc/prometheus/rules:ro", File.ReadAllText(Path.Combine(RepoRoot, "docker-compose.yml")), StringComparison.Ordinal);

        // The whole configuration, rules included, as Prometheus will load it (the rule path pointed at this checkout).
        string dir = Directory.CreateTempSubdirectory("mds-prometheus-").FullName;
        try
        {
            string copy = Path.Combine(dir, "prometheus.yml");
            File.WriteAllText(copy, config.Replace(InContainer, Rules, StringComparison.Ordinal));
            var (code, output) = Promtool("check", "config", copy);
            Assert.True(code == 0, output);
            Assert.Contains($"SUCCESS: {Alerts().Count} rules found", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_alert_or_dashboard_panel_on_a_metric_the_code_does_not_export_is_caught()
    {
        var exported = Exported();
        Assert.Contains("mds_gateway_requests_total", exported); // the scan found the instruments at all
        Assert.Contains("mds_inference_duration_seconds_bucket", exported);
        Assert.Contains("mds_worker_state", exported);

        var alerts = Alerts();
        Assert.All(alerts, a =>
        {
            var names = MetricNames(a.Value);
            Assert.NotEmpty(names);
            Assert.All(names, name => Assert.True(exported.Contains(name) || PrometheusOwn.Contains(name),
                $"alert {a.Key} queries {name}, which no instrument in src/ exports"));
        });

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "deploy", "grafana", "dashboards", "mds.json")));
        var queried = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (Panel: p.GetProperty("title").GetString(), Expr: t.GetProperty("expr").GetString()!)))
            .ToList();
        Assert.NotEmpty(queried);
        Assert.All(queried, q => Assert.All(MdsMetric().Matches(q.Expr).Select(m => m.Value), name =>
            Assert.True(exported.Contains(name), $"panel '{q.Panel}' queries {name}, which no instrument in src/ exports")));
    }

    /// <summary>
    /// The series names the code exports: every instrument created in src/ on meter <c>Mds</c> (the only meter the
    /// exporter listens to), named as prometheus-net's MeterAdapter names it: <c>mds_</c> + the instrument's name, as is
    /// (no unit or <c>_total</c> appended: the names carry them); a histogram as <c>_bucket</c>, <c>_sum</c> and
    /// <c>_count</c>. MetricsTests checks this rule against a live scrape.
    /// </summary>
    internal static HashSet<string> Exported()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(RepoRoot, "src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (Match m in Instrument().Matches(File.ReadAllText(file)))
            {
                string name = "mds_" + m.Groups["name"].Value;
                if (m.Groups["kind"].Value == "Histogram")
                {
                    names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                }

                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>Each alert's name and expression.</summary>
    private static Dictionary<string, string> Alerts()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Rules)));
        return Seq(Map(yaml.Documents[0].RootNode)["groups"])
            .SelectMany(g => Seq(Map(g)["rules"]))
            .Select(Map)
            .ToDictionary(r => Scalar(r["alert"]), r => Scalar(r["expr"]), StringComparer.Ordinal);
    }

    /// <summary>The metric names in a PromQL expression: identifiers not followed by <c>(</c> (functions), not label names or keywords.</summary>
    private static HashSet<string> MetricNames(string expr)
    {
        string withoutStrings = Regex.Replace(expr, "\"[^\"]*\"", "\"\"");
        string withoutMatchers = Regex.Replace(withoutStrings, @"\{[^}]*\}", "{}");
        string withoutGroupings = Regex.Replace(withoutMatchers, @"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "");
        string withoutRanges = Regex.Replace(withoutGroupings, @"\[[^\]]*\]", "");
        string[] keywords = ["and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring"];
        return Regex.Matches(withoutRanges, @"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")
            .Select(m => m.Value)
            .Where(n => !keywords.Contains(n) && !char.IsDigit(n[0]) && !Regex.IsMatch(n, @"^\d+[smhdwy]$"))
            .ToHashSet(StringComparer.Ordinal);
    }

    private static (int Code, string Output) Promtool(params string[] args)
    {
        var start = new ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RulesDir };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                "promtool is not installed: `apt-get install --no-install-recommends prometheus` (./mds test installs it)", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "promtool did not finish in 2 minutes");
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    private static IReadOnlyDictionary<string, YamlNode> Map(YamlNode node) =>
        ((YamlMappingNode)node).Children.ToDictionary(kv => Scalar(kv.Key), kv => kv.Value, StringComparer.Ordinal);

    private static IEnumerable<YamlNode> Seq(YamlNode node) => (YamlSequenceNode)node;

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    [GeneratedRegex(@"\.Create(?<kind>Counter|Histogram|ObservableGauge|UpDownCounter|ObservableCounter|ObservableUpDownCounter|Gauge)(?:<\w+>)?\(\s*""(?<name>[a-z_]+)""")]
    private static partial Regex Instrument();

    [GeneratedRegex(@"\bmds_[a-z_]+")]
    private static partial Regex MdsMetric();
}
