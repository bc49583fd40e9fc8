using System.Net;
using Yarp.ReverseProxy.Forwarder;

// The thinnest HTTP proxy the gateway is measured against: every request forwarded unchanged, with YARP's forwarder
// and the same connection pool settings as the gateway, to one upstream. No authentication, routing table, retries,
// metrics, tracing or request ids: what any reverse proxy hop costs on this machine, and so the ceiling for the
// gateway's "through the gateway ÷ direct" ratio.
// usage: Mds.Bench.Proxy <upstream-url> <listen-url>
if (args.Length != 2)
{
    await Console.Error.WriteLineAsync("usage: Mds.Bench.Proxy <upstream-url> <listen-url>");
    return 2;
}

string upstream = args[0];
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls(args[1]);
builder.Services.AddHttpForwarder();
var app = builder.Build();
using var client = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    ConnectTimeout = TimeSpan.FromSeconds(3),
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
});
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
app.MapGet("/health", () => Results.Ok());
app.Map("/{**path}", async (HttpContext http) => await forwarder.SendAsync(http, upstream, client));
app.Run();
return 0;
