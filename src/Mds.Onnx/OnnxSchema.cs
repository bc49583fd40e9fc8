using System.Globalization;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Mds.Onnx;

/// <summary>
/// A model's V2 input/output schema, read from its ONNX graph through ONNX Runtime, and what MDS cannot serve in it.
/// A sequence of maps (ZipMap: class label → probability, one map a row) is served as an FP32/FP64 tensor
/// <c>[rows, classes]</c> whose <see cref="TensorMetadata.ClassLabels"/> name the columns; a sequence of tensors as one
/// tensor with the sequence as a new first axis.
/// </summary>
/// <param name="FeatureNames">The model's <c>features</c> metadata (comma-separated names of the input's columns), if any.</param>
/// <param name="Classes">The model's <c>classes</c> metadata (comma-separated class names in score order), or else a ZipMap output's labels.</param>
/// <param name="Problems">Why the model cannot be served, one sentence each (inputs that are not tensors, outputs of no V2 form); empty when it can.</param>
/// <param name="File">What the file says about itself (producer, doc strings, metadata), when read.</param>
public sealed record OnnxSchema(
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs,
    IReadOnlyList<string>? FeatureNames = null,
    IReadOnlyList<string>? Classes = null,
    IReadOnlyList<string>? Problems = null,
    ModelFileInfo? File = null)
{
    /// <summary>True when every input and output has a V2 form.</summary>
    public bool CanServe => Problems is not { Count: > 0 } && Inputs.Count > 0 && Outputs.Count > 0;

    /// <summary>
    /// Loads the model with ONNX Runtime (which validates the graph) and reads its schema, and the file's own facts.
    /// </summary>
    /// <exception cref="InvalidOnnxModelException">The bytes are not a model ONNX Runtime can load.</exception>
    public static OnnxSchema Read(string path)
    {
        try
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            using var session = new InferenceSession(path, options);
            // After ONNX Runtime accepted the file, so a broken file is described by ONNX Runtime's own words.
            return FromSession(session, OnnxFileFacts.Read(path));
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOnnxModelException(Clean(e.Message).Replace(path, "the file", StringComparison.Ordinal), e);
        }
    }

    /// <summary>Reads the schema of an already loaded session; <paramref name="facts"/> (from the same file) add ZipMap labels and the file's facts.</summary>
    public static OnnxSchema FromSession(InferenceSession session, OnnxFileFacts? facts = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        var custom = session.ModelMetadata.CustomMetadataMap;
        var problems = new List<string>();
        var inputs = new List<TensorMetadata>(session.InputMetadata.Count);
        foreach (var (name, node) in session.InputMetadata)
        {
            if (TensorOf(name, node) is { } tensor)
            {
                inputs.Add(tensor);
            }
            else
            {
                problems.Add($"input '{name}' is {Describe(node)}; MDS serves models whose inputs are tensors (export the model so that it takes tensors, e.g. without a DictVectorizer)");
            }
        }

        var outputs = new List<TensorMetadata>(session.OutputMetadata.Count);
        foreach (var (name, node) in session.OutputMetadata)
        {
            var form = OutputForm.Of(name, node, facts?.ZipMapLabels.GetValueOrDefault(name));
            if (form.Metadata is { } tensor)
            {
                outputs.Add(tensor);
            }
            else
            {
                problems.Add(form.Problem!);
            }
        }

        var classes = Names(custom, "classes") ?? outputs.FirstOrDefault(o => o.ClassLabels is not null)?.ClassLabels;
        return new OnnxSchema(inputs, outputs, Names(custom, "features"), classes, problems, FileInfo(session.ModelMetadata, facts));
    }

    /// <summary>The tensor metadata of a plain tensor with a V2 datatype; null for anything else.</summary>
    internal static TensorMetadata? TensorOf(string name, NodeMetadata node)
    {
        if (!node.IsTensor)
        {
            return null;
        }

        var datatype = OnnxTypes.ToDatatype(node.ElementDataType);
        return datatype == TensorDatatype.Invalid
            ? null
            : new TensorMetadata(name, datatype.ToWireName(), node.Dimensions.Select(d => d < 0 ? -1L : d).ToArray());
    }

    /// <summary>An ONNX type as a person reads it: <c>a map(string → float)</c>, <c>a sequence of tensor(float)</c>.</summary>
    public static string Describe(NodeMetadata node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return "a " + TypeName(node);
    }

    private static string TypeName(NodeMetadata node) => node.OnnxValueType switch
    {
        OnnxValueType.ONNX_TYPE_TENSOR => $"tensor({node.ElementDataType.ToString().ToLowerInvariant()})",
        OnnxValueType.ONNX_TYPE_SEQUENCE => $"sequence of {TypeName(node.AsSequenceMetadata().ElementMeta)}",
        OnnxValueType.ONNX_TYPE_MAP => $"map({node.AsMapMetadata().KeyDataType.ToString().ToLowerInvariant()} → {TypeName(node.AsMapMetadata().ValueMetadata)})",
        OnnxValueType.ONNX_TYPE_OPTIONAL => "optional value",
        OnnxValueType.ONNX_TYPE_SPARSETENSOR => "sparse tensor",
        _ => "value of an unknown kind",
    };

    private static ModelFileInfo? FileInfo(Microsoft.ML.OnnxRuntime.ModelMetadata metadata, OnnxFileFacts? facts)
    {
        string? producer = facts?.Producer ?? NullIfEmpty(metadata.ProducerName);
        string? description = facts?.DocString ?? NullIfEmpty(metadata.Description);
        var props = facts?.MetadataProps ?? metadata.CustomMetadataMap;
        var docs = facts?.DocStrings ?? new Dictionary<string, string>();
        return producer is null && description is null && props.Count == 0 && docs.Count == 0 && facts?.ProducerVersion is null
            ? null
            : new ModelFileInfo(producer, facts?.ProducerVersion, description, facts?.GraphName ?? NullIfEmpty(metadata.GraphName),
                new Dictionary<string, string>(props, StringComparer.Ordinal), new Dictionary<string, string>(docs, StringComparer.Ordinal));
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    /// <summary>A metadata list: a JSON array of strings (as some exporters write it) or comma-separated names.</summary>
    private static IReadOnlyList<string>? Names(Dictionary<string, string> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out string? value) || string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return value.TrimStart().StartsWith('[') && TensorMetadata.DecodeLabels(value.Trim()) is { Count: > 0 } list
            ? list
            : value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    private static string Clean(string message) => OnnxSessions.CleanMessage(message);
}

