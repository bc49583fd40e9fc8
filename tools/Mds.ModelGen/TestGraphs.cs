using Google.Protobuf;
using Mds.Contracts.Inference;
using Onnx;

namespace Mds.ModelGen;

/// <summary>
/// Small hand-made ONNX models for tests, built node by node (opset 13, IR version 8), each returned as the
/// serialized model's bytes.
/// </summary>
public static class TestGraphs
{
    private const long IrVersion = 8;
    private const long Opset = 13;

    /// <summary>
    /// <c>input</c> → Identity → <c>output</c>, both of <paramref name="datatype"/> and <paramref name="shape"/>.
    /// A negative dimension becomes symbolic: <c>N</c> on the first axis, <c>d1</c>, <c>d2</c>, … on the others.
    /// </summary>
    public static byte[] Identity(TensorDatatype datatype, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var elementType = ElementType(datatype);
        var graph = new GraphProto { Name = "identity_" + datatype.ToWireName().ToLowerInvariant() };
        graph.Input.Add(Value("input", elementType, shape));
        graph.Output.Add(Value("output", elementType, shape));
        graph.Node.Add(Node("Identity", ["input"], ["output"]));
        return Serialize(graph);
    }

    /// <summary>
    /// <c>x</c> FP32 [-1, n] → <c>y</c> FP32 [-1, 1] computing y = x·w + b, with n = <paramref name="weights"/>' length
    /// (MatMul and Add over initializers).
    /// </summary>
    public static byte[] Linear(float[] weights, float bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var graph = new GraphProto { Name = "linear" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, weights.Length]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Initializer.Add(FloatTensor("w", weights, [weights.Length, 1]));
        graph.Initializer.Add(FloatTensor("b", [bias], [1]));
        graph.Node.Add(Node("MatMul", ["x", "w"], ["xw"]));
        graph.Node.Add(Node("Add", ["xw", "b"], ["y"]));
        return Serialize(graph);
    }

