using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace Mds.ModelGen;

/// <summary>
/// Building blocks for hand-made ONNX graphs: value types (tensors with named, fixed or unnamed dimensions; sequences;
/// maps), named nodes in any domain, attributes, initializers (inline or in an external-data file) and a model with
/// its opset imports, producer and metadata. <see cref="ExportStyles"/> uses them to write models the way real
/// exporters write them.
/// </summary>
internal static class OnnxGraph
{
    /// <summary>The ONNX-ML operator domain (LinearClassifier, ZipMap, TreeEnsembleClassifier, …).</summary>
    internal const string MlDomain = "ai.onnx.ml";

    /// <summary>
    /// A tensor type. Each dimension is a <see cref="long"/> or <see cref="int"/> (a fixed size), a <see cref="string"/>
    /// (a named symbolic dimension, e.g. <c>batch_size</c>) or <c>null</c> (a dimension with neither value nor name,
    /// as skl2onnx writes <c>None</c>).
    /// </summary>
    internal static TypeProto TensorType(TensorProto.Types.DataType elementType, params object?[]? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)elementType };
        if (dims is not null)
        {
            var shape = new TensorShapeProto();
            foreach (var dim in dims)
            {
                shape.Dim.Add(dim switch
                {
                    null => new TensorShapeProto.Types.Dimension(),
                    string name => new TensorShapeProto.Types.Dimension { DimParam = name },
                    int value => new TensorShapeProto.Types.Dimension { DimValue = value },
                    long value => new TensorShapeProto.Types.Dimension { DimValue = value },
                    _ => throw new ArgumentException("A dimension is a long, an int, a string or null.", nameof(dims)),
                });
            }

            tensor.Shape = shape;
        }

        return new TypeProto { TensorType = tensor };
    }

    /// <summary>A sequence of values of <paramref name="element"/>'s type.</summary>
    internal static TypeProto SequenceOf(TypeProto element) =>
        new() { SequenceType = new TypeProto.Types.Sequence { ElemType = element } };

    /// <summary>A map from <paramref name="key"/> (INT64 or STRING) to values of <paramref name="value"/>'s type.</summary>
    internal static TypeProto MapOf(TensorProto.Types.DataType key, TypeProto value) =>
        new() { MapType = new TypeProto.Types.Map { KeyType = (int)key, ValueType = value } };

    /// <summary>A graph input or output named <paramref name="name"/> of <paramref name="type"/>.</summary>
    internal static ValueInfoProto Value(string name, TypeProto type, string docString = "") =>
        new() { Name = name, Type = type, DocString = docString };

    /// <summary>A node named <paramref name="name"/> in <paramref name="domain"/> ("" is the default ONNX domain).</summary>
    internal static NodeProto Node(string opType, string name, string domain, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    internal static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    internal static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    internal static AttributeProto Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        attribute.Floats.AddRange(values);
        return attribute;
    }

    internal static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    internal static AttributeProto Strings(string name, params string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    /// <summary>An FP32 initializer stored as raw little-endian bytes, as PyTorch and skl2onnx store theirs.</summary>
    internal static TensorProto RawFloatTensor(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(FloatBytes(values)) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>An INT64 initializer (int64_data).</summary>
    internal static TensorProto Int64Tensor(string name, long[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    /// <summary>
    /// An FP32 initializer whose data lies in an external-data file: <c>data_location</c> EXTERNAL with the
    /// <c>location</c>, <c>offset</c> and <c>length</c> entries onnx's external-data helper writes.
    /// </summary>
    internal static TensorProto ExternalFloatTensor(string name, long[] dims, string location, long offset, long length)
    {
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            DataLocation = TensorProto.Types.DataLocation.External,
        };
        tensor.Dims.AddRange(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        return tensor;
    }

    /// <summary>Little-endian bytes of <paramref name="values"/>.</summary>
    internal static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return bytes;
    }

    /// <summary>The producer fields and top-level strings of a model, as an exporter fills them.</summary>
    internal sealed record Producer(string Name, string Version, long IrVersion, string Domain = "", long ModelVersion = 0, string DocString = "");

    /// <summary>
    /// Serializes <paramref name="graph"/> as a model with <paramref name="producer"/>'s fields, one opset import per
    /// (domain, version) pair in the given order and <paramref name="metadata"/> as <c>metadata_props</c>.
    /// </summary>
    internal static byte[] Model(GraphProto graph, Producer producer, (string Domain, long Version)[] opsets, params (string Key, string Value)[] metadata)
    {
        var model = new ModelProto
        {
            IrVersion = producer.IrVersion,
            ProducerName = producer.Name,
            ProducerVersion = producer.Version,
            Domain = producer.Domain,
            ModelVersion = producer.ModelVersion,
            DocString = producer.DocString,
            Graph = graph,
        };
        foreach (var (domain, version) in opsets)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }

        foreach (var (key, value) in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model.ToByteArray();
    }
}
