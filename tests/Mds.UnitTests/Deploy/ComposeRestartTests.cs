using YamlDotNet.RepresentationModel;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// docker-compose.yml heals itself like ./mds up: every long-running service restarts unless stopped, has a health
/// check (Jaeger's image has no shell to run one), and waits for what it depends on to be healthy (or, for the
/// migrator, done), so a crashed container comes back and nothing starts against a database that is not ready.
/// </summary>
public sealed partial class ComposeExposureTests
{
    private static readonly HashSet<string> OneShot = ["migrate"];
    private static readonly HashSet<string> NoHealthCheck = ["migrate", "jaeger"];

    [Fact]
    public void A_crashed_container_is_restarted_unless_an_operator_stopped_it()
    {
        foreach (var (name, service) in Services(Load("docker-compose.yml")))
        {
            string expected = OneShot.Contains(name) ? "no" : "unless-stopped";
            Assert.True(Get(service, "restart") is YamlScalarNode { Value: var policy } && policy == expected, $"{name}: restart should be {expected}");
        }
    }

    [Fact]
    public void Every_service_that_can_be_checked_has_a_health_check_and_dependencies_wait_for_health()
    {
        var services = Services(Load("docker-compose.yml"));
        foreach (var (name, service) in services)
        {
            Assert.True(NoHealthCheck.Contains(name) || Get(service, "healthcheck") is YamlMappingNode, $"{name} has no health check");
            if (Get(service, "depends_on") is not { } dependsOn)
            {
                continue;
            }

            Assert.True(dependsOn is YamlMappingNode, $"{name}: depends_on should name a condition per dependency");
            foreach (var (key, value) in ((YamlMappingNode)dependsOn).Children)
            {
                string dependency = Scalar(key);
                string condition = Scalar(Get((YamlMappingNode)value, "condition")!);
                string expected = OneShot.Contains(dependency) ? "service_completed_successfully"
                    : NoHealthCheck.Contains(dependency) ? "service_started" : "service_healthy";
                Assert.True(condition == expected, $"{name} waits for {dependency} to be {condition}; expected {expected}");
            }
        }
    }
}
