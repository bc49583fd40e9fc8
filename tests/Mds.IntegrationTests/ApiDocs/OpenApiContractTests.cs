using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.ApiDocs;

/// <summary>
/// The published contract (docs/openapi.json) is what the backend serves at /openapi/v1.json, so the API changes only
/// on purpose; the document describes how to authenticate and which operations need it; the reference page is served.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class OpenApiContractTests(MdsCluster cluster)
{
    /// <summary>Set to 1 to write the served document to docs/openapi.json instead of comparing (./mds openapi).</summary>
    public const string UpdateVariable = "MDS_UPDATE_OPENAPI";

    private const string Regenerate = "./mds openapi   (or: MDS_UPDATE_OPENAPI=1 dotnet test tests/Mds.IntegrationTests -c Release --no-build --filter FullyQualifiedName~OpenApiContractTests)";

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string CommittedPath => Path.Combine(TestEnvironment.RepoRoot, "docs", "openapi.json");

    [Fact]
    public async Task The_api_contract_cannot_change_without_the_committed_document_changing()
    {
        string served = Canonical(await ServedAsync());
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            await File.WriteAllTextAsync(CommittedPath, served);
            return;
        }

        string committed = File.Exists(CommittedPath) ? (await File.ReadAllTextAsync(CommittedPath)).ReplaceLineEndings("\n") : "";
        if (committed != served)
        {
            Assert.Fail($"docs/openapi.json differs from the document the backend serves at /openapi/v1.json.\n{FirstDifference(committed, served)}\n"
                + $"If the change is intended, regenerate it and commit the result:\n  {Regenerate}");
        }
    }

    [Fact]
    public async Task Every_operation_that_needs_a_credential_says_so_and_internal_routes_stay_out()
    {
        var document = await ServedAsync();
        var schemes = document["components"]!["securitySchemes"]!.AsObject();
        Assert.Equal("bearer", (string?)schemes["jwt"]!["scheme"]);
        Assert.Equal("JWT", (string?)schemes["jwt"]!["bearerFormat"]);
        Assert.Equal("bearer", (string?)schemes["apiKey"]!["scheme"]);
        Assert.False(document.AsObject().ContainsKey("servers") && document["servers"]!.AsArray().Count > 0, "servers would depend on the host that served it");

        string[] open = ["/healthz", "/api/auth/token", "/v2/health/live", "/v2/health/ready"];
        var unmarked = new List<string>();
        int operations = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            Assert.DoesNotContain("/api/debug/", path, StringComparison.Ordinal);
            Assert.DoesNotContain("/api/workers/register", path, StringComparison.Ordinal);
            foreach (var (method, operation) in item!.AsObject())
            {
                if (method is "parameters" or "summary" or "description")
                {
                    continue;
                }

                operations++;
                bool secured = operation!["security"] is JsonArray { Count: > 0 };
                if (!secured && !open.Contains(path) && !path.Contains("jwks", StringComparison.OrdinalIgnoreCase) && !path.StartsWith("/.well-known/", StringComparison.Ordinal))
                {
                    unmarked.Add($"{method.ToUpperInvariant()} {path}");
                }
            }
        }

        Assert.True(operations > 60, $"{operations} operations");
        Assert.True(unmarked.Count == 0, "operations without a security requirement:\n" + string.Join('\n', unmarked));
        // The V2 routes are there, under their tag, with their names and summaries.
        var infer = document["paths"]!.AsObject().Where(p => p.Key.StartsWith("/v2/models/", StringComparison.Ordinal) && p.Key.EndsWith("/infer", StringComparison.Ordinal))
            .Select(p => p.Value!["post"]).OfType<JsonNode>().ToList();
        Assert.NotEmpty(infer);
        Assert.All(infer, op =>
        {
            Assert.Contains(op["tags"]!.AsArray(), t => (string?)t == "Inference");
            Assert.False(string.IsNullOrEmpty((string?)op["operationId"]));
            Assert.False(string.IsNullOrEmpty((string?)op["summary"]));
        });
    }

    /// <summary>
    /// Threat: a client generated from the contract cannot call an upload, because the handlers read the multipart body
    /// themselves and the generator saw no parameters. Each upload names its form fields and its file part (required, except where a staged sha256 can stand in).
    /// </summary>
    [Fact]
    public async Task Upload_operations_describe_their_multipart_form_fields()
    {
        var document = await ServedAsync();
        var operations = document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(o => o.Value))
            .OfType<JsonObject>().Where(o => o["operationId"] is not null).ToDictionary(o => (string)o["operationId"]!, StringComparer.Ordinal);
        foreach (string id in new[] { "UploadModel", "InspectModel", "UploadDataset", "CreateBatch", "CreatePipelineBatch", "InferImage", "InferImageLive" })
        {
            var schema = operations[id]["requestBody"]?["content"]?["multipart/form-data"]?["schema"];
            Assert.True(schema is not null, $"{id} has no multipart/form-data requestBody");
            Assert.Equal("binary", (string?)schema["properties"]!["file"]!["format"]);
            if (id != "UploadModel")
            {
                Assert.Contains(schema["required"]!.AsArray(), r => (string?)r == "file");
            }
        }

        // A model upload takes either the file or the sha256 of a staged inspection (one upload, once).
        var upload = operations["UploadModel"]["requestBody"]!["content"]!["multipart/form-data"]!["schema"]!;
        Assert.NotNull(upload["properties"]!["sha256"]);
        Assert.DoesNotContain(upload["required"]?.AsArray() ?? [], r => (string?)r == "file");

        Assert.Equal("array", (string?)operations["UploadModel"]["requestBody"]!["content"]!["multipart/form-data"]!["schema"]!["properties"]!["data"]!["type"]);
        Assert.NotNull(operations["CreateBatch"]["requestBody"]!["content"]!["multipart/form-data"]!["schema"]!["properties"]!["labelColumn"]);
    }

    [Fact]
    public async Task The_reference_page_is_served_without_third_party_calls()
    {
        using var anonymous = await cluster.ClientAsync(null);
        using var response = await anonymous.GetAsync("/api/docs/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        Assert.True(html.Contains("openapi/v1.json", StringComparison.Ordinal), html);
        Assert.False(html.Contains("cdn.jsdelivr.net", StringComparison.Ordinal), html);
    }

    private async Task<JsonNode> ServedAsync()
    {
        using var anonymous = await cluster.ClientAsync(null);
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    // Pretty-printed with the keys of every object in ordinal order, so the committed file does not depend on the
    // order in which the generator happened to add schemas and paths; arrays keep their order.
    internal static string Canonical(JsonNode node) => Sorted(node)!.ToJsonString(Pretty) + "\n";

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Sorted)]),
        null => null,
        _ => node.DeepClone(),
    };

    private static string FirstDifference(string committed, string served)
    {
        string[] a = committed.Split('\n'), b = served.Split('\n');
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i])
        {
            i++;
        }

        var hint = new StringBuilder($"First difference at line {i + 1} (committed {a.Length} lines, served {b.Length}):\n");
        for (int j = Math.Max(0, i - 3); j < Math.Min(b.Length, i + 4); j++)
        {
            hint.Append(j == i ? "  served>    " : "  served     ").Append(b[j]).Append('\n');
        }

        if (i < a.Length)
        {
            hint.Append("  committed> ").Append(a[i]).Append('\n');
        }

        return hint.ToString();
    }
}
