using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Mds.UnitTests.Gateway;

/// <summary>
/// Which endpoints the gateway's inference fast path may answer: only the infer endpoint guarded by the Inference
/// policy alone; anything with other authorization, anonymous access or a rate limit goes through the full pipeline.
/// </summary>
public sealed class InferenceFastPathTests
{
    [Theory]
    [InlineData("V2Infer")]
    [InlineData("V2InferVersion")]
    public void The_infer_endpoints_under_the_inference_policy_take_the_fast_path(string name) =>
        Assert.True(InferenceFastPath.IsEligible(Metadata(new EndpointNameMetadata(name), new AuthorizeAttribute(Policies.Inference))));

    public static TheoryData<string, object[]> NotEligible => new()
    {
        { "another endpoint", [new EndpointNameMetadata("V2ModelMetadata"), new AuthorizeAttribute(Policies.Inference)] },
        { "no name", [new AuthorizeAttribute(Policies.Inference)] },
        { "no authorization at all", [new EndpointNameMetadata("V2Infer")] },
        { "anonymous access", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference), new AllowAnonymousAttribute()] },
        { "another policy besides", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference), new AuthorizeAttribute(Policies.Admin)] },
        { "roles of its own", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference) { Roles = "Admin" }] },
        { "schemes of its own", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference) { AuthenticationSchemes = "ApiKey" }] },
        { "a policy object", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference), new AuthorizationPolicyBuilder().RequireRole("Admin").Build()] },
        { "a rate limit", [new EndpointNameMetadata("V2Infer"), new AuthorizeAttribute(Policies.Inference), new EnableRateLimitingAttribute("some-limit")] },
    };

    [Theory]
    [MemberData(nameof(NotEligible))]
    public void Other_endpoints_go_through_the_full_pipeline(string situation, object[] metadata) =>
        Assert.False(InferenceFastPath.IsEligible(Metadata(metadata)), situation);

    [Fact]
    public void A_policy_on_the_principal_alone_may_be_remembered_per_principal()
    {
        Assert.True(InferenceFastPath.DependsOnPrincipalOnly(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build()));
        Assert.True(InferenceFastPath.DependsOnPrincipalOnly(new AuthorizationPolicyBuilder().RequireRole("Admin").RequireClaim("scope").Build()));
    }

    [Fact]
    public void A_policy_with_an_assertion_or_schemes_of_its_own_is_not_remembered()
    {
        Assert.False(InferenceFastPath.DependsOnPrincipalOnly(new AuthorizationPolicyBuilder().RequireAssertion(_ => true).Build()));
        Assert.False(InferenceFastPath.DependsOnPrincipalOnly(new AuthorizationPolicyBuilder("ApiKey").RequireAuthenticatedUser().Build()));
    }

    private static EndpointMetadataCollection Metadata(params object[] items) => new(items);
}

/// <summary>The fast path's per-connection memo of a bearer credential never answers for another header.</summary>
public sealed class ConnectionCredentialTests
{
    private const string WorkerKey = "cluster-key-for-tests-0123456789abcdef";

    [Fact]
    public void Each_header_gets_its_own_scheme_and_key_whatever_the_connection_carried_before()
    {
        var state = new Dictionary<object, object?>();
        var services = new ServiceCollection()
            .Configure<ClusterOptions>(o => o.WorkerKey = WorkerKey)
            .BuildServiceProvider();
        ConnectionCredential? Send(string? authorization)
        {
            var http = new DefaultHttpContext { RequestServices = services };
            http.Features.Set<Microsoft.AspNetCore.Connections.Features.IPersistentStateFeature>(new PersistentState(state));
            if (authorization is not null)
            {
                http.Request.Headers.Authorization = authorization;
            }

            return ConnectionCredential.Of(http);
        }

        const string jwt = "aaa.bbb.ccc", key = "mds_0123abcd_secret";
        var first = Send("Bearer " + jwt);
        Assert.Equal(new ConnectionCredential(Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme, CredentialCache.KeyOf(jwt)), first);
        Assert.Same(first, Send("Bearer " + jwt)); // the same header on the same connection: the memo
        Assert.Equal(new ConnectionCredential(ApiKeyAuthenticationHandler.SchemeName, CredentialCache.KeyOf(key)), Send("Bearer " + key));
        Assert.Equal(new ConnectionCredential(WorkerCredentialHandler.SchemeName, CredentialCache.KeyOf(WorkerKey)), Send("Bearer " + WorkerKey));
        Assert.Equal(CredentialCache.KeyOf(jwt), Send("Bearer " + jwt)!.Key);
        Assert.Equal(CredentialCache.KeyOf("aaa.bbb.ccd"), Send("Bearer aaa.bbb.ccd")!.Key);
        Assert.Null(Send(null));
        Assert.Null(Send("Basic dXNlcjpwYXNz"));
    }

    private sealed class PersistentState(IDictionary<object, object?> state) : Microsoft.AspNetCore.Connections.Features.IPersistentStateFeature
    {
        public IDictionary<object, object?> State => state;
    }
}

/// <summary>The gateway's request ids keep Guid.CreateVersion7's shape without its per-request system call.</summary>
public sealed class RequestIdsTests
{
    [Fact]
    public void A_request_id_is_a_version_7_uuid_in_32_lowercase_hex_digits()
    {
        string id = RequestIds.New();
        Assert.Matches("^[0-9a-f]{32}$", id);
        var guid = Guid.ParseExact(id, "N");
        Assert.Equal(7, guid.Version);
        Assert.Equal(id, guid.ToString("N"));
    }

    [Fact]
    public void Request_ids_sort_by_time_and_carry_it_like_guid_create_version7()
    {
        var t = DateTimeOffset.FromUnixTimeMilliseconds(1_796_000_000_000);
        string ours = RequestIds.New(t);
        string theirs = Guid.CreateVersion7(t).ToString("N");
        Assert.Equal(theirs[..12], ours[..12]); // the same 48 time bits, in the same place
        Assert.True(string.CompareOrdinal(ours, RequestIds.New(t.AddMilliseconds(1))) < 0);
    }

    [Fact]
    public void Request_ids_do_not_repeat()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => RequestIds.New()).ToHashSet(); // 24 blocks of random bytes
        Assert.Equal(10_000, ids.Count);
    }

    [Fact]
    public void A_record_guid_is_a_version_7_uuid_with_guid_create_version7s_time_bits()
    {
        var t = DateTimeOffset.FromUnixTimeMilliseconds(1_796_000_000_000);
        var ours = RequestIds.NewGuid(t);
        Assert.Equal(7, ours.Version);
        Assert.Equal(Guid.CreateVersion7(t).ToString("N")[..12], ours.ToString("N")[..12]);
        Assert.True(ours.CompareTo(RequestIds.NewGuid(t.AddMilliseconds(1))) < 0); // records sort by time as before
        Assert.NotEqual(ours, RequestIds.NewGuid(t));
    }

    [Fact]
    public void Request_ids_made_on_many_threads_at_once_do_not_repeat()
    {
        var t = DateTimeOffset.FromUnixTimeMilliseconds(1_796_000_000_000); // the same time bits: only the random ones differ
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                ids.Add(RequestIds.New(t));
            }
        });

        Assert.Equal(16_000, ids.Distinct().Count());
    }
}
