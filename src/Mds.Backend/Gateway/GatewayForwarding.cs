using System.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace Mds.Backend.Gateway;

/// <summary>The gateway's forwarding, for the features that route through it (an experiment's model candidates).</summary>
public static class GatewayForwarding
{
    /// <summary>
    /// Forwards an infer call to <paramref name="name"/> (at <paramref name="version"/>, else its live version) as the plain
    /// gateway does: streamed by the forwarder, retried on another replica, counted in the traffic statistics; with
    /// <paramref name="experimentTag"/> set as <c>mds-experiment</c> on the proxied request.
    /// </summary>
    public static Task InferModelAsync(HttpContext http, string name, string? version, string? experimentTag) =>
        GatewayApi.InferModelAsync(http, name, version, experimentTag);

    /// <summary>Replaces a caller's trace headers with the current activity's (YARP's propagator: remove, then inject).</summary>
    internal static readonly DistributedContextPropagator TracePropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current);

    /// <summary>
    /// Writes the current activity's trace context (<c>traceparent</c> …) on a call to a worker, in place of any the caller
    /// sent, so the worker's span and inference record join the caller's trace. Where the client's DiagnosticsHandler runs
    /// (a trace exporter is set), it replaces these with its own client span's, as before.
    /// </summary>
    internal static void PropagateTrace(HttpRequestMessage message)
    {
        if (Activity.Current is { } activity)
        {
            TracePropagator.Inject(activity, message, static (carrier, name, value) => ((HttpRequestMessage)carrier!).Headers.TryAddWithoutValidation(name, value));
        }
    }
}
