using System.Net;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Grpc;

/// <summary>
/// Registers the Open Inference Protocol's gRPC service when <c>Mds:Worker:GrpcPort</c> is set: a second Kestrel
/// endpoint on that port speaking cleartext HTTP/2 only (h2c), beside the unchanged HTTP/1.1 REST endpoint.
/// </summary>
internal static class GrpcInferenceExtensions
{
    public static IHostApplicationBuilder AddGrpcInference(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        int grpcPort = GrpcPort(configuration);
        if (grpcPort <= 0)
        {
            return builder;
        }

        builder.Services.AddGrpc();
        builder.Services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<WorkerOptions>>((grpc, worker) =>
                grpc.MaxReceiveMessageSize = worker.Value.MaxRequestBodyMb * 1024 * 1024);

        // An endpoint set in code makes Kestrel ignore the URLs (ASPNETCORE_URLS, --urls, ASPNETCORE_HTTP_PORTS), so the
        // REST addresses they name are listened on here too, first, so that the first address stays the REST one.
        // Endpoints from the Kestrel:Endpoints section are bound by Kestrel itself besides these.
        string[] urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] ports = (configuration["http_ports"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            string? grpcHost = null;
            if (urls.Length > 0)
            {
                foreach (string url in urls)
                {
                    var address = BindingAddress.Parse(url);
                    Listen(kestrel, address.Host, address.Port, listen =>
                    {
                        if (string.Equals(address.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
                        {
                            listen.UseHttps();
                        }
                    });
                    grpcHost ??= address.Host;
                }
            }
            else
            {
                foreach (string port in ports)
                {
                    kestrel.ListenAnyIP(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture));
                }
            }

            Listen(kestrel, grpcHost ?? "*", grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
        });
        return builder;
    }

    /// <summary>Maps <c>inference.GRPCInferenceService</c> when the gRPC port is set.</summary>
    public static IEndpointRouteBuilder MapGrpcInference(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (GrpcPort(app.ServiceProvider.GetRequiredService<IConfiguration>()) > 0)
        {
            app.MapGrpcService<InferenceGrpcService>();
        }

        return app;
    }

    private static int GrpcPort(IConfiguration configuration) =>
        configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>()?.GrpcPort ?? 0;

    private static void Listen(KestrelServerOptions kestrel, string host, int port, Action<ListenOptions> configure)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(port, configure);
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
        {
            kestrel.Listen(ip, port, configure);
        }
        else
        {
            // "*", "+" or a host name: every interface, as Kestrel does for such URLs.
            kestrel.ListenAnyIP(port, configure);
        }
    }
}