/// <summary>How one model output travels over V2: as it is (a tensor), or converted from a sequence.</summary>
public enum OutputKind
{
    /// <summary>A tensor, passed as it is.</summary>
    Tensor,

    /// <summary>A sequence of maps (ZipMap), one map a row: a <c>[rows, classes]</c> tensor.</summary>
    SequenceOfMaps,

    /// <summary>A sequence of equally shaped tensors: stacked along a new first axis.</summary>
    SequenceOfTensors,
}

/// <summary>
/// The V2 form of one model output, or why it has none. For a sequence of maps, <see cref="Labels"/> are the columns'
/// class labels in order (from the file's ZipMap node; null when unknown until the first answer).
/// </summary>
/// <param name="Kind">How the output is converted.</param>
/// <param name="Metadata">The V2 metadata of the converted output; null when it has no V2 form.</param>
/// <param name="Problem">Why the output has no V2 form; null when it has one.</param>
/// <param name="KeyType">A map's key type (Int64 or String), for <see cref="OutputKind.SequenceOfMaps"/>.</param>
/// <param name="Labels">The class labels of a sequence of maps, in column order, when the file names them.</param>
public sealed record OutputForm(OutputKind Kind, TensorMetadata? Metadata, string? Problem, TensorElementType KeyType = TensorElementType.DataTypeMax, IReadOnlyList<string>? Labels = null)
{
    /// <summary>The form of output <paramref name="name"/>; <paramref name="zipMapLabels"/> are its labels when a ZipMap node makes it.</summary>
    public static OutputForm Of(string name, NodeMetadata node, IReadOnlyList<string>? zipMapLabels)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(node);
        if (node.IsTensor)
        {
            return OnnxSchema.TensorOf(name, node) is { } tensor
                ? new OutputForm(OutputKind.Tensor, tensor, null)
                : new OutputForm(OutputKind.Tensor, null, $"output '{name}' has element type {node.ElementDataType}, which has no V2 datatype");
        }

        if (node.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            var element = node.AsSequenceMetadata().ElementMeta;
            if (element.OnnxValueType == OnnxValueType.ONNX_TYPE_MAP)
            {
                var map = element.AsMapMetadata();
                var value = map.ValueMetadata;
                bool keyOk = map.KeyDataType is TensorElementType.Int64 or TensorElementType.String;
                bool valueOk = value.IsTensor && value.ElementDataType is TensorElementType.Float or TensorElementType.Double;
                if (keyOk && valueOk)
                {
                    var datatype = value.ElementDataType == TensorElementType.Double ? TensorDatatype.Fp64 : TensorDatatype.Fp32;
                    var metadata = new TensorMetadata(name, datatype.ToWireName(), [-1, zipMapLabels?.Count ?? -1]) { ClassLabels = zipMapLabels };
                    return new OutputForm(OutputKind.SequenceOfMaps, metadata, null, map.KeyDataType, zipMapLabels);
                }
            }
            else if (OnnxSchema.TensorOf(name, element) is { } tensor)
            {
                long[] shape = [-1, .. tensor.Shape];
                return new OutputForm(OutputKind.SequenceOfTensors, tensor with { Shape = shape }, null);
            }
        }

        return new OutputForm(OutputKind.Tensor, null,
            $"output '{name}' is {OnnxSchema.Describe(node)}, which has no V2 form (MDS serves tensors, sequences of equally shaped tensors, and sequences of maps from int64 or string labels to probabilities)");
    }

    /// <summary>The column of each int64 label (a ZipMap with <c>classlabels_int64s</c>), for looking a map's keys up.</summary>
    public IReadOnlyDictionary<long, int>? Int64Columns { get; } = KeyType == TensorElementType.Int64 && Labels is not null
        ? Labels.Select((l, i) => (Key: long.Parse(l, CultureInfo.InvariantCulture), Column: i)).DistinctBy(p => p.Key).ToDictionary(p => p.Key, p => p.Column)
        : null;

    /// <summary>The column of each string label.</summary>
    public IReadOnlyDictionary<string, int>? StringColumns { get; } = KeyType == TensorElementType.String && Labels is not null
        ? Labels.Select((l, i) => (Key: l, Column: i)).DistinctBy(p => p.Key).ToDictionary(p => p.Key, p => p.Column, StringComparer.Ordinal)
        : null;
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
