using System.Diagnostics;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mds.UnitTests.Monitoring;

/// <summary>A request's trace context without a server span: the activity the middleware starts and the trace id a record takes.</summary>
public sealed class RequestTraceTests
{
    private static readonly ActivityTraceId CallerTrace = ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736");
    private static readonly ActivitySpanId CallerSpan = ActivitySpanId.CreateFromString("00f067aa0ba902b7");
    private static readonly string CallerParent = $"00-{CallerTrace.ToHexString()}-{CallerSpan.ToHexString()}-01";

    private static DefaultHttpContext Request(string? traceParent = null, string? traceState = null)
    {
        var http = new DefaultHttpContext();
        if (traceParent is not null)
        {
            http.Request.Headers[RequestTrace.TraceParentHeader] = traceParent;
        }

        if (traceState is not null)
        {
            http.Request.Headers[RequestTrace.TraceStateHeader] = traceState;
        }

        return http;
    }

    [Fact]
    public void A_records_trace_id_is_the_callers_from_a_valid_traceparent()
    {
        Assert.Null(Activity.Current);
        Assert.Equal(CallerTrace.ToHexString(), RequestTrace.TraceIdOf(Request(CallerParent)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("00-not-a-trace-01")]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] // an all-zero trace id is invalid
    public void Without_a_valid_traceparent_each_request_gets_a_trace_id_of_its_own(string? traceParent)
    {
        string first = RequestTrace.TraceIdOf(Request(traceParent));
        string second = RequestTrace.TraceIdOf(Request(traceParent));
        Assert.Matches("^[0-9a-f]{32}$", first);
        Assert.Matches("^[0-9a-f]{32}$", second);
        Assert.NotEqual(first, second);
        Assert.NotEqual("00000000000000000000000000000000", first);
    }

    [Fact]
    public void Two_traceparent_headers_are_not_trusted_either()
    {
        var http = Request();
        http.Request.Headers[RequestTrace.TraceParentHeader] = new Microsoft.Extensions.Primitives.StringValues([CallerParent, CallerParent]);
        Assert.NotEqual(CallerTrace.ToHexString(), RequestTrace.TraceIdOf(http));
    }

    [Fact]
    public void The_current_activity_wins_over_the_header()
    {
        using var activity = new Activity("outer").Start();
        Assert.Equal(activity.TraceId.ToHexString(), RequestTrace.TraceIdOf(Request(CallerParent)));
        Assert.NotEqual(CallerTrace, activity.TraceId);
    }

    [Fact]
    public void Start_continues_the_callers_trace_with_its_state_and_disposing_restores_no_activity()
    {
        using (var activity = RequestTrace.Start(Request(CallerParent, "vendor=abc").Request.Headers))
        {
            Assert.Same(activity, Activity.Current);
            Assert.Equal((CallerTrace, CallerSpan, "vendor=abc"), (activity.TraceId, activity.ParentSpanId, activity.TraceStateString));
            Assert.Equal(RequestTrace.ActivityName, activity.OperationName);
            Assert.NotEqual(CallerSpan, activity.SpanId);
        }

        Assert.Null(Activity.Current);
    }

    [Fact]
    public void Start_without_trace_headers_begins_a_trace()
    {
        using var first = RequestTrace.Start(Request().Request.Headers);
        Assert.Equal(default, first.ParentSpanId);
        Assert.NotEqual(default, first.TraceId);
        first.Stop();
        using var second = RequestTrace.Start(Request("garbage").Request.Headers);
        Assert.NotEqual(first.TraceId, second.TraceId);
    }

    [Fact]
    public void Work_done_later_for_a_request_continues_its_trace_and_none_without_one()
    {
        ActivityContext parent;
        using (var request = RequestTrace.Start(Request(CallerParent, "vendor=abc").Request.Headers))
        {
            parent = request.Context;
        }

        using (var later = RequestTrace.Continue(parent, "later"))
        {
            Assert.NotNull(later);
            Assert.Same(later, Activity.Current);
            Assert.Equal((CallerTrace, parent.SpanId, "vendor=abc", "later"), (later.TraceId, later.ParentSpanId, later.TraceStateString, later.OperationName));
        }

        Assert.Null(Activity.Current);
        Assert.Null(RequestTrace.Continue(default, "later"));
        Assert.Null(Activity.Current);
    }

    [Fact]
    public async Task The_middleware_runs_a_request_under_an_activity_of_the_callers_trace_and_ends_it()
    {
        Activity? seen = null;
        var app = Pipeline(_ => { seen = Activity.Current; return Task.CompletedTask; });

        await app(Request(CallerParent));

        Assert.NotNull(seen);
        Assert.Equal((CallerTrace, CallerSpan), (seen.TraceId, seen.ParentSpanId));
        Assert.True(seen.IsStopped); // ended with the request
        Assert.Null(Activity.Current);
    }

    [Fact]
    public async Task The_middleware_leaves_a_request_that_already_has_an_activity_alone()
    {
        using var server = new Activity("exporter's server span").Start();
        Activity? seen = null;
        var app = Pipeline(_ => { seen = Activity.Current; return Task.CompletedTask; });

        await app(Request(CallerParent));

        Assert.Same(server, seen);
    }

    private static RequestDelegate Pipeline(RequestDelegate endpoint)
    {
        var builder = new ApplicationBuilder(new ServiceCollection().BuildServiceProvider());
        builder.UseRequestTrace();
        builder.Run(endpoint);
        return builder.Build();
    }
}
