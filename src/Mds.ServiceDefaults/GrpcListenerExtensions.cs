using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mds.ServiceDefaults;

/// <summary>
/// A second Kestrel endpoint for gRPC: cleartext HTTP/2 only (h2c) on a port of its own, beside the unchanged
/// HTTP/1.1 REST endpoint. Used by the workers and the backend's gateway.
/// </summary>
public static class GrpcListenerExtensions
{
    /// <summary>Listens for gRPC on <paramref name="port"/> (on the REST URL's host) as well as on the REST URLs.</summary>
    public static IHostApplicationBuilder ListenForGrpc(this IHostApplicationBuilder builder, int port)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;

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
                foreach (string p in ports)
                {
                    kestrel.ListenAnyIP(int.Parse(p, CultureInfo.InvariantCulture));
                }
            }

            Listen(kestrel, grpcHost ?? "*", port, listen => listen.Protocols = HttpProtocols.Http2);
        });
        return builder;
    }

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

/// <summary>
/// Endpoint metadata that sets Kestrel's request body limit for gRPC calls to one largest message and its 5-byte frame
/// header. Without it Kestrel's default (30,000,000 bytes) cut every larger message off as UNKNOWN, below the
/// configured gRPC maximum; with it a larger message is RESOURCE_EXHAUSTED from gRPC's own check of the frame header.
/// </summary>
/// <param name="maxMessageBytes">The gRPC maximum receive message size, in bytes.</param>
public sealed class GrpcBodySizeLimit(long maxMessageBytes) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    /// <inheritdoc />
    public long? MaxRequestBodySize { get; } = maxMessageBytes + 5;
}