    /// <summary>
    /// A multi-layer perceptron with seeded random weights: <c>x</c> FP32 [-1, widths[0]] → (MatMul, Add, Relu) per
    /// hidden layer → MatMul, Add → <c>y</c> FP32 [-1, widths[^1]]. Wide layers make each run cost real compute and
    /// memory traffic, the kind of model adaptive batching is for.
    /// </summary>
    /// <param name="seed">Seeds the weights (scaled by 1/√fan-in) so the same arguments give the same bytes.</param>
    /// <param name="widths">Layer widths, input first, output last; at least two.</param>
    public static byte[] Mlp(int seed, params int[] widths)
    {
        ArgumentNullException.ThrowIfNull(widths);
        ArgumentOutOfRangeException.ThrowIfLessThan(widths.Length, 2);
        var random = new Random(seed);
        var graph = new GraphProto { Name = "mlp" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, widths[0]]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, widths[^1]]));
        string current = "x";
        for (int layer = 0; layer < widths.Length - 1; layer++)
        {
            int fanIn = widths[layer], fanOut = widths[layer + 1];
            float scale = 1f / MathF.Sqrt(fanIn);
            var weights = new float[fanIn * fanOut];
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = (float)(random.NextDouble() * 2 - 1) * scale;
            }

            var bias = new float[fanOut];
            for (int i = 0; i < bias.Length; i++)
            {
                bias[i] = (float)(random.NextDouble() * 0.2 - 0.1);
            }

            string n = layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            graph.Initializer.Add(FloatTensor("w" + n, weights, [fanIn, fanOut]));
            graph.Initializer.Add(FloatTensor("b" + n, bias, [fanOut]));
            graph.Node.Add(Node("MatMul", [current, "w" + n], ["h" + n]));
            bool last = layer == widths.Length - 2;
            graph.Node.Add(Node("Add", ["h" + n, "b" + n], [last ? "y" : "a" + n]));
            if (!last)
            {
                graph.Node.Add(Node("Relu", ["a" + n], ["r" + n]));
                current = "r" + n;
            }
        }

        return Serialize(graph);
    }

    /// <summary>
    /// An image-shaped input with little compute behind it: <c>x</c> FP32 [-1, channels, height, width] →
    /// GlobalAveragePool → Flatten → MatMul, Add (seeded weights) → <c>y</c> FP32 [-1, classes]. A request carries a
    /// large tensor (1×3×224×224 is 588 KiB of FP32) and gets a small one back, so the cost of moving the input dominates.
    /// </summary>
    public static byte[] GlobalPoolClassifier(int seed, int channels, int height, int width, int classes)
    {
        var random = new Random(seed);
        var weights = new float[channels * classes];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() * 2 - 1);
        }

        var bias = new float[classes];
        for (int i = 0; i < bias.Length; i++)
        {
            bias[i] = (float)(random.NextDouble() * 0.2 - 0.1);
        }

        var graph = new GraphProto { Name = "global_pool_classifier" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, channels, height, width]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, classes]));
        graph.Initializer.Add(FloatTensor("w", weights, [channels, classes]));
        graph.Initializer.Add(FloatTensor("b", bias, [classes]));
        graph.Node.Add(Node("GlobalAveragePool", ["x"], ["pooled"]));
        graph.Node.Add(Node("Flatten", ["pooled"], ["features"])); // axis 1: [N, C, 1, 1] → [N, C]
        graph.Node.Add(Node("MatMul", ["features", "w"], ["logits"]));
        graph.Node.Add(Node("Add", ["logits", "b"], ["y"]));
        return Serialize(graph);
    }

    /// <summary>Inputs <c>a</c> and <c>b</c>, FP32 [-1, 3]; outputs <c>sum</c> (a + b) and <c>product</c> (a * b).</summary>
    public static byte[] TwoInputsTwoOutputs()
    {
        var graph = new GraphProto { Name = "two_inputs_two_outputs" };
        graph.Input.Add(Value("a", TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Input.Add(Value("b", TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Output.Add(Value("sum", TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Output.Add(Value("product", TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Node.Add(Node("Add", ["a", "b"], ["sum"]));
        graph.Node.Add(Node("Mul", ["a", "b"], ["product"]));
        return Serialize(graph);
    }

    /// <summary>
    /// <paramref name="input"/> FP32 [-1, width] → <paramref name="output"/> FP32 [-1, width] computing
    /// y = x·scale + shift element-wise (Mul, Add over scalar initializers). Pipelines chain these: the numbers say
    /// which steps ran and in what order.
    /// </summary>
    public static byte[] Affine(string input, string output, int width, float scale, float shift)
    {
        var graph = new GraphProto { Name = "affine" };
        graph.Input.Add(Value(input, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Output.Add(Value(output, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Initializer.Add(FloatTensor("scale", [scale], []));
        graph.Initializer.Add(FloatTensor("shift", [shift], []));
        graph.Node.Add(Node("Mul", [input, "scale"], ["scaled"]));
        graph.Node.Add(Node("Add", ["scaled", "shift"], [output]));
        return Serialize(graph);
    }

    /// <summary>Inputs <paramref name="a"/> and <paramref name="b"/>, FP32 [-1, width] → <paramref name="output"/> = a + b: a join's target.</summary>
    public static byte[] Sum(string a, string b, string output, int width)
    {
        var graph = new GraphProto { Name = "sum" };
        graph.Input.Add(Value(a, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Input.Add(Value(b, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Output.Add(Value(output, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Node.Add(Node("Add", [a, b], [output]));
        return Serialize(graph);
    }

    /// <summary>
    /// A classifier whose answer the caller controls: <paramref name="input"/> FP32 [-1, width] → <c>label</c> INT64
    /// [-1, 1], the index of each row's largest value (ArgMax), and <c>scores</c> FP32 [-1, width], the row's Softmax.
    /// For pipeline conditions (<c>classify.outputs.label == 1</c>, <c>classify.outputs.scores[:,1] &gt; 0.8</c>).
    /// </summary>
    public static byte[] Classifier(string input, int width)
    {
        var graph = new GraphProto { Name = "classifier" };
        graph.Input.Add(Value(input, TensorProto.Types.DataType.Float, [-1, width]));
        graph.Output.Add(Value("label", TensorProto.Types.DataType.Int64, [-1, 1]));
        graph.Output.Add(Value("scores", TensorProto.Types.DataType.Float, [-1, width]));
        graph.Node.Add(Node("ArgMax", [input], ["label"], IntAttribute("axis", 1), IntAttribute("keepdims", 1)));
        graph.Node.Add(Node("Softmax", [input], ["scores"], IntAttribute("axis", 1)));
        return Serialize(graph);
    }

    /// <summary>
    /// A model whose cost grows with the rows sent: <c>x</c> FP32 [-1, 1] → broadcast to [N, width] → <paramref name="layers"/>
    /// MatMuls by one shared width×width identity matrix → ReduceMean over the row → <c>y</c> FP32 [-1, 1], equal to x.
    /// About 2·N·width²·layers floating-point operations: one row answers in microseconds, thousands take seconds
    /// (for timeouts and for showing that steps overlap). The shared initializer keeps the file at width² floats.
    /// </summary>
    public static byte[] Slow(int width, int layers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        var identity = new float[width * width];
        for (int i = 0; i < width; i++)
        {
            identity[(i * width) + i] = 1f;
        }

        var graph = new GraphProto { Name = "slow" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Initializer.Add(FloatTensor("ones", Enumerable.Repeat(1f, width).ToArray(), [1, width]));
        graph.Initializer.Add(FloatTensor("w", identity, [width, width]));
        graph.Node.Add(Node("MatMul", ["x", "ones"], ["h0"]));
        for (int layer = 1; layer <= layers; layer++)
        {
            string n = layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string previous = (layer - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            graph.Node.Add(Node("MatMul", ["h" + previous, "w"], ["h" + n]));
        }

        graph.Node.Add(Node("ReduceMean", ["h" + layers.ToString(System.Globalization.CultureInfo.InvariantCulture)], ["y"], IntAttribute("axes", [1]), IntAttribute("keepdims", 1)));
        return Serialize(graph);
    }

    /// <summary>
    /// A table lookup that fails at run time on a value the caller sends: <c>x</c> FP32 [-1, width] → Cast to INT64 →
    /// Gather from <paramref name="table"/> → <c>y</c> FP32 [-1, width]. An x outside [-table.Length, table.Length) makes
    /// ONNX Runtime reject the run (indices out of bounds), which the worker answers as the caller's error.
    /// </summary>
    public static byte[] Lookup(float[] table, int width = 1)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var graph = new GraphProto { Name = "lookup" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, width]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, width]));
        graph.Initializer.Add(FloatTensor("table", table, [table.Length]));
        graph.Node.Add(Node("Cast", ["x"], ["index"], IntAttribute("to", (long)TensorProto.Types.DataType.Int64)));
        graph.Node.Add(Node("Gather", ["table", "index"], ["y"], IntAttribute("axis", 0)));
        return Serialize(graph);
    }

    /// <summary>
    /// A file of a few hundred bytes that needs <paramref name="megabytes"/> MiB to load: a constant
    /// <c>Expand</c>ed to that many floats and summed, which ONNX Runtime's constant folding (ORT_ENABLE_ALL, as workers
    /// load) computes while creating the session. <c>x</c> FP32 [-1, 1] → <c>y</c> = x + the sum. For the upload
    /// inspector's memory cap.
    /// </summary>
    public static byte[] MemoryHog(int megabytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(megabytes, 1);
        var graph = new GraphProto { Name = "memory_hog" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Output.Add(Value("y", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Initializer.Add(FloatTensor("one", [1f], [1]));
        var shape = new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(1);
        shape.Int64Data.Add(megabytes * 1024L * 1024 / sizeof(float));
        graph.Initializer.Add(shape);
        graph.Node.Add(Node("Expand", ["one", "shape"], ["big"]));
        graph.Node.Add(Node("ReduceSum", ["big"], ["total"], IntAttribute("keepdims", 1)));
        graph.Node.Add(Node("Add", ["x", "total"], ["y"]));
        return Serialize(graph);
    }

    /// <summary>
    /// A classifier exported the way skl2onnx does by default: <c>x</c> FP32 [-1, 2] → <c>label</c> INT64 [-1] (ArgMax)
    /// and <c>probabilities</c>, a ZipMap's <c>seq(map(int64,tensor(float)))</c> (Softmax then ZipMap from ai.onnx.ml).
    /// </summary>
    public static byte[] ZipMapClassifier()
    {
        var graph = new GraphProto { Name = "zipmap_classifier" };
        graph.Input.Add(Value("x", TensorProto.Types.DataType.Float, [-1, 2]));
        graph.Output.Add(Value("label", TensorProto.Types.DataType.Int64, [-1]));
        graph.Output.Add(new ValueInfoProto
        {
            Name = "probabilities",
            Type = new TypeProto
            {
                SequenceType = new TypeProto.Types.Sequence
                {
                    ElemType = new TypeProto
                    {
                        MapType = new TypeProto.Types.Map
                        {
                            KeyType = (int)TensorProto.Types.DataType.Int64,
                            ValueType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
                        },
                    },
                },
            },
        });
        graph.Node.Add(Node("Softmax", ["x"], ["scores"], IntAttribute("axis", 1)));
        graph.Node.Add(Node("ArgMax", ["scores"], ["label"], IntAttribute("axis", 1), IntAttribute("keepdims", 0)));
        var zipMap = Node("ZipMap", ["scores"], ["probabilities"], new AttributeProto
        {
            Name = "classlabels_int64s", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0L, 1L },
        });
        zipMap.Domain = "ai.onnx.ml";
        graph.Node.Add(zipMap);
        return Serialize(graph, ("ai.onnx.ml", 1));
    }

    /// <summary>
    /// A classifier with one input per column, as skl2onnx exports a ColumnTransformer pipeline (plain tensors, no
    /// ZipMap): <c>age</c> FP32 [-1, 1] and <c>city</c> BYTES [-1, 1] → LabelEncoder (ai.onnx.ml; paris 0, rome 1,
    /// oslo 2, anything else -1) → Cast → Concat [age, city] → MatMul, Add → Softmax <c>probabilities</c> FP32
    /// [-1, 3] and ArgMax <c>label</c> INT64 [-1]. The logits are (0, 2c − 1, 4c − 4 + 0.02·age) for city code c:
    /// the class is the city's code until age tips it towards 2 (rome at 30: logits 0, 1, 0.6, class 1). Metadata
    /// names the classes <c>0,1,2</c>, as skl2onnx's integer labels.
    /// </summary>
    public static byte[] PerColumnClassifier()
    {
        var graph = new GraphProto { Name = "per_column_classifier" };
        graph.Input.Add(Value("age", TensorProto.Types.DataType.Float, [-1, 1]));
        graph.Input.Add(Value("city", TensorProto.Types.DataType.String, [-1, 1]));
        graph.Output.Add(Value("label", TensorProto.Types.DataType.Int64, [-1]));
        graph.Output.Add(Value("probabilities", TensorProto.Types.DataType.Float, [-1, 3]));
        graph.Initializer.Add(FloatTensor("w", [0f, 0f, 0.02f, 0f, 2f, 4f], [2, 3]));
        graph.Initializer.Add(FloatTensor("b", [0f, -1f, -4f], [3]));
        var encoder = Node("LabelEncoder", ["city"], ["city_code"],
            StringsAttribute("keys_strings", ["paris", "rome", "oslo"]), IntAttribute("values_int64s", [0, 1, 2]), IntAttribute("default_int64", -1));
        encoder.Domain = "ai.onnx.ml";
        graph.Node.Add(encoder);
        graph.Node.Add(Node("Cast", ["city_code"], ["city_value"], IntAttribute("to", (long)TensorProto.Types.DataType.Float)));
        graph.Node.Add(Node("Concat", ["age", "city_value"], ["features"], IntAttribute("axis", 1)));
        graph.Node.Add(Node("MatMul", ["features", "w"], ["features_w"]));
        graph.Node.Add(Node("Add", ["features_w", "b"], ["logits"]));
        graph.Node.Add(Node("Softmax", ["logits"], ["probabilities"], IntAttribute("axis", 1)));
        graph.Node.Add(Node("ArgMax", ["logits"], ["label"], IntAttribute("axis", 1), IntAttribute("keepdims", 0)));
        var model = Model(graph);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 2 });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "classes", Value = "0,1,2" });
        return model.ToByteArray();
    }

    /// <summary>1 KiB of seeded random bytes: not a model ONNX Runtime can load.</summary>
    public static byte[] Corrupt()
    {
        var bytes = new byte[1024];
        new Random(13).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The ONNX tensor element type that carries a V2 datatype.</summary>
    public static TensorProto.Types.DataType ElementType(TensorDatatype datatype) => datatype switch
    {
        TensorDatatype.Bool => TensorProto.Types.DataType.Bool,
        TensorDatatype.UInt8 => TensorProto.Types.DataType.Uint8,
        TensorDatatype.UInt16 => TensorProto.Types.DataType.Uint16,
        TensorDatatype.UInt32 => TensorProto.Types.DataType.Uint32,
        TensorDatatype.UInt64 => TensorProto.Types.DataType.Uint64,
        TensorDatatype.Int8 => TensorProto.Types.DataType.Int8,
        TensorDatatype.Int16 => TensorProto.Types.DataType.Int16,
        TensorDatatype.Int32 => TensorProto.Types.DataType.Int32,
        TensorDatatype.Int64 => TensorProto.Types.DataType.Int64,
        TensorDatatype.Fp16 => TensorProto.Types.DataType.Float16,
        TensorDatatype.Bf16 => TensorProto.Types.DataType.Bfloat16,
        TensorDatatype.Fp32 => TensorProto.Types.DataType.Float,
        TensorDatatype.Fp64 => TensorProto.Types.DataType.Double,
        TensorDatatype.Bytes => TensorProto.Types.DataType.String,
        _ => throw new ArgumentOutOfRangeException(nameof(datatype), datatype, "No ONNX element type for this datatype."),
    };

    internal static ValueInfoProto Value(string name, TensorProto.Types.DataType elementType, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        for (int axis = 0; axis < shape.Length; axis++)
        {
            tensorShape.Dim.Add(shape[axis] >= 0
                ? new TensorShapeProto.Types.Dimension { DimValue = shape[axis] }
                : new TensorShapeProto.Types.Dimension { DimParam = axis == 0 ? "N" : "d" + axis.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = tensorShape } },
        };
    }

    internal static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = opType.ToLowerInvariant() + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    internal static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static AttributeProto IntAttribute(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static AttributeProto StringsAttribute(string name, string[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    internal static TensorProto FloatTensor(string name, float[] values, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        return tensor;
    }

    internal static byte[] Serialize(GraphProto graph, params (string Domain, long Version)[] moreOpsets) => Model(graph, moreOpsets).ToByteArray();

    private static ModelProto Model(GraphProto graph, params (string Domain, long Version)[] moreOpsets)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Mds.ModelGen",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (domain, version) in moreOpsets)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }

        return model;
    }
}
