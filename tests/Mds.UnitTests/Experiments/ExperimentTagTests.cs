using System.Security.Claims;
using Mds.Contracts.Api;
using Mds.Workers.Auth;

namespace Mds.UnitTests.Experiments;

/// <summary>The <c>Mds-Experiment</c> tag: written by the gateway, parsed and bounded by the worker, believed only from the gateway.</summary>
public sealed class ExperimentTagTests
{
    [Theory]
    [InlineData("ab", "iris", false, "ab:iris")]
    [InlineData("ab", "iris@2", false, "ab:iris@2")]
    [InlineData("ab", "shadow", true, "ab:shadow;mirror")]
    public void The_value_round_trips(string experiment, string candidate, bool mirror, string value)
    {
        Assert.Equal(value, ExperimentTag.Value(experiment, candidate, mirror));
        Assert.Equal(new ExperimentTag(experiment, candidate, mirror), ExperimentTag.Parse(value));
    }

    [Fact]
    public void A_candidate_with_a_colon_keeps_it_the_experiment_ends_at_the_first()
    {
        Assert.Equal(new ExperimentTag("ab", "x:y", false), ExperimentTag.Parse("ab:x:y"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("no-colon")]
    [InlineData(":candidate")]
    [InlineData("experiment:")]
    [InlineData("experiment:;mirror")]
    [InlineData(";mirror")]
    [InlineData("ab:iris\n")]
    [InlineData("ab:ir\0is")]
    public void A_malformed_value_is_no_tag(string? value) => Assert.Null(ExperimentTag.Parse(value));

    [Fact]
    public void A_value_longer_than_the_bound_is_no_tag_so_a_caller_cannot_bloat_records()
    {
        string atBound = "e:" + new string('c', ExperimentTag.MaxLength - 2);
        Assert.NotNull(ExperimentTag.Parse(atBound));
        Assert.Null(ExperimentTag.Parse(atBound + "c"));
        Assert.Null(ExperimentTag.Parse("e:" + new string('c', 100_000)));
    }

    [Fact]
    public void The_worker_believes_the_tag_from_the_gateway_s_internal_token()
    {
        var gateway = Principal("Bearer", new Claim("aud", CallerAuthentication.WorkerAudience), new Claim(CallerAuthentication.CallerClaim, "alice@example.com"));
        Assert.Equal(new ExperimentTag("ab", "iris", true), CallerAuthentication.ExperimentOf(gateway, "ab:iris;mirror"));
        Assert.Null(CallerAuthentication.ExperimentOf(gateway, null));
        Assert.Null(CallerAuthentication.ExperimentOf(gateway, "ab:" + new string('x', 400)));
    }

    [Fact]
    public void A_forged_tag_sent_with_a_user_s_own_JWT_is_ignored()
    {
        var user = Principal("Bearer", new Claim("aud", CallerAuthentication.UserAudience), new Claim("email", "mallory@example.com"), new Claim("sub", "1"));
        Assert.Null(CallerAuthentication.ExperimentOf(user, "ab:iris"));

        // A token naming both audiences is a user's token too.
        var both = Principal("Bearer", new Claim("aud", CallerAuthentication.UserAudience), new Claim("aud", CallerAuthentication.WorkerAudience),
            new Claim(CallerAuthentication.CallerClaim, "mallory@example.com"));
        Assert.Null(CallerAuthentication.ExperimentOf(both, "ab:iris"));
    }

    [Fact]
    public void A_forged_tag_sent_with_an_API_key_or_anonymously_is_ignored()
    {
        var key = Principal("ApiKey", new Claim("email", "mallory@example.com"), new Claim(ClaimTypes.Name, "mallory@example.com"));
        Assert.Null(CallerAuthentication.ExperimentOf(key, "ab:iris"));
        Assert.Null(CallerAuthentication.ExperimentOf(new ClaimsPrincipal(new ClaimsIdentity()), "ab:iris"));
        // Claims like the internal token's but not authenticated (no scheme): not believed.
        var unauthenticated = new ClaimsPrincipal(new ClaimsIdentity([new Claim("aud", CallerAuthentication.WorkerAudience), new Claim(CallerAuthentication.CallerClaim, "x")]));
        Assert.Null(CallerAuthentication.ExperimentOf(unauthenticated, "ab:iris"));
    }

    private static ClaimsPrincipal Principal(string scheme, params Claim[] claims) => new(new ClaimsIdentity(claims, scheme));
}
