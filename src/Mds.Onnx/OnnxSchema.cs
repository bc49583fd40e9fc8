using Mds.Contracts.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.Onnx;

/// <summary>A model's V2 input/output schema, read from its ONNX graph through ONNX Runtime.</summary>
/// <param name="FeatureNames">The model's <c>features</c> metadata (comma-separated names of the input's columns), if any.</param>
/// <param name="Classes">The model's <c>classes</c> metadata (comma-separated class names in score order), if any.</param>
/// <param name="OtherInputs">Inputs that are not V2 tensors (sequences, maps, optionals, element types V2 cannot carry), with their ONNX type.</param>
/// <param name="OtherOutputs">Outputs that are not V2 tensors (e.g. a ZipMap's <c>seq(map(int64,tensor(float)))</c>), with their ONNX type.</param>
public sealed record OnnxSchema(
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs,
    IReadOnlyList<string>? FeatureNames = null,
    IReadOnlyList<string>? Classes = null,
    IReadOnlyList<OnnxValueInfo>? OtherInputs = null,
    IReadOnlyList<OnnxValueInfo>? OtherOutputs = null)
{
    /// <summary>
    /// Loads the model with ONNX Runtime (which validates the graph) and reads its schema.
    /// Inputs or outputs that are not V2 tensors (sequences, maps) are listed apart, in <see cref="OtherInputs"/> and
    /// <see cref="OtherOutputs"/>. Runs in the caller's process: the backend inspects uploads in a child process instead.
    /// </summary>
    /// <exception cref="InvalidOnnxModelException">The bytes are not a model ONNX Runtime can load.</exception>
    public static OnnxSchema Read(string path)
    {
        try
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            using var session = new InferenceSession(path, options);
            return FromSession(session);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOnnxModelException(Clean(e.Message).Replace(path, "the file", StringComparison.Ordinal), e);
        }
    }

    /// <summary>Reads the schema of an already loaded session.</summary>
    public static OnnxSchema FromSession(InferenceSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        var custom = session.ModelMetadata.CustomMetadataMap;
        var (inputs, otherInputs) = ToMetadata(session.InputMetadata);
        var (outputs, otherOutputs) = ToMetadata(session.OutputMetadata);
        return new OnnxSchema(inputs, outputs, Names(custom, "features"), Names(custom, "classes"), otherInputs, otherOutputs);
    }

    private static string[]? Names(Dictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out string? value) && !string.IsNullOrWhiteSpace(value)
            ? value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : null;

    private static (List<TensorMetadata> Tensors, List<OnnxValueInfo> Others) ToMetadata(IReadOnlyDictionary<string, NodeMetadata> nodes)
    {
        var tensors = new List<TensorMetadata>(nodes.Count);
        var others = new List<OnnxValueInfo>();
        foreach (var (name, node) in nodes)
        {
            var datatype = node.IsTensor ? OnnxTypes.ToDatatype(node.ElementDataType) : TensorDatatype.Invalid;
            if (datatype == TensorDatatype.Invalid)
            {
                others.Add(new OnnxValueInfo(name, OnnxTypes.Describe(node)));
                continue;
            }

            tensors.Add(new TensorMetadata(name, datatype.ToWireName(), node.Dimensions.Select(d => d < 0 ? -1L : d).ToArray()));
        }

        return (tensors, others);
    }

    private static string Clean(string message) => OnnxSessions.CleanMessage(message);
}

/// <summary>An input or output that is not a V2 tensor, described in ONNX's type notation.</summary>
/// <param name="Name">The input's or output's name in the graph.</param>
/// <param name="Type">Its ONNX type, e.g. <c>seq(map(int64,tensor(float)))</c>, <c>map(string,tensor(int64))</c>, <c>tensor(bfloat16)</c>.</param>
public sealed record OnnxValueInfo(string Name, string Type);

/// <summary>The uploaded bytes are not an ONNX model that ONNX Runtime can load.</summary>
public sealed class InvalidOnnxModelException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InvalidOnnxModelException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public InvalidOnnxModelException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public InvalidOnnxModelException() { }
}

/// <summary>Maps between ONNX Runtime element types and V2 datatypes.</summary>
public static class OnnxTypes
{
    /// <summary>The V2 datatype of an ONNX tensor element type; Invalid for types V2 cannot carry.</summary>
    public static TensorDatatype ToDatatype(TensorElementType type) => type switch
    {
        TensorElementType.Bool => TensorDatatype.Bool,
        TensorElementType.UInt8 => TensorDatatype.UInt8,
        TensorElementType.UInt16 => TensorDatatype.UInt16,
        TensorElementType.UInt32 => TensorDatatype.UInt32,
        TensorElementType.UInt64 => TensorDatatype.UInt64,
        TensorElementType.Int8 => TensorDatatype.Int8,
        TensorElementType.Int16 => TensorDatatype.Int16,
        TensorElementType.Int32 => TensorDatatype.Int32,
        TensorElementType.Int64 => TensorDatatype.Int64,
        TensorElementType.Float16 => TensorDatatype.Fp16,
        TensorElementType.Float => TensorDatatype.Fp32,
        TensorElementType.Double => TensorDatatype.Fp64,
        TensorElementType.String => TensorDatatype.Bytes,
        _ => TensorDatatype.Invalid,
    };

    /// <summary>A value's type in ONNX's notation: <c>tensor(float)</c>, <c>seq(map(int64,tensor(float)))</c>, <c>optional(...)</c>.</summary>
    public static string Describe(NodeMetadata node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.OnnxValueType switch
        {
            OnnxValueType.ONNX_TYPE_TENSOR => $"tensor({ElementName(node.ElementDataType)})",
            OnnxValueType.ONNX_TYPE_SPARSETENSOR => $"sparse_tensor({ElementName(node.ElementDataType)})",
            OnnxValueType.ONNX_TYPE_SEQUENCE => $"seq({Describe(node.AsSequenceMetadata().ElementMeta)})",
            OnnxValueType.ONNX_TYPE_MAP => $"map({ElementName(node.AsMapMetadata().KeyDataType)},{Describe(node.AsMapMetadata().ValueMetadata)})",
            OnnxValueType.ONNX_TYPE_OPTIONAL => $"optional({Describe(node.AsOptionalMetadata().ElementMeta)})",
            var other => other.ToString(),
        };
    }

    /// <summary>An element type as ONNX spells it in type strings (<c>float</c>, <c>int64</c>, <c>string</c>).</summary>
    public static string ElementName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float",
        TensorElementType.Double => "double",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Complex64 => "complex64",
        TensorElementType.Complex128 => "complex128",
        _ => type.ToString().ToLowerInvariant(),
    };
}
