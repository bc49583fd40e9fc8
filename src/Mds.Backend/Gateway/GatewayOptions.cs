using System.ComponentModel.DataAnnotations;

namespace Mds.Backend.Gateway;

/// <summary><c>Mds:Gateway</c>.</summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Gateway";

    /// <summary>
    /// Port of the gateway's Open Inference Protocol gRPC endpoint (cleartext HTTP/2, on the REST URL's host); 0, the
    /// default, serves no gRPC. <c>./mds</c> sets it to the REST port + 1 (5081).
    /// </summary>
    [Range(0, 65535)]
    public int GrpcPort { get; set; }

    /// <summary>Largest gRPC message the gateway accepts or passes on, in MiB (as the workers' default).</summary>
    [Range(1, 2047)]
    public int MaxGrpcMessageMb { get; set; } = 64;

    /// <summary>
    /// Largest REST inference body (<c>/v2/models/…/infer</c>) the gateway accepts, in MiB (larger gets 413 before
    /// anything is sent on); the same default as the workers' <c>Mds:Worker:MaxRequestBodyMb</c>.
    /// </summary>
    [Range(1, 2047)]
    public int MaxRequestBodyMb { get; set; } = 64;

    /// <summary>gRPC <c>ModelInfer</c>: the most inputs, requested outputs, raw entries and parameters per map (as the workers').</summary>
    [Range(1, int.MaxValue)]
    public int MaxGrpcTensors { get; set; } = Mds.Contracts.Inference.Grpc.GrpcRequestLimits.DefaultMaxTensors;

    /// <summary>gRPC <c>ModelInfer</c>: the most repeated elements in one message (as the workers').</summary>
    [Range(1, int.MaxValue)]
    public int MaxGrpcElements { get; set; } = Mds.Contracts.Inference.Grpc.GrpcRequestLimits.DefaultMaxElements;

    /// <summary>How long <c>/v2/models/…/stats</c> waits for each worker before leaving it out.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan StatisticsTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the gateway remembers an input whose request lost its connection after it was sent (the worker died
    /// while running it): within it, a second worker lost to the same input stops the resend, and an input that has
    /// stopped two workers is refused without being sent (<see cref="PoisonGuard"/>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PoisonWindow { get; set; } = TimeSpan.FromMinutes(10);
}
