using Mds.Contracts.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.Onnx;

/// <summary>A model's V2 input/output schema, read from its ONNX graph through ONNX Runtime.</summary>
/// <param name="FeatureNames">The model's <c>features</c> metadata (comma-separated names of the input's columns), if any.</param>
/// <param name="Classes">The model's <c>classes</c> metadata (comma-separated class names in score order), if any.</param>
public sealed record OnnxSchema(
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs,
    IReadOnlyList<string>? FeatureNames = null,
    IReadOnlyList<string>? Classes = null)
{
    /// <summary>
    /// Loads the model with ONNX Runtime (which validates the graph) and reads its schema.
    /// Inputs or outputs that are not tensors (sequences, maps) are left out of the schema.
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
        return new OnnxSchema(ToMetadata(session.InputMetadata), ToMetadata(session.OutputMetadata), Names(custom, "features"), Names(custom, "classes"));
    }

    private static string[]? Names(Dictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out string? value) && !string.IsNullOrWhiteSpace(value)
            ? value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : null;

    private static List<TensorMetadata> ToMetadata(IReadOnlyDictionary<string, NodeMetadata> nodes)
    {
        var list = new List<TensorMetadata>(nodes.Count);
        foreach (var (name, node) in nodes)
        {
            if (!node.IsTensor)
            {
                continue;
            }

            var datatype = OnnxTypes.ToDatatype(node.ElementDataType);
            if (datatype == TensorDatatype.Invalid)
            {
                continue;
            }

            list.Add(new TensorMetadata(name, datatype.ToWireName(), node.Dimensions.Select(d => d < 0 ? -1L : d).ToArray()));
        }

        return list;
    }

    private static string Clean(string message)
    {
        // ONNX Runtime prefixes messages with "[ErrorCode:...] "; keep the human part.
        int bracket = message.IndexOf("] ", StringComparison.Ordinal);
        return bracket >= 0 && message.StartsWith('[') ? message[(bracket + 2)..] : message;
    }
}

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
        TensorElementType.BFloat16 => TensorDatatype.Bf16,
        TensorElementType.Float => TensorDatatype.Fp32,
        TensorElementType.Double => TensorDatatype.Fp64,
        TensorElementType.String => TensorDatatype.Bytes,
        _ => TensorDatatype.Invalid,
    };
}
