using Mds.Portal.Jobs;
using Microsoft.AspNetCore.Http;

namespace Mds.UnitTests.Portal;

/// <summary>The job dashboard proxy forwards with the admin's token, so another site must not be able to make it POST.</summary>
public sealed class HangfireProxyCrossSiteTests
{
    [Theory]
    [InlineData("POST", "https://evil.example", null, true)]
    [InlineData("POST", "http://portal.local:8080.evil.example", null, true)]
    [InlineData("POST", "null", null, true)]
    [InlineData("POST", null, "cross-site", true)]
    [InlineData("POST", null, "same-site", true)]
    [InlineData("POST", "http://portal.local:8080", "cross-site", true)]
    [InlineData("DELETE", "https://evil.example", null, true)]
    [InlineData("POST", "http://portal.local:8080", "same-origin", false)]
    [InlineData("POST", "https://portal.local:8080", null, false)] // TLS ended by a proxy in front
    [InlineData("POST", null, null, false)] // not a browser: no page of another site behind it
    [InlineData("GET", "https://evil.example", "cross-site", false)] // reading the dashboard changes nothing
    public void A_dashboard_request_from_another_site_that_could_change_something_is_cross_site(string method, string? origin, string? fetchSite, bool refused)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.Scheme = "http";
        http.Request.Host = new HostString("portal.local:8080");
        if (origin is not null)
        {
            http.Request.Headers.Origin = origin;
        }

        if (fetchSite is not null)
        {
            http.Request.Headers["Sec-Fetch-Site"] = fetchSite;
        }

        Assert.Equal(refused, HangfireProxy.IsCrossSite(http.Request));
    }
}
