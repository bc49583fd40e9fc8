using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mds.ServiceDefaults;

/// <summary>
/// A request's W3C trace context when no trace is exported. ASP.NET Core's server span is then left out
/// (<see cref="ServiceDefaultsExtensions.AddMdsDefaults"/> adds its instrumentation only with an OTLP endpoint): nothing
/// would record it, yet making, starting and stopping it was a measurable share of an inference's CPU on the serving
/// path. What the span carried is kept:
/// <list type="bullet">
/// <item><see cref="UseRequestTrace"/> starts an <see cref="Activity"/> from the request's <c>traceparent</c> for every
/// request that reaches it, so HttpClient, gRPC and the forwarding code still pass the caller's trace on to workers. The
/// inference fast paths run before it and carry the trace themselves: the gateway forwards <c>traceparent</c> and
/// <c>tracestate</c> as they came (YARP copies them when no activity replaces them), an experiment that takes over a
/// model's endpoint there starts its activity with <see cref="Start"/>, and a worker reads its record's trace id from
/// the headers (<see cref="TraceIdOf"/>).</item>
/// <item>With an exporter, ASP.NET Core's span is the request's activity, as before, and this adds nothing.</item>
/// </list>
/// </summary>
public static class RequestTrace
{
    /// <summary>The W3C trace context header.</summary>
    public const string TraceParentHeader = "traceparent";

    /// <summary>The W3C trace state header.</summary>
    public const string TraceStateHeader = "tracestate";

    /// <summary>The name of the activity <see cref="UseRequestTrace"/> starts.</summary>
    public const string ActivityName = "Mds.Request";

    /// <summary>
    /// Runs each request without an activity (no exporter: no server span) under one started from its trace headers
    /// (<see cref="Start"/>). Requests that already have one (an exporter's server span) pass through untouched.
    /// </summary>
    public static IApplicationBuilder UseRequestTrace(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(static (http, next) => Activity.Current is null ? RunTracedAsync(http, next) : next(http));
    }

    private static async Task RunTracedAsync(HttpContext http, RequestDelegate next)
    {
        using var activity = Start(http.Request.Headers);
        await next(http);
    }

    /// <summary>
    /// Starts an activity that continues the trace in <paramref name="headers"/> (a valid <c>traceparent</c>, with its
    /// <c>tracestate</c>), else begins a trace of its own. Dispose it to restore <see cref="Activity.Current"/>.
    /// </summary>
    public static Activity Start(IHeaderDictionary headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return TryParse(headers, out var parent) ? Continue(parent, ActivityName)! : new Activity(ActivityName).Start();
    }

    /// <summary>
    /// Starts an activity named <paramref name="name"/> under <paramref name="parent"/>, for work done later and away
    /// from a request on its behalf (an experiment's mirror copy), so the calls it makes carry the request's trace; null
    /// when there is no parent (<c>default</c>). Dispose it to restore <see cref="Activity.Current"/>.
    /// </summary>
    public static Activity? Continue(ActivityContext parent, string name)
    {
        if (parent == default)
        {
            return null;
        }

        var activity = new Activity(name);
        activity.SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags);
        activity.TraceStateString = parent.TraceState;
        return activity.Start();
    }

    /// <summary>
    /// The trace id a request belongs to, as 32 lower-case hex digits: its activity's, else its valid <c>traceparent</c>'s,
    /// else a new random one (a request without trace context is a trace of its own).
    /// </summary>
    public static string TraceIdOf(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (Activity.Current is { } activity)
        {
            return activity.TraceId.ToHexString();
        }

        return TryParse(http.Request.Headers, out var context) ? context.TraceId.ToHexString() : ActivityTraceId.CreateRandom().ToHexString();
    }

    /// <summary>The remote parent in <paramref name="headers"/>: one valid <c>traceparent</c> (and its <c>tracestate</c>).</summary>
    private static bool TryParse(IHeaderDictionary headers, out ActivityContext context)
    {
        var traceParent = headers[TraceParentHeader];
        if (traceParent.Count != 1 || traceParent[0] is not { } value)
        {
            context = default;
            return false;
        }

        var traceState = headers[TraceStateHeader];
        return ActivityContext.TryParse(value, traceState.Count == 1 ? traceState[0] : null, isRemote: true, out context);
    }
}
