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
}
