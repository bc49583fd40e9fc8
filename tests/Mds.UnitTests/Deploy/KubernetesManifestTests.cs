using System.Diagnostics;
using System.Reflection;
using YamlDotNet.RepresentationModel;

namespace Mds.UnitTests.Deploy;

/// <summary>
/// deploy/kubernetes rendered as an operator would (<c>kubectl kustomize overlays/…</c>) and read back: every MDS
/// workload is probed on a health route the hosts really map, has resources and runs as non-root on a read-only root
/// file system; every environment variable it sets is a configuration key its host reads (so a renamed option cannot
/// silently fall back to its default); container ports match the Services that select them; the workers and PostgreSQL
/// are fenced by NetworkPolicies. Needs kubectl (skipped, saying so, where it is not installed).
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly string RepoRoot = DashboardTests.FindRepoRoot();

    public static TheoryData<string> Overlays => new() { "dev", "production" };

    /// <summary>
    /// The health routes each host maps, with the source file and the literal that maps it (checked below, so a moved
    /// or renamed route fails here rather than in a cluster's restart loop).
    /// </summary>
    private static readonly (string Path, string File, string[] Literals)[] HealthRoutes =
    [
        ("/healthz", "src/Mds.ServiceDefaults/ServiceDefaultsExtensions.cs", ["MapHealthChecks(\"/healthz\""]),
        ("/v2/health/live", "src/Mds.Backend/Gateway/GatewayApi.cs", ["MapGroup(\"/v2\")", "v2.MapGet(\"/health/live\""]),
        ("/v2/health/ready", "src/Mds.Backend/Gateway/GatewayApi.cs", ["MapGroup(\"/v2\")", "v2.MapGet(\"/health/ready\""]),
        ("/v2/health/live", "src/Mds.Workers/Inference/InferenceApi.cs", ["MapGroup(\"/v2\")", "v2.MapGet(\"/health/live\""]),
        ("/v2/health/ready", "src/Mds.Workers/Inference/InferenceApi.cs", ["MapGroup(\"/v2\")", "v2.MapGet(\"/health/ready\""]),
    ];

    /// <summary>Which probe paths each MDS image may use: /healthz everywhere, the V2 health routes on backend and workers.</summary>
    private static readonly Dictionary<string, string[]> ProbePaths = new(StringComparer.Ordinal)
    {
        ["mds-backend"] = ["/healthz", "/v2/health/live", "/v2/health/ready"],
        ["mds-workers"] = ["/healthz", "/v2/health/live", "/v2/health/ready"],
        ["mds-portal"] = ["/healthz"],
        ["mds-migrations"] = [],
    };

    [Fact]
    public void Health_routes_the_manifests_probe_are_mapped_by_the_hosts()
    {
        foreach (var (path, file, literals) in HealthRoutes)
        {
            string source = File.ReadAllText(Path.Combine(RepoRoot, file));
            foreach (var literal in literals)
            {
                Assert.True(source.Contains(literal, StringComparison.Ordinal), $"{file} no longer maps {path} ({literal})");
            }
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Every_MDS_workload_has_probes_on_mapped_routes_resources_and_runs_non_root(string overlay)
    {
        var docs = Render(overlay);
        var workloads = Workloads(docs).ToList();
        Assert.Contains(workloads, w => w.Kind == "StatefulSet" && w.Name == "mds-worker");
        Assert.Contains(workloads, w => w.Kind == "Deployment" && w.Name == "mds-backend");
        Assert.Contains(workloads, w => w.Kind == "Deployment" && w.Name == "mds-portal");
        Assert.Contains(workloads, w => w.Kind == "Job" && w.Name == "mds-migrate");

        foreach (var w in workloads)
        {
            var podSecurity = Map(w.PodSpec, "securityContext");
            foreach (var c in Containers(w.PodSpec))
            {
                string where = $"{overlay}: {w.Kind}/{w.Name} container {Str(c, "name")}";
                var resources = Map(c, "resources");
                Assert.True(Map(resources, "requests") is { Children.Count: > 0 }, $"{where} has no resource requests");
                Assert.True(Str(Map(resources, "limits"), "memory") is not null, $"{where} has no memory limit");
                var security = Map(c, "securityContext");
                Assert.True(Str(security, "runAsNonRoot") == "true" || Str(podSecurity, "runAsNonRoot") == "true", $"{where} may run as root");
                Assert.True(Str(security, "allowPrivilegeEscalation") == "false", $"{where} allows privilege escalation");
                Assert.True(Str(security, "readOnlyRootFilesystem") == "true", $"{where} has a writable root file system");

                if (w.Kind == "Job")
                {
                    continue;
                }

                foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
                {
                    Assert.True(Map(c, probe) is not null, $"{where} has no {probe}");
                }

                string? image = MdsImage(c);
                if (image is null)
                {
                    continue; // PostgreSQL, NATS: their own health checks
                }

                foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
                {
                    if (Map(c, probe) is not { } p)
                    {
                        continue;
                    }

                    string? path = Str(Map(p, "httpGet"), "path");
                    Assert.True(path is not null, $"{where} {probe} is not an HTTP probe");
                    Assert.True(ProbePaths[image].Contains(path), $"{where} {probe} probes {path}, which {image} does not map");
                }
            }
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Every_environment_variable_set_on_an_MDS_host_is_an_option_it_reads(string overlay)
    {
        int checkedCount = 0;
        foreach (var w in Workloads(Render(overlay)))
        {
            foreach (var c in Containers(w.PodSpec))
            {
                if (MdsImage(c) is not { } image)
                {
                    continue;
                }

                foreach (var name in (Seq(c, "env")?.Children ?? []).Cast<YamlMappingNode>().Select(e => Str(e, "name")!))
                {
                    Assert.True(Reads(image, name), $"{overlay}: {w.Kind}/{w.Name} sets {name}, which {image} does not read");
                    checkedCount++;
                }
            }
        }

        Assert.True(checkedCount > 20, $"only {checkedCount} variables were checked");
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Services_select_pods_and_target_their_container_ports(string overlay)
    {
        var docs = Render(overlay);
        var workloads = Workloads(docs).ToList();
        foreach (var service in docs.Where(d => Str(d, "kind") == "Service"))
        {
            string name = Str(Map(service, "metadata"), "name")!;
            var selector = Labels(Map(Map(service, "spec"), "selector"));
            Assert.True(selector.Count > 0, $"{overlay}: Service {name} selects nothing");
            var selected = workloads.Where(w => selector.All(kv => w.PodLabels.TryGetValue(kv.Key, out var v) && v == kv.Value)).ToList();
            Assert.True(selected.Count > 0, $"{overlay}: Service {name} selects no pod template");
            foreach (var port in Seq(Map(service, "spec"), "ports")!.Children.Cast<YamlMappingNode>())
            {
                string target = Str(port, "targetPort") ?? Str(port, "port")!;
                foreach (var w in selected)
                {
                    var containerPorts = Containers(w.PodSpec).SelectMany(c => (Seq(c, "ports")?.Children ?? []).Cast<YamlMappingNode>()).ToList();
                    Assert.True(containerPorts.Any(p => Str(p, "name") == target || Str(p, "containerPort") == target),
                        $"{overlay}: Service {name} targets port {target}, which {w.Kind}/{w.Name} does not expose");
                }
            }
        }

        foreach (var w in workloads.Where(w => w.Kind != "Job"))
        {
            var matchLabels = Labels(Map(Map(Map(w.Doc, "spec"), "selector"), "matchLabels"));
            Assert.True(matchLabels.Count > 0 && matchLabels.All(kv => w.PodLabels.GetValueOrDefault(kv.Key) == kv.Value),
                $"{overlay}: {w.Kind}/{w.Name}'s selector does not match its pod labels");
        }

        foreach (var ingress in docs.Where(d => Str(d, "kind") == "Ingress"))
        {
            foreach (var rule in Seq(Map(ingress, "spec"), "rules")!.Children.Cast<YamlMappingNode>())
            {
                foreach (var path in Seq(Map(rule, "http"), "paths")!.Children.Cast<YamlMappingNode>())
                {
                    var svc = Map(Map(path, "backend"), "service")!;
                    string svcName = Str(svc, "name")!;
                    var target = docs.SingleOrDefault(d => Str(d, "kind") == "Service" && Str(Map(d, "metadata"), "name") == svcName);
                    Assert.True(target is not null, $"{overlay}: an Ingress routes to Service {svcName}, which does not exist");
                    string port = Str(Map(svc, "port"), "name") ?? Str(Map(svc, "port"), "number")!;
                    Assert.Contains(Seq(Map(target, "spec"), "ports")!.Children.Cast<YamlMappingNode>(), p => Str(p, "name") == port || Str(p, "port") == port);
                }
            }
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Only_the_backend_reaches_workers_and_only_MDS_reaches_PostgreSQL(string overlay)
    {
        var policies = Render(overlay).Where(d => Str(d, "kind") == "NetworkPolicy")
            .ToDictionary(d => Str(Map(d, "metadata"), "name")!, StringComparer.Ordinal);

        var worker = Assert.Contains("mds-worker", policies);
        Assert.Equal("worker", Labels(Map(Map(Map(worker, "spec"), "podSelector"), "matchLabels"))["app.kubernetes.io/component"]);
        var workerFrom = PeerPodComponents(worker);
        Assert.Equal(["backend"], workerFrom);

        var postgres = Assert.Contains("mds-postgresql", policies);
        Assert.Equal("true", Labels(Map(Map(Map(postgres, "spec"), "podSelector"), "matchLabels"))["mds.io/database"]);
        Assert.Equal(["backend", "migrate", "worker"], PeerPodComponents(postgres).Where(c => c != "database").Order(StringComparer.Ordinal));

        var nats = Assert.Contains("mds-nats", policies);
        Assert.Equal(["backend"], PeerPodComponents(nats).Where(c => c != "nats"));

        if (overlay == "dev")
        {
            var db = Workloads(Render(overlay)).Single(w => w.Name == "mds-postgresql");
            Assert.Equal("true", db.PodLabels["mds.io/database"]);
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Only_the_migrator_holds_the_database_owners_connection_string(string overlay)
    {
        foreach (var w in Workloads(Render(overlay)))
        {
            foreach (var c in Containers(w.PodSpec))
            {
                foreach (var env in (Seq(c, "env")?.Children ?? []).Cast<YamlMappingNode>())
                {
                    string? key = Str(Map(Map(env, "valueFrom"), "secretKeyRef"), "key");
                    if (key is "owner-connection-string" or "backend-db-password" or "worker-db-password")
                    {
                        Assert.True(w.Name == "mds-migrate", $"{overlay}: {w.Kind}/{w.Name} gets {key}");
                    }
                }
            }
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Overlays))]
    public void Workers_are_named_after_their_stable_pods_and_sized_by_their_memory_request(string overlay)
    {
        var docs = Render(overlay);
        var workers = Workloads(docs).Where(w => MdsImage(Containers(w.PodSpec).First()) == "mds-workers").ToList();
        Assert.NotEmpty(workers);
        foreach (var w in workers)
        {
            Assert.Equal("StatefulSet", w.Kind);
            string serviceName = Str(Map(w.Doc, "spec"), "serviceName")!;
            var headless = docs.Single(d => Str(d, "kind") == "Service" && Str(Map(d, "metadata"), "name") == serviceName);
            Assert.Equal("None", Str(Map(headless, "spec"), "clusterIP"));

            var env = Seq(Containers(w.PodSpec).Single(), "env")!.Children.Cast<YamlMappingNode>().ToList();
            int nameAt = env.FindIndex(e => Str(e, "name") == "Mds__Worker__Name");
            Assert.True(nameAt >= 0, $"{overlay}: {w.Name} does not set Mds__Worker__Name");
            Assert.Equal("metadata.name", Str(Map(Map(env[nameAt], "valueFrom"), "fieldRef"), "fieldPath"));
            foreach (var (key, port) in new[] { ("Mds__Worker__PublicUrl", 8080), ("Mds__Worker__GrpcUrl", 8081) })
            {
                int at = env.FindIndex(e => Str(e, "name") == key);
                Assert.True(at > nameAt, $"{overlay}: {w.Name} sets {key} before the name it refers to (or not at all)");
                Assert.Equal($"http://$(Mds__Worker__Name).{serviceName}:{port}", Str(env[at], "value"));
            }

            var memory = env.Single(e => Str(e, "name") == "Mds__Worker__MemoryCapacityMb");
            var field = Map(Map(memory, "valueFrom"), "resourceFieldRef")!;
            Assert.Equal("requests.memory", Str(field, "resource"));
            Assert.Equal("1Mi", Str(field, "divisor"));
        }
    }

    [KubectlFact]
    public void Production_runs_two_backends_a_nats_cluster_of_three_gpu_workers_and_disruption_budgets()
    {
        var docs = Render("production");
        var workloads = Workloads(docs).ToDictionary(w => w.Name, StringComparer.Ordinal);
        Assert.Equal("2", Str(Map(workloads["mds-backend"].Doc, "spec"), "replicas"));
        Assert.Equal("3", Str(Map(workloads["mds-nats"].Doc, "spec"), "replicas"));
        Assert.DoesNotContain(docs, d => Str(d, "kind") == "Secret"); // the operator creates mds-secrets
        Assert.DoesNotContain("mds-postgresql", workloads.Keys);

        var gpu = Containers(workloads["mds-worker-gpu"].PodSpec).Single();
        Assert.Equal("1", Str(Map(Map(gpu, "resources"), "limits"), "nvidia.com/gpu"));
        Assert.EndsWith("-cuda", Str(gpu, "image"), StringComparison.Ordinal);
        Assert.NotNull(Map(workloads["mds-worker-gpu"].PodSpec, "nodeSelector"));
        var env = (Seq(gpu, "env")!.Children).Cast<YamlMappingNode>().ToDictionary(e => Str(e, "name")!, e => Str(e, "value"));
        Assert.Contains("gpu", env["Mds__Worker__Capabilities"], StringComparison.Ordinal);

        var budgets = docs.Where(d => Str(d, "kind") == "PodDisruptionBudget").Select(d => Str(Map(d, "metadata"), "name")).ToList();
        Assert.Contains("mds-backend", budgets);
        Assert.Contains("mds-worker", budgets);

        var hpa = Assert.Single(docs, d => Str(d, "kind") == "HorizontalPodAutoscaler");
        Assert.Equal("mds-worker", Str(Map(Map(hpa, "spec"), "scaleTargetRef"), "name"));
    }

    /// <summary>
    /// Threat: the GPU pool runs an image nobody builds, or the CPU one (which refuses the CUDA provider at start).
    /// The GPU StatefulSet names the image <c>mds-workers-cuda</c> and asks for a GPU; production maps that name to a
    /// <c>-cuda</c> tag of mds-workers; deploy/Dockerfile's <c>workers-cuda</c> target publishes the worker with
    /// <c>-p:MdsGpu=true</c> on a CUDA 12 + cuDNN 9 base and runs it as the non-root user. Read from the files, no kubectl.
    /// </summary>
    [Fact]
    public void The_gpu_worker_runs_the_cuda_image_the_Dockerfile_builds_and_asks_for_a_gpu()
    {
        string overlay = Path.Combine(RepoRoot, "deploy", "kubernetes", "overlays", "production");
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(overlay, "workers-gpu.yaml"))));
        var set = stream.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(d => Str(d, "kind") == "StatefulSet");
        var container = Containers(Map(Map(Map(set, "spec"), "template"), "spec")!).Single();
        Assert.Equal("mds-workers-cuda", Str(container, "image"));
        var resources = Map(container, "resources");
        Assert.Equal("1", Str(Map(resources, "limits"), "nvidia.com/gpu"));

        var kustomization = new YamlStream();
        kustomization.Load(new StringReader(File.ReadAllText(Path.Combine(overlay, "kustomization.yaml"))));
        var images = Seq((YamlMappingNode)kustomization.Documents[0].RootNode, "images")!.Children.Cast<YamlMappingNode>();
        var cuda = images.Single(i => Str(i, "name") == "mds-workers-cuda");
        Assert.EndsWith("/mds-workers", Str(cuda, "newName"), StringComparison.Ordinal);
        Assert.EndsWith("-cuda", Str(cuda, "newTag"), StringComparison.Ordinal);

        var stages = DockerStages(File.ReadAllText(Path.Combine(RepoRoot, "deploy", "Dockerfile")));
        var (from, body) = stages["workers-cuda"];
        Assert.Equal("${CUDA_IMAGE}", from);
        Assert.Matches(@"(?m)^ARG CUDA_IMAGE=nvidia/cuda:12\.[0-9.]+-cudnn-runtime-", File.ReadAllText(Path.Combine(RepoRoot, "deploy", "Dockerfile")));
        Assert.Contains("COPY --from=build-cuda /out/Mds.Workers .", body, StringComparison.Ordinal);
        Assert.Contains("USER $APP_UID", body, StringComparison.Ordinal);
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"Mds.Workers.dll\"]", body, StringComparison.Ordinal);
        Assert.Contains("-p:MdsGpu=true", stages["build-cuda"].Body, StringComparison.Ordinal);
        Assert.DoesNotContain("MdsGpu", stages["build"].Body, StringComparison.Ordinal);
    }

    /// <summary>deploy/Dockerfile's stages by name: the image each starts from and its lines.</summary>
    private static Dictionary<string, (string From, string Body)> DockerStages(string dockerfile)
    {
        var stages = new Dictionary<string, (string From, string Body)>(StringComparer.Ordinal);
        var matches = System.Text.RegularExpressions.Regex.Matches(dockerfile, @"(?m)^FROM\s+(\S+)\s+AS\s+(\S+)\s*$");
        for (int i = 0; i < matches.Count; i++)
        {
            int end = i + 1 < matches.Count ? matches[i + 1].Index : dockerfile.Length;
            stages[matches[i].Groups[2].Value] = (matches[i].Groups[1].Value, dockerfile[matches[i].Index..end]);
        }

        return stages;
    }

    // ---- what the hosts read ----

    /// <summary>The options classes each host binds, by configuration section (as their setup code binds them).</summary>
    private static readonly Dictionary<string, (string Section, Type Type)[]> OptionsByImage = new(StringComparer.Ordinal)
    {
        ["mds-backend"] =
        [
            ("Mds:Registry", typeof(Mds.Backend.Registry.RegistryOptions)),
            ("Mds:Scheduler", typeof(Mds.Backend.Scheduling.SchedulerOptions)),
            (Mds.Backend.Gateway.GatewayOptions.Section, typeof(Mds.Backend.Gateway.GatewayOptions)),
            ("Mds:Auth", typeof(Mds.Backend.Auth.AuthOptions)),
            ("Mds:Auth", typeof(Mds.Backend.Auth.SessionOptions)),
            ("Mds:Cluster", typeof(Mds.Backend.Auth.ClusterOptions)),
            ("Mds:Admin", typeof(Mds.Backend.Auth.AdminOptions)),
            ("Mds:Inference", typeof(Mds.Backend.Auth.InferenceOptions)),
            (Mds.Backend.Streams.StreamingOptions.Section, typeof(Mds.Backend.Streams.StreamingOptions)),
            ("Mds:Images", typeof(Mds.Backend.Images.ImageOptions)),
            ("Mds:Batch", typeof(Mds.Backend.Batches.BatchOptions)),
            ("Mds:Drift", typeof(Mds.Backend.Drift.DriftOptions)),
            ("Mds:Audit", typeof(Mds.Backend.Audit.AuditRetentionOptions)),
        ],
        ["mds-workers"] =
        [
            (Mds.Workers.WorkerOptions.Section, typeof(Mds.Workers.WorkerOptions)),
            (Mds.Workers.Cluster.ClusterOptions.Section, typeof(Mds.Workers.Cluster.ClusterOptions)),
            (Mds.Workers.Audit.AuditOptions.Section, typeof(Mds.Workers.Audit.AuditOptions)),
        ],
        ["mds-portal"] = [(Mds.Portal.PortalOptions.Section, typeof(Mds.Portal.PortalOptions))],
        ["mds-migrations"] = [],
    };

    /// <summary>Keys read outside the options classes.</summary>
    private static readonly Dictionary<string, string[]> OtherKeysByImage = new(StringComparer.Ordinal)
    {
        // RegistrySetup: builder.Configuration["Mds:DataDirectory"].
        ["mds-backend"] = ["ConnectionStrings:Mds", "Mds:DataDirectory"],
        // ClusterExtensions: the connection string "Mds" when Mds:Cluster:ConnectionString is unset.
        ["mds-workers"] = ["ConnectionStrings:Mds"],
        ["mds-portal"] = [],
        // migrations/Mds.Migrations/Program.cs reads these three with Environment.GetEnvironmentVariable.
        ["mds-migrations"] = ["ConnectionStrings__Mds", "MDS_BACKEND_DB_PASSWORD", "MDS_WORKER_DB_PASSWORD"],
    };

    /// <summary>Prefixes every ASP.NET Core host reads (logging, Kestrel, the runtime, OpenTelemetry's exporter).</summary>
    private static readonly string[] HostPrefixes = ["Logging:", "ASPNETCORE_", "DOTNET_", "OTEL_"];

    private static bool Reads(string image, string envName)
    {
        if (image == "mds-migrations")
        {
            return OtherKeysByImage[image].Contains(envName, StringComparer.Ordinal);
        }

        string key = envName.Replace("__", ":", StringComparison.Ordinal);
        if (HostPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            || OtherKeysByImage[image].Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        return OptionsByImage[image].Any(o => Keys(o.Section, o.Type, 0).Any(k => k.EndsWith(':')
            ? key.StartsWith(k, StringComparison.OrdinalIgnoreCase)
            : string.Equals(k, key, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>Every key an options type binds under a section; a dictionary gives a prefix (ending in ':').</summary>
    private static IEnumerable<string> Keys(string section, Type type, int depth)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite || p.PropertyType.IsGenericType))
        {
            string key = section + ":" + p.Name;
            var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                yield return key + ":";
            }
            else if (depth < 3 && t.IsClass && t != typeof(string) && t != typeof(Uri) && !t.IsArray && !t.IsGenericType && p.CanWrite)
            {
                foreach (var nested in Keys(key, t, depth + 1))
                {
                    yield return nested;
                }
            }
            else if (p.CanWrite)
            {
                yield return key;
            }
        }
    }

    // ---- rendering and reading ----

    private sealed record Workload(string Kind, string Name, YamlMappingNode Doc, YamlMappingNode PodSpec, Dictionary<string, string> PodLabels);

    private static readonly Dictionary<string, List<YamlMappingNode>> Rendered = new(StringComparer.Ordinal);

    private static List<YamlMappingNode> Render(string overlay)
    {
        lock (Rendered)
        {
            if (Rendered.TryGetValue(overlay, out var cached))
            {
                return cached;
            }

            var start = new ProcessStartInfo("kubectl", ["kustomize", Path.Combine(RepoRoot, "deploy", "kubernetes", "overlays", overlay)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string yaml = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"kubectl kustomize overlays/{overlay} failed: {stderr.Result}");

            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            var docs = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
            Assert.NotEmpty(docs);
            Rendered[overlay] = docs;
            return docs;
        }
    }

    private static IEnumerable<Workload> Workloads(List<YamlMappingNode> docs)
    {
        foreach (var d in docs)
        {
            string? kind = Str(d, "kind");
            if (kind is "Deployment" or "StatefulSet" or "Job")
            {
                var template = Map(Map(d, "spec"), "template")!;
                yield return new Workload(kind, Str(Map(d, "metadata"), "name")!, d, Map(template, "spec")!,
                    Labels(Map(Map(template, "metadata"), "labels")));
            }
        }
    }

    private static IEnumerable<YamlMappingNode> Containers(YamlMappingNode podSpec) =>
        (Seq(podSpec, "initContainers")?.Children ?? []).Concat(Seq(podSpec, "containers")!.Children).Cast<YamlMappingNode>();

    /// <summary>The MDS image a container runs (deploy/Dockerfile's target), or null for a third-party one.</summary>
    private static string? MdsImage(YamlMappingNode container)
    {
        string image = Str(container, "image")!;
        string name = image.Split('/')[^1].Split(':')[0];
        return OptionsByImage.ContainsKey(name) ? name : null;
    }

    /// <summary>The <c>app.kubernetes.io/component</c> values a policy's ingress rules admit by pod selector.</summary>
    private static List<string> PeerPodComponents(YamlMappingNode policy)
    {
        var components = new List<string>();
        foreach (var rule in Seq(Map(policy, "spec"), "ingress")!.Children.Cast<YamlMappingNode>())
        {
            foreach (var peer in Seq(rule, "from")!.Children.Cast<YamlMappingNode>())
            {
                if (Map(peer, "podSelector") is not { } selector || Map(peer, "namespaceSelector") is not null)
                {
                    continue;
                }

                Assert.True(Map(peer, "ipBlock") is null, "a policy admits an IP block");
                var labels = Labels(Map(selector, "matchLabels"));
                if (labels.TryGetValue("app.kubernetes.io/component", out var c))
                {
                    components.Add(c);
                }
                else if (labels.TryGetValue("mds.io/database", out _))
                {
                    components.Add("database");
                }

                foreach (var expr in (Seq(selector, "matchExpressions")?.Children ?? []).Cast<YamlMappingNode>())
                {
                    Assert.Equal("app.kubernetes.io/component", Str(expr, "key"));
                    Assert.Equal("In", Str(expr, "operator"));
                    components.AddRange(Seq(expr, "values")!.Children.Select(v => ((YamlScalarNode)v).Value!));
                }
            }
        }

        return components;
    }

    private static Dictionary<string, string> Labels(YamlMappingNode? node) =>
        node?.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? "", StringComparer.Ordinal)
        ?? new Dictionary<string, string>(StringComparer.Ordinal);

    private static YamlMappingNode? Map(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlMappingNode : null;

    private static YamlSequenceNode? Seq(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlSequenceNode : null;

    private static string? Str(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? (v as YamlScalarNode)?.Value : null;
}

/// <summary>Whether <c>kubectl</c> is on the PATH (the manifest tests render with it).</summary>
internal static class Kubectl
{
    public static readonly bool Found = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Any(dir => File.Exists(Path.Combine(dir, "kubectl")));

    public const string SkipReason = "kubectl is not installed: deploy/kubernetes was not rendered or checked (install kubectl to run these tests)";
}

/// <summary>A fact skipped, with the reason, where kubectl is absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KubectlFactAttribute : FactAttribute
{
    /// <summary>Skips when kubectl is absent.</summary>
    public KubectlFactAttribute()
    {
        if (!Kubectl.Found)
        {
            Skip = Kubectl.SkipReason;
        }
    }
}

/// <summary>A theory skipped, with the reason, where kubectl is absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KubectlTheoryAttribute : TheoryAttribute
{
    /// <summary>Skips when kubectl is absent.</summary>
    public KubectlTheoryAttribute()
    {
        if (!Kubectl.Found)
        {
            Skip = Kubectl.SkipReason;
        }
    }
}
