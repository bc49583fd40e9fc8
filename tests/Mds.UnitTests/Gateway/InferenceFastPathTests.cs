using Mds.Backend.Auth;
using Mds.Backend.Gateway;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;

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
