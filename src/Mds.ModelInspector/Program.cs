using Mds.Onnx;
using Microsoft.ML.OnnxRuntime;

// Usage: dotnet Mds.ModelInspector.dll <model.onnx>
// Creates an ONNX Runtime session the way a worker does (OnnxSessions.CreateOptions, CPU) and writes the model's
// schema as JSON on stdout (exit 0). A model ONNX Runtime refuses: {"error": "..."} and exit 1. Anything else (bad
// usage, a bug here): {"error": "..."} and exit 2, which the backend reports as its own failure, not the model's.
if (args.Length != 1)
{
    Console.Out.Write(InspectorOutput.Error("usage: Mds.ModelInspector <model.onnx>"));
    return InspectorOutput.ExitFailure;
}

string path = args[0];
try
{
    // One thread: the inspector loads, it does not serve; the options are otherwise the worker's.
    using var options = OnnxSessions.CreateOptions(intraOpThreads: 1, interOpThreads: 1);
    using var session = new InferenceSession(path, options);

    // The backend polls this process's resident memory, but a load that peaks and frees between two polls (or just
    // before exiting) would slip under its cap: the kernel's high-water mark of this process is checked here too.
    if (long.TryParse(Environment.GetEnvironmentVariable(InspectorOutput.MemoryCapVariable), out long cap) && InspectorOutput.PeakResidentBytes("self") > cap)
    {
        Console.Out.Write(InspectorOutput.Error("the model needs more memory to load than the inspector may use"));
        return InspectorOutput.ExitOutOfMemory;
    }
    // Read after ONNX Runtime accepted the file: ZipMap labels, doc strings, producer (what ORT's API does not expose).
    var facts = OnnxFileFacts.Read(path);
    Console.Out.Write(InspectorOutput.Schema(OnnxSchema.FromSession(session, facts)));
    return InspectorOutput.ExitOk;
}
catch (OnnxRuntimeException e)
{
    // ONNX Runtime names the file it read: the path is the server's business, not the uploader's.
    Console.Out.Write(InspectorOutput.Error(OnnxSessions.CleanMessage(e.Message).Replace(path, "the file", StringComparison.Ordinal)));
    return InspectorOutput.ExitRefused;
}
catch (InvalidOnnxModelException e)
{
    Console.Out.Write(InspectorOutput.Error(e.Message.Replace(path, "the file", StringComparison.Ordinal)));
    return InspectorOutput.ExitRefused;
}
catch (OutOfMemoryException)
{
    Console.Out.Write(InspectorOutput.Error("the model needs more memory to load than the inspector may use"));
    return InspectorOutput.ExitOutOfMemory;
}
#pragma warning disable CA1031 // the one place that turns any failure into the JSON contract
catch (Exception e)
#pragma warning restore CA1031
{
    Console.Out.Write(InspectorOutput.Error($"{e.GetType().Name}: {e.Message.Replace(path, "the file", StringComparison.Ordinal)}"));
    return InspectorOutput.ExitFailure;
}
