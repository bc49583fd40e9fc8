using System.Buffers;
using System.Runtime.InteropServices;
using Mds.Contracts.Inference;
using Mds.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.Workers.Inference;

// Hot path: runs for every inference request. Check with plain loops over small arrays, hand ONNX Runtime the
// decoded arrays themselves (pinned, not copied), one copy out per output tensor; no LINQ or boxing per element,
// no logging.

/// <summary>
/// Checks a V2 request against a model's signature, binds its tensors to ONNX Runtime values without copying,
/// runs the session and turns the outputs back into V2 tensors.
/// </summary>
internal static class TensorBinding
{
    // Read-only and shared: no per-request native allocation.
    private static readonly RunOptions SharedRunOptions = new();

    /// <summary>Runs <paramref name="request"/> on <paramref name="model"/>.</summary>
    /// <exception cref="InferenceProtocolException">The request does not fit the model, or ONNX Runtime rejected it.</exception>
    public static InferenceResponse Run(LoadedModel model, InferenceRequest request)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        var signature = model.Signature;
        var bound = BindInputs(model.Name, signature, request.Inputs);
        string[] outputNames = SelectOutputs(model.Name, signature, request.Outputs);
        return new InferenceResponse
        {
            ModelName = model.Name,
            ModelVersion = model.VersionText,
            Id = request.Id,
            Outputs = RunBound(model, bound, outputNames),
        };
    }

    /// <summary>
    /// Runs inputs already checked by <see cref="BindInputs"/> (in model order) and fetches
    /// <paramref name="outputNames"/> (checked by <see cref="SelectOutputs"/>).
    /// </summary>
    /// <exception cref="InferenceProtocolException">ONNX Runtime rejected the inputs.</exception>
    public static InferenceTensor[] RunBound(LoadedModel model, InferenceTensor[] bound, string[] outputNames)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(bound);
        ArgumentNullException.ThrowIfNull(outputNames);
        var signature = model.Signature;
        var values = new OrtValue[bound.Length];
        try
        {
            for (int i = 0; i < bound.Length; i++)
            {
                try
                {
                    values[i] = ToOrtValue(bound[i]);
                }
                catch (Exception e) when (e is OnnxRuntimeException or ArgumentException or InvalidCastException or OverflowException)
                {
                    throw new InferenceProtocolException($"input '{bound[i].Name}' cannot be passed to ONNX Runtime: {OrtMessages.Clean(e.Message)}", e);
                }
            }

            IDisposableReadOnlyCollection<OrtValue> results;
            var timeout = model.InferenceTimeout;
            // With a timeout, the run uses its thread's RunOptions, whose Terminate flag RunDeadlines' one timer sets.
            using var deadline = timeout > TimeSpan.Zero ? RunDeadlines.Start(timeout) : (RunDeadlines.Lease?)null;
            try
            {
                results = model.Session.Run(deadline?.Options ?? SharedRunOptions, signature.InputNames, values, outputNames);
            }
            catch (OnnxRuntimeException e) when (deadline?.Stopped == true)
            {
                throw new InferenceTimeoutException($"model '{model.Name}' version {model.VersionText} did not finish within {timeout.TotalSeconds:0.###} s; the run was stopped", e);
            }
            catch (OnnxRuntimeException e)
            {
                throw new InferenceProtocolException($"model '{model.Name}' version {model.VersionText} rejected the request: {OrtMessages.Clean(e.Message)}", e);
            }

            using (results)
            {
                var outputs = new InferenceTensor[outputNames.Length];
                int index = 0;
                foreach (var value in results)
                {
                    var output = signature.FindOutput(outputNames[index]);
                    outputs[index] = output is null || output.Form.Kind == OutputKind.Tensor
                        ? ToTensor(outputNames[index], value)
                        : SequenceConversion.ToTensor(output, value);
                    index++;
                }

                return outputs;
            }
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }

    /// <summary>
    /// Puts the request's tensors in the model's input order after checking that every model input is given exactly
    /// once, no unknown name is given, and each datatype, rank and fixed dimension matches.
    /// </summary>
    /// <exception cref="InferenceProtocolException">The first mismatch, naming the tensor.</exception>
    public static InferenceTensor[] BindInputs(string modelName, ModelSignature signature, IReadOnlyList<InferenceTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(inputs);
        var expected = signature.Inputs;
        var bound = new InferenceTensor[expected.Length];
        for (int i = 0; i < inputs.Count; i++)
        {
            var tensor = inputs[i];
            int slot = signature.IndexOfInput(tensor.Name);
            if (slot < 0)
            {
                throw new InferenceProtocolException($"input '{tensor.Name}' is not an input of model '{modelName}' (its inputs: {signature.InputList})");
            }

            if (bound[slot] is not null)
            {
                throw new InferenceProtocolException($"input '{tensor.Name}' is given more than once");
            }

            var input = expected[slot];
            if (input.Unsupported is not null)
            {
                throw new InferenceProtocolException($"input '{input.Name}' of model '{modelName}' cannot be fed over V2: {input.Unsupported}");
            }

            if (tensor.Datatype != input.Datatype)
            {
                throw new InferenceProtocolException($"input '{tensor.Name}' has datatype {tensor.Datatype.ToWireName()} but model '{modelName}' expects {input.Datatype.ToWireName()}");
            }

            if (!ShapeFits(tensor.Shape, input.Shape))
            {
                throw new InferenceProtocolException($"input '{tensor.Name}' has shape {FormatShape(tensor.Shape)} but model '{modelName}' expects {FormatShape(input.Shape)} (-1: any size)");
            }

            bound[slot] = tensor;
        }

        for (int slot = 0; slot < bound.Length; slot++)
        {
            if (bound[slot] is null)
            {
                var input = expected[slot];
                throw new InferenceProtocolException($"input '{input.Name}' is missing: model '{modelName}' needs {input.Datatype.ToWireName()} {FormatShape(input.Shape)}");
            }
        }

        return bound;
    }

    /// <summary>The outputs to fetch: those requested (checked), or every tensor output when none are.</summary>
    /// <exception cref="InferenceProtocolException">A requested output is unknown, repeated or not a tensor.</exception>
    public static string[] SelectOutputs(string modelName, ModelSignature signature, IReadOnlyList<RequestedOutput>? requested)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (requested is null || requested.Count == 0)
        {
            return signature.DefaultOutputNames.Length > 0
                ? signature.DefaultOutputNames
                : throw new InferenceProtocolException($"model '{modelName}' has no output the V2 protocol can carry (no tensor outputs)");
        }

        var names = new string[requested.Count];
        for (int i = 0; i < names.Length; i++)
        {
            string name = requested[i].Name;
            var output = signature.FindOutput(name)
                ?? throw new InferenceProtocolException($"requested output '{name}' is not an output of model '{modelName}'");
            if (output.Unsupported is not null)
            {
                throw new InferenceProtocolException($"requested output '{name}' cannot be returned over V2: {output.Unsupported}");
            }

            if (Array.IndexOf(names, name, 0, i) >= 0)
            {
                throw new InferenceProtocolException($"requested output '{name}' is named more than once");
            }

            names[i] = name;
        }

        return names;
    }

    /// <summary>Wraps the tensor's array as an ONNX Runtime value; numeric and bool arrays are pinned, not copied.</summary>
    public static OrtValue ToOrtValue(InferenceTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long[] shape = tensor.Shape;
        var data = tensor.Data;

        // Switch on the datatype, not the array's type: the runtime lets ulong[] pass as long[], sbyte[] as byte[] and
        // so on. InferenceTensor guarantees the array's exact element type for its datatype.
        return tensor.Datatype switch
        {
            TensorDatatype.Fp32 => OrtValue.CreateTensorValueFromMemory((float[])data, shape),
            TensorDatatype.Int64 => OrtValue.CreateTensorValueFromMemory((long[])data, shape),
            TensorDatatype.Int32 => OrtValue.CreateTensorValueFromMemory((int[])data, shape),
            TensorDatatype.Fp64 => OrtValue.CreateTensorValueFromMemory((double[])data, shape),
            TensorDatatype.Bool => OrtValue.CreateTensorValueFromMemory((bool[])data, shape),
            TensorDatatype.UInt8 => OrtValue.CreateTensorValueFromMemory((byte[])data, shape),
            TensorDatatype.Int8 => OrtValue.CreateTensorValueFromMemory((sbyte[])data, shape),
            TensorDatatype.Int16 => OrtValue.CreateTensorValueFromMemory((short[])data, shape),
            TensorDatatype.UInt16 => OrtValue.CreateTensorValueFromMemory((ushort[])data, shape),
            TensorDatatype.UInt32 => OrtValue.CreateTensorValueFromMemory((uint[])data, shape),
            TensorDatatype.UInt64 => OrtValue.CreateTensorValueFromMemory((ulong[])data, shape),
            TensorDatatype.Fp16 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new HalfAsFloat16Memory((Half[])data).Memory, shape),
            TensorDatatype.Bf16 => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Bf16AsOrtMemory((Mds.Contracts.Inference.BFloat16[])data).Memory, shape),
            TensorDatatype.Bytes => ToStringValue((string[])data, shape),
            _ => throw new InferenceProtocolException($"input '{tensor.Name}': datatype {tensor.Datatype.ToWireName()} is not supported"),
        };
    }

    /// <summary>Copies an ONNX Runtime tensor into a V2 tensor named <paramref name="name"/>.</summary>
    public static InferenceTensor ToTensor(string name, OrtValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.IsTensor)
        {
            throw new InferenceProtocolException($"output '{name}' is not a tensor, and the V2 protocol carries tensors only");
        }

        var info = value.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        var datatype = Mds.Onnx.OnnxTypes.ToDatatype(info.ElementDataType);
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
            TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
            TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
            TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
            TensorElementType.Float16 => MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>()).ToArray(),
            TensorElementType.BFloat16 => MemoryMarshal.Cast<Microsoft.ML.OnnxRuntime.BFloat16, Mds.Contracts.Inference.BFloat16>(value.GetTensorDataAsSpan<Microsoft.ML.OnnxRuntime.BFloat16>()).ToArray(),
            TensorElementType.String => value.GetStringTensorAsArray(),
            _ => throw new InferenceProtocolException($"output '{name}' has element type {info.ElementDataType}, which has no V2 datatype"),
        };
        return new InferenceTensor(name, datatype, shape, data);
    }

    private static OrtValue ToStringValue(string[] strings, long[] shape)
    {
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        try
        {
            for (int i = 0; i < strings.Length; i++)
            {
                value.StringTensorSetElementAt(strings[i].AsSpan(), i);
            }

            return value;
        }
        catch
        {
            value.Dispose();
            throw;
        }
    }

    private static bool ShapeFits(long[] given, long[] expected)
    {
        if (given.Length != expected.Length)
        {
            return false;
        }

        for (int axis = 0; axis < given.Length; axis++)
        {
            if (expected[axis] >= 0 && given[axis] != expected[axis])
            {
                return false;
            }
        }

        return true;
    }

    private static string FormatShape(long[] shape) => "[" + string.Join(',', shape) + "]";

    /// <summary>
    /// A <see cref="Half"/> array seen as ONNX Runtime's <see cref="Float16"/> (the same 16 bits), so FP16 inputs are
    /// pinned instead of copied.
    /// </summary>
    private sealed unsafe class HalfAsFloat16Memory(Half[] array) : MemoryManager<Float16>
    {
        public override Span<Float16> GetSpan() => MemoryMarshal.Cast<Half, Float16>(array.AsSpan());

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            // The handle frees the GCHandle when ONNX Runtime's value is disposed.
            var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            return new MemoryHandle((Float16*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}

/// <summary>
/// MDS's <see cref="Mds.Contracts.Inference.BFloat16"/> array seen as ONNX Runtime's
/// <see cref="Microsoft.ML.OnnxRuntime.BFloat16"/> (the same 16 bits), so BF16 inputs are pinned instead of copied.
/// </summary>
internal sealed unsafe class Bf16AsOrtMemory(Mds.Contracts.Inference.BFloat16[] array) : MemoryManager<Microsoft.ML.OnnxRuntime.BFloat16>
{
    public override Span<Microsoft.ML.OnnxRuntime.BFloat16> GetSpan() =>
        MemoryMarshal.Cast<Mds.Contracts.Inference.BFloat16, Microsoft.ML.OnnxRuntime.BFloat16>(array.AsSpan());

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        // The handle frees the GCHandle when ONNX Runtime's value is disposed.
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        return new MemoryHandle((Microsoft.ML.OnnxRuntime.BFloat16*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}

/// <summary>A run took longer than the worker's <c>Mds:Worker:InferenceTimeout</c> and was stopped (answered 504).</summary>
internal sealed class InferenceTimeoutException : Exception
{
    public InferenceTimeoutException(string message, Exception inner) : base(message, inner) { }

    public InferenceTimeoutException(string message) : base(message) { }

    public InferenceTimeoutException() { }
}
