using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// docker-compose.yml against the exposure docs/security.md and docs/operations.md promise: only the portal and the
/// gateway are published; PostgreSQL, the migrator, workers, Prometheus, Grafana and Jaeger sit on an internal network
/// with no route out; Grafana has no default password; only the migrator holds the database owner's password. The
/// opt-in operator overlays publish on loopback only. Reads the YAML as written (anchors and <c>&lt;&lt;</c> merges
/// followed), so it needs no Docker.
/// </summary>
public sealed partial class ComposeExposureTests
{
    private static readonly string RepoRoot = DashboardTests.FindRepoRoot();

    /// <summary>The published services and exactly the ports docs/operations.md documents for them.</summary>
    private static readonly Dictionary<string, string[]> Published = new(StringComparer.Ordinal)
    {
        ["portal"] = ["${MDS_PORTAL_PORT:-5000}:8080"],
        ["backend"] = ["${MDS_BACKEND_PORT:-5080}:8080", "${MDS_BACKEND_GRPC_PORT:-5081}:8081"],
    };

    [Fact]
    public void Compose_publishes_only_the_portal_and_the_gateway()
    {
        var services = Services(Load("docker-compose.yml"));
        Assert.Contains("postgres", services.Keys);
        foreach (var (name, service) in services)
        {
            Assert.True(Get(service, "network_mode") is null, $"{name} sets network_mode, which bypasses the compose networks");
            Assert.True(Get(service, "expose") is null || Published.ContainsKey(name), $"{name} exposes ports");
            var ports = Get(service, "ports") is YamlSequenceNode seq ? seq.Children.Select(Scalar).ToArray() : [];
            if (Published.TryGetValue(name, out var documented))
            {
                Assert.Equal(documented, ports);
            }
            else
            {
                Assert.True(ports.Length == 0, $"{name} publishes {string.Join(", ", ports)}; only the portal and the backend may");
            }
        }
    }

    [Fact]
    public void Compose_keeps_the_database_workers_and_observability_on_the_internal_network_only()
    {
        var services = Services(Load("docker-compose.yml"));
        foreach (var required in new[] { "postgres", "migrate", "worker-0", "worker-1", "prometheus", "grafana", "jaeger" })
        {
            Assert.Contains(required, services.Keys);
        }

        foreach (var (name, service) in services)
        {
            var networks = Networks(service);
            string[] expected = Published.ContainsKey(name) ? ["edge", "internal"] : ["internal"];
            Assert.True(expected.SequenceEqual(networks), $"{name} is on [{string.Join(", ", networks)}], expected [{string.Join(", ", expected)}]");
        }
    }

    [Fact]
    public void Compose_internal_network_has_no_route_out()
    {
        var networks = (YamlMappingNode)Load("docker-compose.yml").Children[new YamlScalarNode("networks")];
        var network = (YamlMappingNode)networks.Children[new YamlScalarNode("internal")];
        Assert.Equal("true", Scalar(Get(network, "internal")!));
        Assert.Null(Get(network, "external"));
        Assert.Null(Get(network, "driver"));
    }

    [Fact]
    public void Compose_grafana_has_no_default_admin_password()
    {
        var grafana = Services(Load("docker-compose.yml"))["grafana"];
        var env = Environment(grafana);
        Assert.True(env.TryGetValue("GF_SECURITY_ADMIN_PASSWORD", out var password), "grafana's admin password is not set, so it is admin/admin");
        // ${VAR:?message} or ${VAR?message}: compose refuses to start without it; no literal, no ${VAR:-default}.
        Assert.Matches(RequiredVariable(), password);
        Assert.DoesNotContain(env.Keys, k => k.StartsWith("GF_AUTH_ANONYMOUS", StringComparison.Ordinal));
    }

