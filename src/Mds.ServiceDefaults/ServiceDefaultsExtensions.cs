using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;

namespace Mds.ServiceDefaults;

/// <summary>
/// The one place that wires what every MDS process shares: OpenTelemetry tracing of ASP.NET Core, HttpClient, gRPC
/// clients and Npgsql (exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), Prometheus <c>/metrics</c>,
/// health checks and problem details.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The ActivitySource every MDS process traces its own spans under.</summary>
    public const string ActivitySourceName = "Mds";

    /// <summary>
    /// The tag of a System.Diagnostics.Metrics instrument that its owner also exports to prometheus-net directly (with
    /// labelled children bound once, off the hot path): the meter adapter leaves such an instrument alone. prometheus-net's
    /// adapter sorts, copies and looks up the tags of every measurement, several microseconds per request on the hot paths.
    /// </summary>
    public static readonly KeyValuePair<string, object?> ExportedNatively = new("mds.export", "prometheus-net");

    /// <summary>Adds telemetry, health checks and problem details for a service named <paramref name="serviceName"/>.</summary>
    public static IHostApplicationBuilder AddMdsDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddProblemDetails();
        builder.Services.AddHealthChecks();

        // W3C trace context only: MDS carries no baggage, and the default composite propagator's baggage step sets an
        // AsyncLocal (an execution-context copy) on every request the ASP.NET Core instrumentation sees.
        Sdk.SetDefaultTextMapPropagator(new OpenTelemetry.Context.Propagation.TraceContextPropagator());
        // No exemplars on prometheus-net's counters and histograms: nothing scrapes them (Prometheus asks for the text
        // format; Grafana's panels link no traces), and by default every observation inside a request built one from the
        // current activity (its trace and span ids as labels): an allocation and two hex strings per inference.
        Prometheus.Metrics.DefaultFactory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        bool exporting = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(t => ServerSpansIfExported(WithoutRecordingUnlessExported(t, exporting), exporting)
                .AddSource(ActivitySourceName)
                .AddHttpClientInstrumentation()
                .AddGrpcClientInstrumentation()
                .AddNpgsql());
        if (exporting)
        {
            otel.UseOtlpExporter();
        }

        // System.Diagnostics.Metrics instruments of meters named "Mds*" are exported through prometheus-net's /metrics.
        // The adapter listens from start-up (not from the first scrape), so no early measurement is lost.
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressMeters = true });
        MeterAdapter.StartListening(new MeterAdapterOptions
        {
            InstrumentFilterPredicate = i => i.Meter.Name.StartsWith("Mds", StringComparison.Ordinal) && i.Tags?.Contains(ExportedNatively) != true,
            ResolveHistogramBuckets = HistogramBuckets,
        });
        return builder;
    }

    /// <summary>
    /// With no exporter, client spans (HttpClient, gRPC, Npgsql) are created but not recorded (the sampler drops them, so
    /// no tags, events or timings are collected); their trace and span ids still exist and still travel in
    /// <c>traceparent</c>, and with <see cref="RequestTrace"/> inference records keep the caller's trace id. With an exporter, OpenTelemetry's default (parent-based, always on) or the
    /// <c>OTEL_TRACES_SAMPLER</c> setting applies.
    /// </summary>
    private static TracerProviderBuilder WithoutRecordingUnlessExported(TracerProviderBuilder tracing, bool exporting) =>
        exporting ? tracing : tracing.SetSampler(new AlwaysOffSampler());

    /// <summary>
    /// With an exporter, ASP.NET Core's server spans for REST and gRPC alike (a gRPC call is an HTTP/2 request); the
    /// incoming traceparent is their parent, so a worker's span joins the trace of the portal or client that called the
    /// backend. Without one, none: <see cref="RequestTrace"/> carries the trace instead, at a fraction of the cost.
    /// </summary>
    private static TracerProviderBuilder ServerSpansIfExported(TracerProviderBuilder tracing, bool exporting) =>
        exporting ? tracing.AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/metrics")) : tracing;

    /// <summary>A histogram's buckets: those its instrument advises (e.g. batch sizes in rows), else prometheus-net's default.</summary>
    private static double[] HistogramBuckets(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { } bounds } => [.. bounds],
        Histogram<long> { Advice.HistogramBucketBoundaries: { } bounds } => [.. bounds.Select(b => (double)b)],
        _ => MeterAdapterOptions.DefaultHistogramBuckets,
    };

    /// <summary>
    /// Maps <c>/metrics</c> (Prometheus text) and <c>/healthz</c>; starts each request's activity where no exporter's
    /// server span did (<see cref="RequestTrace.UseRequestTrace"/>); and prometheus-net's HTTP metrics: every request that goes
    /// through the pipeline is in <c>http_requests_in_progress</c> (the workers' and gateway's inference fast paths skip
    /// it; the autoscaler reads <c>mds_worker_model_requests_in_flight</c>); inference calls (<see cref="IsInferenceCall"/>)
    /// are left out of <c>http_requests_received_total</c> and <c>http_request_duration_seconds</c>, because the
    /// service counts them itself per model (<c>mds_inference_*</c>, <c>mds_gateway_*</c>) and the two label lookups
    /// per request are a measurable share of a small model's inference.
    /// </summary>
    public static WebApplication MapMdsDefaults(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRequestTrace(); // after the inference fast paths, which carry the trace without an activity
        app.UseWhen(IsInferenceCall, inference => inference.UseHttpMetrics(o =>
        {
            o.RequestCount.Enabled = false;
            o.RequestDuration.Enabled = false;
        }));
        app.UseWhen(http => !IsInferenceCall(http), other => other.UseHttpMetrics());
        app.MapMetrics("/metrics").AllowAnonymous(); // explicitly open: Prometheus scrapes without credentials
        app.MapHealthChecks("/healthz", new HealthCheckOptions { ResultStatusCodes = { [Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy] = StatusCodes.Status200OK } }).AllowAnonymous();
        return app;
    }

    /// <summary>A V2 inference call: <c>POST …/infer</c> under <c>/v2/models/</c>, or the V2 gRPC service's <c>ModelInfer</c>.</summary>
    public static bool IsInferenceCall(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var path = http.Request.Path.Value;
        return path is not null
            && ((path.StartsWith("/v2/models/", StringComparison.Ordinal) && path.EndsWith("/infer", StringComparison.Ordinal))
                || path.StartsWith("/inference.GRPCInferenceService/ModelInfer", StringComparison.Ordinal));
    }
}
