using System.Diagnostics;
using Mds.Backend.Auth;
using Mds.Backend.Experiments;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Mds.Backend.Gateway;

/// <summary>
/// Hot path: the gateway's infer call, for the infer endpoint and the fast path alike. The services it needs are
/// resolved once (no request scope, no container lookups per request), and one async method runs the call from the route
/// lookup to its statistics; the send to a replica is a static lambda over a struct (no closure or delegate per request).
/// </summary>
internal sealed class GatewayInference(
    RoutingTable routing,
    ReplicaCallPolicy policy,
    IHttpForwarder forwarder,
    HttpMessageInvoker client,
    TrafficStats traffic,
    GatewayMetrics metrics,
    IOptions<GatewayOptions> options,
    SigningKeys keys,
    ExperimentTable experiments)
{
    /// <summary>
    /// An infer call to <paramref name="name"/> (at <paramref name="version"/>, else its live version, or the experiment
    /// that takes over its endpoint). <paramref name="caller"/>: the caller's name when already known, else it is read
    /// from <see cref="HttpContext.User"/>.
    /// </summary>
    public Task InferAsync(HttpContext http, string name, string? version, string? caller)
    {
        // An active experiment whose default is this model takes over its own endpoint (an explicit version never).
        if (version is null && experiments.TakeoverFor(pipeline: false, name) is { } experiment)
        {
            // From the fast path there is no activity yet; the experiment's candidate and mirror calls carry the trace from one.
            return Activity.Current is null ? TracedExperimentAsync(http, experiment) : ExperimentGateway.InferAsync(http, experiment);
        }

        return InferModelAsync(http, name, version, experimentTag: null, caller);
    }

    private static async Task TracedExperimentAsync(HttpContext http, ExperimentRoute experiment)
    {
        using var activity = RequestTrace.Start(http.Request.Headers);
        await ExperimentGateway.InferAsync(http, experiment);
    }

    /// <summary>See <see cref="GatewayApi.InferModelAsync(HttpContext, string, string?, string?)"/>.</summary>
    public async Task InferModelAsync(HttpContext http, string name, string? version, string? experimentTag, string? caller)
    {
        long started = Stopwatch.GetTimestamp();
        bool answered = false;
        RouteLookup? found = null;
        try
        {
            // The workers' limit, here too: a body over it is refused before a replica is picked (by its Content-Length,
            // or by Kestrel as it streams in).
            long limit = (long)options.Value.MaxRequestBodyMb * 1024 * 1024;
            if (http.Request.ContentLength > limit)
            {
                await GatewayApi.Error(StatusCodes.Status413PayloadTooLarge, $"request body is larger than {options.Value.MaxRequestBodyMb} MiB").ExecuteAsync(http);
                answered = true;
                return;
            }

            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            {
                sizeLimit.MaxRequestBodySize = limit;
            }

            (found, var error) = await GatewayApi.LookupAsync(routing, name, version, http.RequestAborted);
            if (error is not null)
            {
                await error.ExecuteAsync(http);
                answered = true;
                return;
            }

            // Forwarded here, not in a method of its own: one async state machine per request fewer.
            var route = found!;
            var responseHeaders = http.Response.Headers;
            var routeHeader = responseHeaders[MdsHeaders.Route];
            string? experimentRoute = routeHeader.Count > 0 ? routeHeader[0] : null; // an experiment's Mds-Route answer header outlives a retry's Clear

            // Every inference gets a request id (the caller's X-Request-Id, else a new one): feedback and records refer to it.
            var given = http.Request.Headers[MdsHeaders.RequestId];
            string requestId = given.Count > 0 && given[0] is { Length: > 0 and <= 128 } id ? id : RequestIds.New(); // time-ordered: cheap to index
            http.Request.Headers[MdsHeaders.RequestId] = requestId;
            responseHeaders[MdsHeaders.RequestId] = requestId;
            // The worker believes who the caller is only from a token the backend signed (the caller in it).
            string authorization = keys.InternalAuthorizationFor(caller ?? CallerIdentity.Name(http.User) ?? "anonymous");

            // The body still streams to the worker; buffering keeps a copy (in memory up to 1 MiB) so a retry can resend it.
            http.Request.EnableBuffering(bufferThreshold: 1024 * 1024);

            // Only the send lives here; which replica, retries, suspension and catch-up are the policy's.
            var result = await policy.RunAsync<Send, Yarp.ReverseProxy.Forwarder.ForwarderError>(route, name,
                new Send(forwarder, client, http, route, requestId, experimentRoute, authorization, experimentTag), static async (send, attempt, _) =>
                {
                    var http = send.Http;
                    if (attempt.Number > 0)
                    {
                        http.Request.Body.Position = 0;
                        http.Response.Clear();
                        http.Response.Headers[MdsHeaders.RequestId] = send.RequestId;
                        GatewayApi.RestoreRoute(http, send.ExperimentRoute);
                    }

                    var transformer = new GatewayApi.VersionPathTransformer(attempt.Replica, send.Route, send.Authorization, holdBackUnavailable: !attempt.LastTry, send.ExperimentTag);
                    var sent = await send.Forwarder.SendAsync(http, attempt.Replica.Url, send.Client, ForwarderRequestConfig.Empty, transformer);
                    return GatewayApi.Outcome(http, sent, transformer.HeldBack);
                }, input: new RequestInput(http.Request, GatewayApi.ReadBodyBack), ct: http.RequestAborted);

            if (!result.Answered)
            {
                http.Response.Clear();
                http.Response.Headers[MdsHeaders.RequestId] = requestId;
                GatewayApi.RestoreRoute(http, experimentRoute);
                await GatewayApi.Error(result.FailureStatus, result.Failure!).ExecuteAsync(http);
            }

            answered = true;
        }
        finally
        {
            int status = answered ? http.Response.StatusCode : StatusCodes.Status500InternalServerError;
            var elapsed = Stopwatch.GetElapsedTime(started);
            traffic.Record(name, version, status, elapsed);
            metrics.Record(found, status, elapsed);
        }
    }

    /// <summary>What one send to a replica needs, passed by value to the policy's static send.</summary>
    private readonly record struct Send(
        IHttpForwarder Forwarder, HttpMessageInvoker Client, HttpContext Http, RouteLookup Route, string RequestId, string? ExperimentRoute, string Authorization, string? ExperimentTag);
}