    [Fact]
    public void Compose_gives_the_database_owners_password_only_to_the_migrator()
    {
        var services = Services(Load("docker-compose.yml"));
        foreach (var (name, service) in services)
        {
            bool holdsOwnerPassword = Scalars(service).Any(s => s.Contains("MDS_POSTGRES_PASSWORD", StringComparison.Ordinal));
            Assert.True(!holdsOwnerPassword || name is "migrate" or "postgres", $"{name} gets the owner's password (MDS_POSTGRES_PASSWORD)");
        }

        Assert.Contains("Username=mds_backend;", Environment(services["backend"])["ConnectionStrings__Mds"], StringComparison.Ordinal);
        foreach (var worker in services.Keys.Where(n => n.StartsWith("worker-", StringComparison.Ordinal)))
        {
            Assert.Contains("Username=mds_worker;", Environment(services[worker])["ConnectionStrings__Mds"], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("deploy/compose.ops.yml")]
    [InlineData("deploy/compose.main-host.yml")]
    public void Compose_operator_overlays_publish_on_loopback_by_default(string file)
    {
        var services = Services(Load(file));
        Assert.NotEmpty(services);
        foreach (var (name, service) in services)
        {
            Assert.DoesNotContain(name, Published.Keys);
            foreach (var port in Get(service, "ports") is YamlSequenceNode seq ? seq.Children.Select(Scalar) : [])
            {
                Assert.Matches(LoopbackByDefault(), port);
            }
        }
    }

    // "127.0.0.1:…" or "${VAR:-127.0.0.1:…}:…": loopback unless the operator names another address.
    [GeneratedRegex(@"^(127\.0\.0\.1:|\$\{[A-Z0-9_]+:-127\.0\.0\.1:)")]
    private static partial Regex LoopbackByDefault();

    [GeneratedRegex(@"^\$\{[A-Z0-9_]+:?\?[^}]*\}$")]
    private static partial Regex RequiredVariable();

    private static YamlMappingNode Load(string relativePath)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(Path.Combine(RepoRoot, relativePath)));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static Dictionary<string, YamlMappingNode> Services(YamlMappingNode root) =>
        ((YamlMappingNode)root.Children[new YamlScalarNode("services")]).Children
            .ToDictionary(kv => Scalar(kv.Key), kv => (YamlMappingNode)kv.Value, StringComparer.Ordinal);

    /// <summary>A key of a mapping, or of the mappings merged into it with <c>&lt;&lt;</c> (the mapping's own key wins).</summary>
    private static YamlNode? Get(YamlMappingNode mapping, string key)
    {
        if (mapping.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            return value;
        }

        return Merged(mapping).Select(m => Get(m, key)).FirstOrDefault(v => v is not null);
    }

    private static IEnumerable<YamlMappingNode> Merged(YamlMappingNode mapping) =>
        mapping.Children.TryGetValue(new YamlScalarNode("<<"), out var merge)
            ? merge switch
            {
                YamlMappingNode m => [m],
                YamlSequenceNode s => s.Children.OfType<YamlMappingNode>(),
                _ => [],
            }
            : [];

    /// <summary>A service's networks, sorted, whether written as a list or a mapping.</summary>
    private static string[] Networks(YamlMappingNode service) =>
        Get(service, "networks") switch
        {
            YamlSequenceNode s => s.Children.Select(Scalar).Order(StringComparer.Ordinal).ToArray(),
            YamlMappingNode m => m.Children.Keys.Select(Scalar).Order(StringComparer.Ordinal).ToArray(),
            _ => [],
        };

    /// <summary>A service's environment with merged entries, whether written as a mapping or as KEY=VALUE lines.</summary>
    private static Dictionary<string, string> Environment(YamlMappingNode service)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (Get(service, "environment"))
        {
            case YamlMappingNode m:
                Flatten(m, env);
                break;
            case YamlSequenceNode s:
                foreach (var line in s.Children.Select(Scalar))
                {
                    int eq = line.IndexOf('=', StringComparison.Ordinal);
                    env[eq < 0 ? line : line[..eq]] = eq < 0 ? "" : line[(eq + 1)..];
                }

                break;
        }

        return env;
    }

    private static void Flatten(YamlMappingNode mapping, Dictionary<string, string> into)
    {
        foreach (var merged in Merged(mapping))
        {
            Flatten(merged, into);
        }

        foreach (var (key, value) in mapping.Children)
        {
            if (Scalar(key) != "<<")
            {
                into[Scalar(key)] = value is YamlScalarNode s ? s.Value ?? "" : value.ToString();
            }
        }
    }

    /// <summary>Every scalar under a node, through merges and aliases (an alias is the anchored node itself).</summary>
    private static IEnumerable<string> Scalars(YamlNode node) =>
        node switch
        {
            YamlScalarNode s => [s.Value ?? ""],
            YamlSequenceNode s => s.Children.SelectMany(Scalars),
            YamlMappingNode m => m.Children.SelectMany(kv => Scalars(kv.Key).Concat(Scalars(kv.Value))),
            _ => [],
        };

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";
}
