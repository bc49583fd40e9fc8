using System.Diagnostics;
using System.Net;
using System.Reflection;
using Mds.Backend.Auth;
using Mds.Backend.Monitoring;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace Mds.Backend.Gateway;

/// <summary>
/// The Open Inference Protocol V2 on the backend: health and server metadata answered here; model metadata and
/// readiness from the routing table; infer forwarded unchanged (streamed, not buffered) to a Ready replica.
/// </summary>
public static class GatewayApi
{
    private static readonly string ServerVersion = typeof(GatewayApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton<RoutingTable>();
        services.AddSingleton<Cluster.IClusterChangeListener, RoutingTableListener>();
        services.AddSingleton<GatewayLoad>();
        services.AddSingleton<PoisonGuard>();
        services.AddSingleton<ReplicaCallPolicy>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<GatewayInference>();
        services.AddHostedService<RoutingRefreshLoop>();
        services.AddSingleton(sp => new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            // Without a trace exporter the client span is never recorded, so the handler's DiagnosticsHandler (an Activity
            // per call) is left out and the forwarding code writes traceparent itself (GatewayForwarding.PropagateTrace).
            ActivityHeadersPropagator = string.IsNullOrWhiteSpace(sp.GetRequiredService<IConfiguration>()["OTEL_EXPORTER_OTLP_ENDPOINT"])
                ? null : GatewayForwarding.TracePropagator,
        }));
        return services;
    }

    public static IEndpointRouteBuilder MapGatewayApi(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").WithTags("Inference");
        v2.MapGet("/health/live", () => TypedResults.Ok()).AllowAnonymous().WithName("V2Live").WithSummary("The backend process is up");
        v2.MapGet("/health/ready", () => TypedResults.Ok()).AllowAnonymous().WithName("V2Ready").WithSummary("The backend can serve requests");
        v2.MapGet("/", () => TypedResults.Ok(new ServerMetadata("mds", ServerVersion, [RepositoryApi.Extension, GatewayStatistics.Extension, BinaryTensorData.Extension]))).RequireAuthorization(Policies.Inference)
            .WithName("V2ServerMetadata").WithSummary("Server metadata");

        var model = v2.MapGroup("/models/{name}").RequireAuthorization(Policies.Inference);
        var versioned = v2.MapGroup("/models/{name}/versions/{version}").RequireAuthorization(Policies.Inference);
        foreach (var (group, suffix) in new[] { (model, ""), (versioned, "Version") })
        {
            group.MapGet("/", Metadata).WithName("V2ModelMetadata" + suffix).WithSummary("Model metadata: versions, platform, inputs, outputs");
            group.MapGet("/ready", Ready).WithName("V2ModelReady" + suffix).WithSummary("200 when a replica can answer");
            group.MapPost("/infer", Infer).WithName("V2Infer" + suffix).WithSummary("Run inference on a Ready replica");
        }

        return app;
    }

    private static async Task<IResult> Metadata(string name, string? version, RoutingTable routing, CancellationToken ct)
    {
        var (found, error) = await LookupAsync(routing, name, version, ct);
        if (error is not null && found?.Version is null)
        {
            return error;
        }

        var m = found!.Model!;
        var v = found.Version!;
        return TypedResults.Ok(new ModelMetadata(m.Name, [.. m.Versions.Keys.Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture))], V2.OnnxPlatform, v.Inputs, v.Outputs));
    }

    private static async Task<IResult> Ready(string name, string? version, RoutingTable routing, CancellationToken ct)
    {
        var (_, error) = await LookupAsync(routing, name, version, ct);
        return error ?? TypedResults.Ok();
    }

    /// <summary>The infer endpoint's handler (the fast path calls <see cref="GatewayInference.InferAsync"/> directly).</summary>
    private static Task Infer(HttpContext http, string name, string? version, GatewayInference gateway) => gateway.InferAsync(http, name, version, caller: null);

    /// <summary>
    /// Forwards an infer call to <paramref name="name"/> (at <paramref name="version"/>, else its live version) as the plain
    /// gateway does: streamed by the forwarder, retried on another replica by the policy, counted in the traffic statistics.
    /// An experiment hands its model candidates here, with <paramref name="experimentTag"/> (<c>experiment:candidate</c>)
    /// set as <see cref="MdsHeaders.Experiment"/> on the proxied request; without a tag a caller's own such header is removed.
    /// </summary>
    internal static Task InferModelAsync(HttpContext http, string name, string? version, string? experimentTag) =>
        http.RequestServices.GetRequiredService<GatewayInference>().InferModelAsync(http, name, version, experimentTag, caller: null);

    internal static void RestoreRoute(HttpContext http, string? experimentRoute)
    {
        if (experimentRoute is not null)
        {
            http.Response.Headers[MdsHeaders.Route] = experimentRoute;
        }
    }

    /// <summary>What one forward came to, in the policy's terms.</summary>
    internal static SendOutcome<ForwarderError> Outcome(HttpContext http, ForwarderError sent, HeldBack? heldBack)
    {
        if (heldBack is null && sent == ForwarderError.None)
        {
            return SendOutcome<ForwarderError>.Answered(sent);
        }

        if (http.Response.HasStarted || http.RequestAborted.IsCancellationRequested)
        {
            return SendOutcome<ForwarderError>.Answered(sent); // nothing more can be done for this caller
        }

        return (heldBack, sent) switch
        {
            (HeldBack.NotLoaded, _) => SendOutcome<ForwarderError>.NotLoaded(),
            (HeldBack.Unavailable, _) => SendOutcome<ForwarderError>.Unavailable(),
            // The caller's side failed (its body, its connection): YARP has answered it; another replica cannot help.
            (_, ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient or ForwarderError.RequestCanceled
                or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled) => SendOutcome<ForwarderError>.Answered(sent),
            // Refused before sending is retried elsewhere; a connection that died after the request went out is resent
            // once (the policy's poison guard decides); a timeout is not.
            _ => SendOutcome<ForwarderError>.FromError(http.Features.Get<IForwarderErrorFeature>()?.Exception, sent.ToString(), timedOut: sent == ForwarderError.RequestTimedOut),
        };
    }

    /// <summary>
    /// The buffered body, read back for the poison guard's hash (only after a lost connection, or while some input is
    /// refused); false when it cannot be read back (not buffered, or the caller's side failed while reading the rest).
    /// </summary>
    internal static async ValueTask<bool> ReadBodyBack(object state, System.Security.Cryptography.IncrementalHash hash, CancellationToken ct)
    {
        var body = ((HttpRequest)state).Body;
        if (!body.CanSeek)
        {
            return false;
        }

        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            body.Position = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }

            body.Position = 0;
            return true;
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException)
        {
            return false;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static async ValueTask<(RouteLookup? Found, IResult? Error)> LookupAsync(RoutingTable routing, string name, string? version, CancellationToken ct)
    {
        if (!RoutingTable.TryParseVersion(version, out int? v))
        {
            return (null, Error(StatusCodes.Status404NotFound, $"model '{name}' has no version '{version}'"));
        }

        var found = await routing.ResolveAsync(name, v, ct);
        return found.Status switch
        {
            RouteStatus.Found => (found, null),
            RouteStatus.UnknownModel => (found, Error(StatusCodes.Status404NotFound, found.Error!)),
            _ => (found, Error(StatusCodes.Status503ServiceUnavailable, found.Error!)),
        };
    }

    internal static IResult Error(int status, string message) => TypedResults.Json(new V2Error(message), statusCode: status);

    internal enum HeldBack { Unavailable, NotLoaded }

    /// <summary>
    /// Sends the request to the worker's versioned infer path with the gateway's internal token in place of the caller's
    /// credentials (which stay here). A worker's 404 saying
    /// the model is not loaded there (the routing table was a moment behind an unload) is never copied to the caller,
    /// and neither is a 503 when a retry is allowed: the gateway tries another replica or answers 503 itself.
    /// </summary>
    internal sealed class VersionPathTransformer(ReplicaEndpoint replica, RouteLookup route, string authorization, bool holdBackUnavailable, string? experimentTag) : HttpTransformer
    {
        public HeldBack? HeldBack { get; private set; }

        public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
        {
            if (proxyResponse?.StatusCode == HttpStatusCode.NotFound && proxyResponse.Headers.Contains(MdsHeaders.NotLoaded))
            {
                HeldBack = GatewayApi.HeldBack.NotLoaded;
                return ValueTask.FromResult(false);
            }

            if (holdBackUnavailable && proxyResponse?.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                HeldBack = GatewayApi.HeldBack.Unavailable;
                return ValueTask.FromResult(false);
            }

            return base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        }

        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            // The replica's infer URI is made with the routing table (hot path: no parse per request); a query string, rare, is added.
            proxyRequest.RequestUri = replica.InferUri is { } uri && !httpContext.Request.QueryString.HasValue
                ? uri : new Uri(destinationPrefix.TrimEnd('/') + RoutingTable.InferPath(route.Model!.Name, route.Version!.Version) + httpContext.Request.QueryString.Value);
            // The caller's credentials stay here; the gateway's token, its header made once per token, goes instead.
            proxyRequest.Headers.Remove(HeaderNames.Authorization);
            proxyRequest.Headers.TryAddWithoutValidation(HeaderNames.Authorization, authorization);
            proxyRequest.Headers.Remove(MdsHeaders.Caller);
            proxyRequest.Headers.Remove(MdsHeaders.Experiment); // only the gateway tags a call with an experiment, never its caller
            if (experimentTag is not null)
            {
                proxyRequest.Headers.TryAddWithoutValidation(MdsHeaders.Experiment, experimentTag);
            }

            proxyRequest.Headers.Host = null;
            GatewayForwarding.PropagateTrace(proxyRequest);
        }
    }
}
