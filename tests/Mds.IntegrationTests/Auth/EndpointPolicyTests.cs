using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mds.Backend.Auth;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Auth;

/// <summary>
/// The role matrix from the backend's own endpoint data source (served by the admin-only debug listing that
/// <c>Mds:Diagnostics:ListEndpoints</c> turns on): no endpoint goes without an explicit policy, and no caller gets
/// further than its policy lets it — so an endpoint added tomorrow without a policy fails here, not in production.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class EndpointPolicyTests(MdsCluster cluster)
{
    // Open on purpose: health, metrics, sign-in, the V2 health endpoints, public keys (JWKS) when present, the API
    // contract (the OpenAPI document, committed as docs/openapi.json anyway) and Scalar's reference page with its assets.
    private static readonly string[] AnonymousRoutes =
    [
        "/healthz", "/metrics", "/api/auth/token", "/v2/health/live", "/v2/health/ready", "/.well-known/openid-configuration",
        "/openapi/{documentName}.json", "/api/docs/{documentName?}", "/api/docs/scalar.js", "/api/docs/scalar.aspnetcore.js", "/api/docs/favicon.svg",
    ];
    private static readonly string[] AnonymousGrpc = ["ServerLive", "ServerReady"];

    private static readonly Dictionary<string, string[]> Admitted = new()
    {
        [Policies.AnyUser] = [Roles.Admin, Roles.Researcher, Roles.Analyst],
        [Policies.Researcher] = [Roles.Admin, Roles.Researcher],
        [Policies.Admin] = [Roles.Admin],
        [Policies.Worker] = [],
        [Policies.WorkerRegistration] = [],
        [Policies.ArtifactReader] = [Roles.Admin, Roles.Researcher],
        [Policies.Inference] = [Roles.Admin, Roles.Researcher, Roles.Analyst],
    };

    [Fact]
    public async Task An_endpoint_without_an_explicit_policy_cannot_be_added_unnoticed()
    {
        var endpoints = await ListAsync();
        Assert.True(endpoints.Count > 60, $"the listing has {endpoints.Count} endpoints");
        var missing = endpoints.Where(e => !IsGrpcFallback(e) && e.Policies.Count == 0 && !e.HasPolicyObject && !(e.AllowAnonymous && IsAllowListed(e)))
            .Select(e => $"{string.Join(',', e.Methods)} {e.Route} ({e.DisplayName})").ToList();
        Assert.True(missing.Count == 0, "endpoints without an explicit policy (or an allow-listed AllowAnonymous):\n" + string.Join('\n', missing));

        var unknown = endpoints.SelectMany(e => e.Policies).Distinct().Where(p => !Admitted.ContainsKey(p)).ToList();
        Assert.True(unknown.Count == 0, "policies this matrix does not know (add their admitted roles): " + string.Join(", ", unknown));

        var openButNotListed = endpoints.Where(e => e.AllowAnonymous && !IsAllowListed(e)).Select(e => e.Route + " " + e.DisplayName).ToList();
        Assert.True(openButNotListed.Count == 0, "AllowAnonymous outside the allow-list:\n" + string.Join('\n', openButNotListed));
    }

    [Fact]
    public async Task No_caller_gets_past_an_endpoint_whose_policy_does_not_admit_it()
    {
        var endpoints = await ListAsync();
        var callers = new Dictionary<string, HttpClient> { ["anonymous"] = await cluster.ClientAsync(null) };
        foreach (string role in new[] { Roles.Analyst, Roles.Researcher, Roles.Admin })
        {
            callers[role] = await cluster.ClientAsync(role);
        }

        var wrong = new List<string>();
        int calls = 0;
        foreach (var e in endpoints.Where(e => e.Route is not null && !e.Route.StartsWith("/inference.", StringComparison.Ordinal) && !IsGrpcFallback(e)))
        {
            string path = Fill(e.Route!);
            foreach (string method in e.Methods.Count == 0 ? ["GET"] : e.Methods)
            {
                foreach (var (caller, client) in callers)
                {
                    if (caller != "anonymous" && path == "/api/auth/signout")
                    {
                        continue; // it would end the shared test users' sessions; SessionRevocationTests covers it
                    }

                    using var request = new HttpRequestMessage(new HttpMethod(method), path);
                    if (method is "POST" or "PUT" or "PATCH")
                    {
                        request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                    }

                    using var response = await client.SendAsync(request);
                    calls++;
                    int status = (int)response.StatusCode;
                    if (Expect(e, caller, status) is { } problem)
                    {
                        wrong.Add($"{method} {path} as {caller}: {status} — {problem}");
                    }
                }
            }
        }

        Assert.True(calls > 200, $"{calls} calls");
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    // What the status must be for this caller: 401 for anonymous (unless open), 403 for a signed-in role the
    // policy does not admit, anything but 401/403 for one it admits (the dummy values may well be 404 or 400).
    private static string? Expect(EndpointEntry e, string caller, int status)
    {
        if (e.AllowAnonymous && IsAllowListed(e))
        {
            return status is 401 or 403 ? "an open endpoint refused the caller" : null;
        }

        if (caller == "anonymous")
        {
            return status == 401 ? null : "anonymous must get 401";
        }

        bool admitted = e.Policies.All(p => Admitted[p].Contains(caller));
        if (!admitted)
        {
            return status == 403 ? null : $"{caller} is not admitted by {string.Join('+', e.Policies)}: must get 403";
        }

        return status is 401 or 403 ? $"{caller} is admitted by {string.Join('+', e.Policies)}" : null;
    }

    private static bool IsAllowListed(EndpointEntry e) =>
        (e.Route is { } r && (AnonymousRoutes.Contains(r.TrimEnd('/')) || r.Contains("jwks", StringComparison.OrdinalIgnoreCase)))
        || (e.DisplayName is { } d && d.StartsWith("gRPC - ", StringComparison.Ordinal) && AnonymousGrpc.Any(m => d.EndsWith("/" + m, StringComparison.Ordinal)));

    // Grpc.AspNetCore maps catch-alls that answer UNIMPLEMENTED for unknown services and methods; they run nothing.
    private static bool IsGrpcFallback(EndpointEntry e) => e.DisplayName?.StartsWith("gRPC - Unimplemented", StringComparison.Ordinal) == true;

    // Route parameters get values that exist nowhere, so no call changes anything the other tests rely on.
    private static string Fill(string route) => Parameter().Replace(route, m =>
    {
        string name = m.Groups["name"].Value, constraint = m.Groups["constraint"].Value;
        return constraint.Contains("int", StringComparison.Ordinal) || constraint.Contains("long", StringComparison.Ordinal) ? "987654"
            : constraint.Contains("guid", StringComparison.Ordinal) ? "0190a0a0-0000-7000-8000-000000000000"
            : name == "sha256" ? new string('0', 64)
            : m.Value.StartsWith("{*", StringComparison.Ordinal) ? "x"
            : "role-matrix-none";
    });

    [GeneratedRegex(@"\{\**(?<name>[A-Za-z0-9_]+)(?<constraint>:[^}=?]*)?[?]?\}")]
    private static partial Regex Parameter();

    private async Task<List<EndpointEntry>> ListAsync()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        var json = (await admin.GetFromJsonAsync<JsonArray>("/api/debug/endpoints"))!;
        return
        [
            .. json.Select(n => new EndpointEntry(
                (string?)n!["route"], [.. n["methods"]!.AsArray().Select(x => (string)x!)], (string?)n["displayName"],
                [.. n["policies"]!.AsArray().Select(x => (string)x!)], (bool)n["hasPolicyObject"]!, (bool)n["allowAnonymous"]!)),
        ];
    }

    private sealed record EndpointEntry(string? Route, IReadOnlyList<string> Methods, string? DisplayName, IReadOnlyList<string> Policies, bool HasPolicyObject, bool AllowAnonymous);

    [Fact]
    public async Task The_endpoint_listing_is_for_admins_only()
    {
        foreach (var (role, expected) in new (string?, HttpStatusCode)[] { (null, HttpStatusCode.Unauthorized), (Roles.Analyst, HttpStatusCode.Forbidden), (Roles.Researcher, HttpStatusCode.Forbidden) })
        {
            using var client = await cluster.ClientAsync(role);
            Assert.Equal(expected, (await client.GetAsync("/api/debug/endpoints")).StatusCode);
        }
    }
}
