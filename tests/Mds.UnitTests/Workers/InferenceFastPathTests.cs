using System.Net;
using System.Text;
using Mds.ModelGen;
using Mds.Workers.Inference;
using Microsoft.AspNetCore.Authorization;

namespace Mds.UnitTests.Workers;

/// <summary>
/// The worker's inference fast path answers exactly what the full pipeline answers, and takes only the paths routing
/// would give the infer endpoint.
/// </summary>
public sealed class InferenceFastPathTests : IAsyncLifetime
{
    private WorkerHost _worker = null!;

    public async Task InitializeAsync()
    {
        _worker = await WorkerHost.StartAsync();
        _worker.Backend.Assign(1, "linear", 1, TestGraphs.Linear([1f, 1f], 100f));
        await _worker.Orders.LoadReplicaAsync(1);
    }

    public async Task DisposeAsync() => await _worker.DisposeAsync();

    [Theory]
    [InlineData("/v2/models/iris/infer", "iris", null)]
    [InlineData("/v2/models/iris/versions/3/infer", "iris", "3")]
    [InlineData("/V2/Models/iris/Versions/3/INFER", "iris", "3")]
    [InlineData("/v2/models/my%2Fmodel/infer", "my%2Fmodel", null)]
    [InlineData("/v2/models/infer/infer", "infer", null)]
    [InlineData("/v2/models/versions/infer", "versions", null)]
    public void Takes_the_infer_routes_and_the_model_they_name(string path, string name, string? version)
    {
        Assert.True(InferenceFastPath.TryMatch(path, out var route));
        Assert.Equal(name, route.Name);
        Assert.Equal(version, route.Version);
    }

    [Theory]
    [InlineData("/v2/models//infer")]
    [InlineData("/v2/models/iris/infer/")]
    [InlineData("/v2/models/iris/versions//infer")]
    [InlineData("/v2/models/iris/versions/3/4/infer")]
    [InlineData("/v2/models/iris/other/3/infer")]
    [InlineData("/v2/models/iris/ready")]
    [InlineData("/v2/models/infer")]
    [InlineData("/v1/models/iris/infer")]
    [InlineData("/v2/models/iris/versions/infer")]
    [InlineData("")]
    [InlineData(null)]
    public void Leaves_every_other_path_to_the_full_pipeline(string? path)
    {
        Assert.False(InferenceFastPath.TryMatch(path, out _));
    }

    [Fact]
    public void Switches_itself_off_when_the_endpoints_policy_asks_for_more_than_an_authenticated_caller()
    {
        Assert.True(InferenceFastPath.AuthenticatedIsEnough(new AuthorizationOptions()));

        var roles = new AuthorizationOptions();
        roles.DefaultPolicy = new AuthorizationPolicyBuilder().RequireRole("Analyst").Build();
        Assert.False(InferenceFastPath.AuthenticatedIsEnough(roles));

        var fallback = new AuthorizationOptions { FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build() };
        Assert.False(InferenceFastPath.AuthenticatedIsEnough(fallback));

        var scheme = new AuthorizationOptions();
        scheme.DefaultPolicy = new AuthorizationPolicyBuilder("Bearer").RequireAuthenticatedUser().Build();
        Assert.False(InferenceFastPath.AuthenticatedIsEnough(scheme));
    }

    [Theory]
    [InlineData("linear", """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""")]
    [InlineData("linear", """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1]}]}""")]
    [InlineData("linear", """{"inputs":[""")]
    [InlineData("absent", """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""")]
    public async Task A_remembered_caller_gets_the_answer_the_full_pipeline_gives(string model, string body)
    {
        // The first call validates the API key and remembers it; from then on ".../infer" takes the fast path, while
        // ".../infer/" (a trailing slash routing accepts) still runs the full pipeline.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("linear", "infer", """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""")).Status);

        var fast = await PostAsync(model, "infer", body);
        var full = await PostAsync(model, "infer/", body);

        Assert.Equal(full.Status, fast.Status);
        Assert.Equal(full.Body, fast.Body);
        Assert.Equal(full.NotLoaded, fast.NotLoaded);
        Assert.Equal(full.ContentType, fast.ContentType);
    }

    [Fact]
    public async Task A_caller_without_a_remembered_credential_is_refused_as_before()
    {
        using var anonymous = new HttpClient { BaseAddress = _worker.Http.BaseAddress };
        using var body = new StringContent("""{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""", Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("v2/models/linear/infer", body)).StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "mds_0000test_not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("v2/models/linear/infer", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("v2/models/linear/infer", body)).StatusCode); // a refusal is not remembered as a pass
    }

    [Fact]
    public async Task A_connection_that_changes_its_credential_is_judged_by_each_request_s_own()
    {
        // One connection (the memo of its last credential lives on it): the remembered key, then an unknown one, then
        // the remembered one again; the unknown key must never borrow the first one's identity.
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1 };
        using var client = new HttpClient(handler) { BaseAddress = _worker.Http.BaseAddress };
        const string body = """{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}""";
        async Task<HttpStatusCode> SendAsync(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v2/models/linear/infer") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await SendAsync(FakeBackend.CallerKey));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(FakeBackend.CallerKey)); // remembered: the fast path, memo set
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync("mds_0000test_not-a-key"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(FakeBackend.CallerKey));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync("mds_0000test_not-a-key"));
    }

    [Fact]
    public void A_connection_s_credential_id_is_the_credential_s_own_whatever_came_before()
    {
        var state = new Dictionary<object, object?>();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Features.Set<Microsoft.AspNetCore.Connections.Features.IPersistentStateFeature>(new PersistentState(state));
        string a = "mds_aaaa_first", b = "mds_bbbb_second";

        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(a), ConnectionCredential.IdOf(context, a));
        Assert.Single(state); // memoised on the connection
        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(a), ConnectionCredential.IdOf(context, a.ToCharArray()));
        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(b), ConnectionCredential.IdOf(context, b));
        Assert.NotEqual(ConnectionCredential.IdOf(context, a), ConnectionCredential.IdOf(context, b));
        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(a), ConnectionCredential.IdOf(context, a));
        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(a[..^1] + "X"), ConnectionCredential.IdOf(context, a[..^1] + "X"));

        // Without the feature (no connection state): hashed each time.
        Assert.Equal(Mds.Workers.Auth.CredentialId.Of(b), ConnectionCredential.IdOf(new Microsoft.AspNetCore.Http.DefaultHttpContext(), b));
    }

    private sealed class PersistentState(IDictionary<object, object?> state) : Microsoft.AspNetCore.Connections.Features.IPersistentStateFeature
    {
        public IDictionary<object, object?> State => state;
    }

    private async Task<(HttpStatusCode Status, string Body, bool NotLoaded, string? ContentType)> PostAsync(string model, string tail, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _worker.Http.PostAsync($"v2/models/{model}/{tail}", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Contains("Mds-Not-Loaded"),
            response.Content.Headers.ContentType?.MediaType);
    }
}
