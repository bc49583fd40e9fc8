using Microsoft.ML.OnnxRuntime;

namespace Mds.Onnx;

/// <summary>
/// The one place that says how MDS creates ONNX Runtime sessions: workers serve with these options and the upload
/// inspector validates with them, so that what an upload accepts is what a worker loads (the same graph optimisations,
/// hence the same constant folding and the same memory at load).
/// </summary>
public static class OnnxSessions
{
    /// <summary>Session options for serving: every graph optimisation, small non-spinning thread pools, CUDA when given a device.</summary>
    /// <param name="intraOpThreads">Threads per operator (at least 1).</param>
    /// <param name="interOpThreads">Threads across operators (1 runs sequentially).</param>
    /// <param name="cudaDevice">The CUDA device to run on, or null for the CPU.</param>
    public static SessionOptions CreateOptions(int intraOpThreads, int interOpThreads, int? cudaDevice = null)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = interOpThreads > 1 ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL,
            // Concurrency comes from concurrent requests on one shared session; a small pool per session keeps many
            // loaded models from oversubscribing the cores.
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = interOpThreads,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        try
        {
            // Idle pool threads must not spin: a worker hosts many sessions.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
            if (cudaDevice is int device)
            {
                // Nodes CUDA cannot run fall back to the CPU provider, which ORT always appends last.
                options.AppendExecutionProvider_CUDA(device);
            }
        }
        catch
        {
            options.Dispose();
            throw;
        }

        return options;
    }

    /// <summary>Drops the <c>[ErrorCode:...] </c> prefix ONNX Runtime puts on its messages.</summary>
    public static string CleanMessage(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        int bracket = message.IndexOf("] ", StringComparison.Ordinal);
        return bracket >= 0 && message.StartsWith('[') ? message[(bracket + 2)..] : message;
    }
}
