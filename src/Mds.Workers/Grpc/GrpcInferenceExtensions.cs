using Grpc.AspNetCore.Server;
using Mds.Contracts.Inference.Grpc;
using Mds.ServiceDefaults;
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

        var worker = configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        InferenceGrpcService.Limits = new GrpcRequestLimits(worker.MaxGrpcTensors, worker.MaxGrpcElements);
        builder.Services.AddGrpc();
        builder.Services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<WorkerOptions>>((grpc, worker) =>
                grpc.MaxReceiveMessageSize = worker.Value.MaxRequestBodyMb * 1024 * 1024);

        builder.ListenForGrpc(grpcPort);
        return builder;
    }

    /// <summary>Maps <c>inference.GRPCInferenceService</c> when the gRPC port is set.</summary>
    public static IEndpointRouteBuilder MapGrpcInference(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (GrpcPort(app.ServiceProvider.GetRequiredService<IConfiguration>()) > 0)
        {
            var worker = app.ServiceProvider.GetRequiredService<IOptions<WorkerOptions>>().Value;
            app.MapGrpcService<InferenceGrpcService>().WithMetadata(new GrpcBodySizeLimit(worker.MaxRequestBodyMb * 1024L * 1024));
        }

        return app;
    }

    private static int GrpcPort(IConfiguration configuration) =>
        configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>()?.GrpcPort ?? 0;
}
