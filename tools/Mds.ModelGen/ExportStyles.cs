using System.IO.Compression;
using System.Text.Json;
using Onnx;
using static Mds.ModelGen.OnnxGraph;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Mds.ModelGen;

/// <summary>
/// A model whose initializers live in an ONNX external-data file, as <c>torch.onnx.export</c> or
/// <c>onnx.save_model(..., save_as_external_data=True)</c> writes large models.
/// </summary>
/// <param name="Model">The bytes of the <c>.onnx</c> file (graph only; initializers point at <paramref name="WeightsLocation"/>).</param>
/// <param name="WeightsLocation">The <c>location</c> every external initializer names, relative to the model's directory.</param>
/// <param name="Weights">The bytes of the external-data file.</param>
public sealed record ExternalDataModel(byte[] Model, string WeightsLocation, byte[] Weights)
{
    /// <summary>
    /// A zip as a researcher would upload it: the model as <paramref name="modelEntry"/> and the weights as
    /// <paramref name="weightsEntry"/> (default: <see cref="WeightsLocation"/>, so the model finds them).
    /// </summary>
    public byte[] ToZip(string modelEntry = "model.onnx", string? weightsEntry = null)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, modelEntry, Model);
            Write(zip, weightsEntry ?? WeightsLocation, Weights);
        }

        return buffer.ToArray();
    }

    /// <summary>Writes the model as <paramref name="modelFileName"/> and the weights at <see cref="WeightsLocation"/> under <paramref name="directory"/>; returns the model's path.</summary>
    public string WriteTo(string directory, string modelFileName = "model.onnx")
    {
        Directory.CreateDirectory(directory);
        string model = Path.Combine(directory, modelFileName);
        File.WriteAllBytes(model, Model);
        string weights = Path.GetFullPath(Path.Combine(directory, WeightsLocation));
        Directory.CreateDirectory(Path.GetDirectoryName(weights)!);
        File.WriteAllBytes(weights, Weights);
        return model;
    }

    private static void Write(ZipArchive zip, string name, byte[] bytes)
    {
        using var stream = zip.CreateEntry(name).Open();
        stream.Write(bytes);
    }
}

/// <summary>
/// Test models written the way real exporters write them (node types and names, attributes, opsets, producer,
/// metadata), one method per export style: skl2onnx classifiers with ZipMap and per-column string inputs, an
/// onnxmltools LightGBM classifier, PyTorch FP16/BF16 and external-data MLPs, image classifiers (NCHW from PyTorch,
/// NHWC from tf2onnx), and graphs MDS must refuse (sequence and map inputs, sequence outputs).
/// <see cref="ExportStylesReference"/> computes what each should answer.
/// </summary>
public static class ExportStyles
{
    /// <summary>skl2onnx's producer fields (skl2onnx 1.17 with its default target opset 21: IR 10, ai.onnx.ml 3).</summary>
    private static readonly Producer Skl2Onnx = new("skl2onnx", "1.17.0", 10, Domain: "ai.onnx");

    private static readonly (string, long)[] Skl2OnnxOpsets = [(MlDomain, 3), ("", 21)];

    private static readonly Producer OnnxMlTools = new("OnnxMLTools", "1.13.0", 8, Domain: "onnxconverter-common");

    private static readonly Producer PyTorch = new("pytorch", "2.5.1", 8);

    private static readonly Producer Tf2Onnx = new("tf2onnx", "1.16.1 15c810", 8);

    private static readonly Producer ModelGen = new("Mds.ModelGen", "1", 8);

    /// <summary>The ONNX metadata key under which the image classifiers list their classes (a JSON array of strings).</summary>
    public const string ClassesMetadataKey = "classes";

    /// <summary>
    /// skl2onnx's default export of a multinomial <c>LogisticRegression</c> on iris:
    /// <c>float_input</c> FP32 [None, 4] → LinearClassifier (SOFTMAX, multi_class 1) → Normalizer (L1) → ZipMap.
    /// Outputs <c>output_label</c> INT64 [None] (<paramref name="intLabels"/>: 0, 1, 2) or STRING [None]
    /// ("setosa", "versicolor", "virginica"), and <c>output_probability</c>, a sequence of maps (INT64 or STRING
    /// keys → FP32), one map per row. The batch dimension has neither value nor name, as skl2onnx writes <c>None</c>.
    /// </summary>
    public static byte[] SklearnLogisticRegression(bool intLabels = true)
    {
        var graph = new GraphProto { Name = "ONNX(LogisticRegression)" };
        var keyType = intLabels ? DataType.Int64 : DataType.String;
        graph.Input.Add(Value("float_input", TensorType(DataType.Float, null, 4)));
        graph.Output.Add(Value("output_label", TensorType(keyType, [null])));
        graph.Output.Add(Value("output_probability", SequenceOf(MapOf(keyType, TensorType(DataType.Float)))));
        var labels = intLabels
            ? Ints("classlabels_ints", 0, 1, 2)
            : Strings("classlabels_strings", [.. ExportStylesReference.IrisClasses]);
        graph.Node.Add(Node("LinearClassifier", "LinearClassifier", MlDomain, ["float_input"], ["label", "probability_tensor"],
            labels,
            Floats("coefficients", [.. ExportStylesReference.IrisCoefficients.SelectMany(c => c)]),
            Floats("intercepts", ExportStylesReference.IrisIntercepts),
            Int("multi_class", 1),
            String("post_transform", "SOFTMAX")));
        graph.Node.Add(Node("Normalizer", "Normalizer", MlDomain, ["probability_tensor"], ["probabilities"], String("norm", "L1")));
        graph.Node.Add(intLabels
            ? Node("Cast", "Cast", "", ["label"], ["output_label"], Int("to", (long)DataType.Int64))
            : Node("Identity", "Identity", "", ["label"], ["output_label"]));
        graph.Node.Add(Node("ZipMap", "ZipMap", MlDomain, ["probabilities"], ["output_probability"], intLabels
            ? Ints("classlabels_int64s", 0, 1, 2)
            : Strings("classlabels_strings", [.. ExportStylesReference.IrisClasses])));
        return OnnxGraph.Model(graph, Skl2Onnx, Skl2OnnxOpsets);
    }

    /// <summary>
    /// skl2onnx's default export of <c>Pipeline([ColumnTransformer([StandardScaler on age, income; OneHotEncoder
    /// (handle_unknown="ignore") on city; OrdinalEncoder (unknown → −1) on plan]), LogisticRegression])</c>, a binary
    /// churn classifier with one input per column, each [None, 1]: <c>age</c>, <c>income</c> FP32, <c>city</c>,
    /// <c>plan</c> STRING. Concat → Scaler; OneHotEncoder (cats_strings) → Reshape; LabelEncoder (keys_strings →
    /// values_int64s) → Cast; Concat → LinearClassifier (LOGISTIC) → <c>output_label</c> INT64 [None] (0, 1) and
    /// <c>output_probability</c> (ZipMap, INT64 keys).
    /// </summary>
    public static byte[] SklearnColumnTransformer()
    {
        var graph = new GraphProto { Name = "ONNX(Pipeline)" };
        graph.Input.Add(Value("age", TensorType(DataType.Float, null, 1)));
        graph.Input.Add(Value("income", TensorType(DataType.Float, null, 1)));
        graph.Input.Add(Value("city", TensorType(DataType.String, null, 1)));
        graph.Input.Add(Value("plan", TensorType(DataType.String, null, 1)));
        graph.Output.Add(Value("output_label", TensorType(DataType.Int64, [null])));
        graph.Output.Add(Value("output_probability", SequenceOf(MapOf(DataType.Int64, TensorType(DataType.Float)))));
        graph.Initializer.Add(Int64Tensor("shape_tensor", [-1, ExportStylesReference.Cities.Count], 2));

        graph.Node.Add(Node("Concat", "Concat", "", ["age", "income"], ["merged_columns"], Int("axis", 1)));
        graph.Node.Add(Node("Scaler", "Scaler", MlDomain, ["merged_columns"], ["variable"],
            Floats("offset", ExportStylesReference.ScalerMeans), Floats("scale", ExportStylesReference.ScalerScales)));
        graph.Node.Add(Node("OneHotEncoder", "OneHotEncoder", MlDomain, ["city"], ["city_onehot"],
            Strings("cats_strings", [.. ExportStylesReference.Cities]), Int("zeros", 1)));
        graph.Node.Add(Node("Reshape", "Reshape", "", ["city_onehot", "shape_tensor"], ["variable1"]));
        graph.Node.Add(Node("LabelEncoder", "LabelEncoder", MlDomain, ["plan"], ["plan_encoded"],
            Int("default_int64", -1),
            Strings("keys_strings", [.. ExportStylesReference.Plans]),
            Ints("values_int64s", [.. Enumerable.Range(0, ExportStylesReference.Plans.Count).Select(i => (long)i)])));
        graph.Node.Add(Node("Cast", "Cast", "", ["plan_encoded"], ["variable2"], Int("to", (long)DataType.Float)));
        graph.Node.Add(Node("Concat", "Concat1", "", ["variable", "variable1", "variable2"], ["transformed_column"], Int("axis", 1)));
        var c = ExportStylesReference.ChurnCoefficients;
        graph.Node.Add(Node("LinearClassifier", "LinearClassifier", MlDomain, ["transformed_column"], ["label", "probabilities"],
            Ints("classlabels_ints", 0, 1),
            Floats("coefficients", [.. c.Select(v => -v), .. c]),
            Floats("intercepts", -ExportStylesReference.ChurnIntercept, ExportStylesReference.ChurnIntercept),
            Int("multi_class", 0),
            String("post_transform", "LOGISTIC")));
        graph.Node.Add(Node("Cast", "Cast1", "", ["label"], ["output_label"], Int("to", (long)DataType.Int64)));
        graph.Node.Add(Node("ZipMap", "ZipMap", MlDomain, ["probabilities"], ["output_probability"], Ints("classlabels_int64s", 0, 1)));
        return OnnxGraph.Model(graph, Skl2Onnx, Skl2OnnxOpsets);
    }

    /// <summary>
    /// onnxmltools' default export of a LightGBM multiclass <c>LGBMClassifier</c> (3 classes, 2 rounds, 6 small trees):
    /// <c>input</c> FP32 [None, 4] → TreeEnsembleClassifier (BRANCH_LEQ, post_transform SOFTMAX) → Identity → Cast →
    /// <c>label</c> INT64 [None]; → Identity → ZipMap → <c>probabilities</c>, a sequence of maps (INT64 keys 0, 1, 2 → FP32).
    /// </summary>
    public static byte[] LightGbmClassifier()
    {
        var graph = new GraphProto { Name = "3b5f0c2a9d7e4f1b8c6a2d4e0f9b7a31" };
        graph.Input.Add(Value("input", TensorType(DataType.Float, null, 4)));
        graph.Output.Add(Value("label", TensorType(DataType.Int64, [null])));
        graph.Output.Add(Value("probabilities", SequenceOf(MapOf(DataType.Int64, TensorType(DataType.Float)))));

        var treeIds = new List<long>();
        var nodeIds = new List<long>();
        var featureIds = new List<long>();
        var modes = new List<string>();
        var values = new List<float>();
        var trueIds = new List<long>();
        var falseIds = new List<long>();
        var missingTracksTrue = new List<long>();
        var hitRates = new List<float>();
        var classTreeIds = new List<long>();
        var classNodeIds = new List<long>();
        var classIds = new List<long>();
        var classWeights = new List<float>();
        for (int t = 0; t < ExportStylesReference.LightGbmTrees.Length; t++)
        {
            var tree = ExportStylesReference.LightGbmTrees[t];
            for (int n = 0; n < tree.Length; n++)
            {
                var node = tree[n];
                treeIds.Add(t);
                nodeIds.Add(n);
                featureIds.Add(node.IsLeaf ? 0 : node.Feature);
                modes.Add(node.IsLeaf ? "LEAF" : "BRANCH_LEQ");
                values.Add(node.IsLeaf ? 0f : node.Threshold);
                trueIds.Add(node.IsLeaf ? 0 : node.Left);
                falseIds.Add(node.IsLeaf ? 0 : node.Right);
                missingTracksTrue.Add(!node.IsLeaf && node.MissingGoesLeft ? 1 : 0);
                hitRates.Add(1f);
                if (node.IsLeaf)
                {
                    classTreeIds.Add(t);
                    classNodeIds.Add(n);
                    classIds.Add(t % ExportStylesReference.LightGbmClasses);
                    classWeights.Add(node.Leaf);
                }
            }
        }

        graph.Node.Add(Node("TreeEnsembleClassifier", "LgbmClassifier", MlDomain, ["input"], ["label_tensor", "probability_tensor"],
            Ints("class_ids", [.. classIds]),
            Ints("class_nodeids", [.. classNodeIds]),
            Ints("class_treeids", [.. classTreeIds]),
            Floats("class_weights", [.. classWeights]),
            Ints("classlabels_int64s", 0, 1, 2),
            Ints("nodes_falsenodeids", [.. falseIds]),
            Ints("nodes_featureids", [.. featureIds]),
            Floats("nodes_hitrates", [.. hitRates]),
            Ints("nodes_missing_value_tracks_true", [.. missingTracksTrue]),
            Strings("nodes_modes", [.. modes]),
            Ints("nodes_nodeids", [.. nodeIds]),
            Ints("nodes_treeids", [.. treeIds]),
            Ints("nodes_truenodeids", [.. trueIds]),
            Floats("nodes_values", [.. values]),
            String("post_transform", "SOFTMAX")));
        graph.Node.Add(Node("Identity", "Identity", "", ["label_tensor"], ["lgbmlabel"]));
        graph.Node.Add(Node("Identity", "Identity1", "", ["probability_tensor"], ["lgbmprobabilities"]));
        graph.Node.Add(Node("Cast", "Cast", "", ["lgbmlabel"], ["label"], Int("to", (long)DataType.Int64)));
        graph.Node.Add(Node("ZipMap", "ZipMap", MlDomain, ["lgbmprobabilities"], ["probabilities"], Ints("classlabels_int64s", 0, 1, 2)));
        return OnnxGraph.Model(graph, OnnxMlTools, [(MlDomain, 3), ("", 15)]);
    }

    /// <summary>
    /// A PyTorch MLP exported in half precision: <c>input</c> FP16 [batch_size, 4] → Cast FP32 → Gemm → Relu → Gemm →
    /// Cast FP16 → <c>output</c> FP16 [batch_size, 3]. (The casts keep it on ONNX Runtime's CPU kernels.)
    /// </summary>
    public static byte[] Fp16Mlp() => CastMlp(DataType.Float16, "mlp_fp16");

    /// <summary>
    /// The same MLP with BF16 input and output: <c>input</c> BF16 [batch_size, 4] → Cast FP32 → … → Cast BF16 →
    /// <c>output</c> BF16 [batch_size, 3]. ONNX Runtime's CPU provider has Cast to and from BF16.
    /// </summary>
    public static byte[] Bf16Mlp() => CastMlp(DataType.Bfloat16, "mlp_bf16");

    /// <summary>
    /// A PyTorch MLP saved with external data (<c>input</c> FP32 [batch_size, 4] → Gemm → Relu → Gemm → <c>output</c>
    /// FP32 [batch_size, 3]): every initializer has <c>data_location</c> EXTERNAL and the <c>location</c>
    /// <paramref name="location"/>, relative to the model's directory, with offset and length into
    /// <see cref="ExternalDataModel.Weights"/>.
    /// </summary>
    public static ExternalDataModel ExternalDataMlp(string location = "weights.bin")
    {
        ArgumentNullException.ThrowIfNull(location);
        var (w1, b1, w2, b2) = ExportStylesReference.MlpWeights(ExportStylesReference.ExternalMlpSeed);
        using var weights = new MemoryStream();
        var graph = new GraphProto { Name = "main_graph" };
        graph.Input.Add(Value("input", TensorType(DataType.Float, "batch_size", 4)));
        graph.Output.Add(Value("output", TensorType(DataType.Float, "batch_size", 3)));
        foreach (var (name, data, dims) in new (string, float[], long[])[]
        {
            ("fc1.weight", w1, [ExportStylesReference.MlpHidden, 4]),
            ("fc1.bias", b1, [ExportStylesReference.MlpHidden]),
            ("fc2.weight", w2, [3, ExportStylesReference.MlpHidden]),
            ("fc2.bias", b2, [3]),
        })
        {
            var bytes = FloatBytes(data);
            graph.Initializer.Add(ExternalFloatTensor(name, dims, location, weights.Position, bytes.Length));
            weights.Write(bytes);
        }

        AddMlpNodes(graph, "input", "output");
        return new ExternalDataModel(OnnxGraph.Model(graph, PyTorch, [("", 17)]), location, weights.ToArray());
    }

    /// <summary>
    /// <see cref="ExternalDataMlp"/> whose initializers point outside the model's directory
    /// (<c>../../etc/passwd</c>): what a path-confinement check must refuse.
    /// </summary>
    public static ExternalDataModel ExternalDataMlpEscapingItsDirectory() => ExternalDataMlp("../../etc/passwd");

    /// <summary>
    /// A PyTorch image classifier, NCHW: <c>input</c> FP32 [batch_size, 3, size, size] (ImageNet-normalised RGB) →
    /// GlobalAveragePool → Flatten → Gemm → Softmax → <c>probabilities</c> FP32 [batch_size, 3] over red, green, blue
    /// (a mostly-red image is "red"). The classes are in <c>metadata_props</c> under <see cref="ClassesMetadataKey"/>
    /// as a JSON array.
    /// </summary>
    public static byte[] ImageClassifierNchw(int size = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var graph = new GraphProto { Name = "main_graph" };
        graph.Input.Add(Value("input", TensorType(DataType.Float, "batch_size", 3, size, size)));
        graph.Output.Add(Value("probabilities", TensorType(DataType.Float, "batch_size", 3)));
        graph.Initializer.Add(RawFloatTensor("fc.weight", Transpose3(ExportStylesReference.ImageWeights), 3, 3));
        graph.Initializer.Add(RawFloatTensor("fc.bias", ExportStylesReference.ImageBias, 3));
        graph.Node.Add(Node("GlobalAveragePool", "/pool/GlobalAveragePool", "", ["input"], ["/pool/GlobalAveragePool_output_0"]));
        graph.Node.Add(Node("Flatten", "/Flatten", "", ["/pool/GlobalAveragePool_output_0"], ["/Flatten_output_0"], Int("axis", 1)));
        graph.Node.Add(Node("Gemm", "/fc/Gemm", "", ["/Flatten_output_0", "fc.weight", "fc.bias"], ["/fc/Gemm_output_0"],
            Float("alpha", 1f), Float("beta", 1f), Int("transB", 1)));
        graph.Node.Add(Node("Softmax", "/Softmax", "", ["/fc/Gemm_output_0"], ["probabilities"], Int("axis", 1)));
        return OnnxGraph.Model(graph, PyTorch, [("", 17)], (ClassesMetadataKey, ClassesJson()));
    }

    /// <summary>
    /// A Keras image classifier converted by tf2onnx, NHWC: <c>input_1</c> FP32 [unk__8, size, size, 3] → ReduceMean
    /// over H, W → MatMul → Add → Softmax → <c>dense</c> FP32 [unk__9, 3] over red, green, blue; classes in
    /// <c>metadata_props</c> as for <see cref="ImageClassifierNchw"/>.
    /// </summary>
    public static byte[] ImageClassifierNhwc(int size = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var graph = new GraphProto { Name = "tf2onnx" };
        graph.Input.Add(Value("input_1", TensorType(DataType.Float, "unk__8", size, size, 3)));
        graph.Output.Add(Value("dense", TensorType(DataType.Float, "unk__9", 3)));
        graph.Initializer.Add(RawFloatTensor("model/dense/MatMul/ReadVariableOp:0", ExportStylesReference.ImageWeights, 3, 3));
        graph.Initializer.Add(RawFloatTensor("model/dense/BiasAdd/ReadVariableOp:0", ExportStylesReference.ImageBias, 3));
        graph.Node.Add(Node("ReduceMean", "model/global_average_pooling2d/Mean", "", ["input_1"], ["model/global_average_pooling2d/Mean:0"],
            Ints("axes", 1, 2), Int("keepdims", 0)));
        graph.Node.Add(Node("MatMul", "model/dense/MatMul", "", ["model/global_average_pooling2d/Mean:0", "model/dense/MatMul/ReadVariableOp:0"], ["model/dense/MatMul:0"]));
        graph.Node.Add(Node("Add", "model/dense/BiasAdd", "", ["model/dense/MatMul:0", "model/dense/BiasAdd/ReadVariableOp:0"], ["model/dense/BiasAdd:0"]));
        graph.Node.Add(Node("Softmax", "model/dense/Softmax", "", ["model/dense/BiasAdd:0"], ["dense"], Int("axis", -1)));
        return OnnxGraph.Model(graph, Tf2Onnx, [("", 15)], (ClassesMetadataKey, ClassesJson()));
    }

    /// <summary>
    /// An output that is a sequence of tensors (SequenceConstruct): <c>x</c> FP32 [N, 3] → <c>tensors</c>, a sequence
    /// of two FP32 tensors: x and 2x, both [N, 3] (<paramref name="stackable"/>: one tensor [2, N, 3] can carry them),
    /// or x and its row maximum [N, 1] (shapes differ: nothing can stack them).
    /// </summary>
    public static byte[] SequenceOfTensorsOutput(bool stackable)
    {
        var graph = new GraphProto { Name = stackable ? "sequence_stackable" : "sequence_ragged" };
        graph.Input.Add(Value("x", TensorType(DataType.Float, "N", 3)));
        graph.Output.Add(Value("tensors", SequenceOf(TensorType(DataType.Float))));
        if (stackable)
        {
            graph.Initializer.Add(RawFloatTensor("two", [2f]));
            graph.Node.Add(Node("Mul", "mul", "", ["x", "two"], ["second"]));
        }
        else
        {
            graph.Node.Add(Node("ReduceMax", "row_max", "", ["x"], ["second"], Ints("axes", 1), Int("keepdims", 1)));
        }

        graph.Node.Add(Node("SequenceConstruct", "sequence", "", ["x", "second"], ["tensors"]));
        return OnnxGraph.Model(graph, ModelGen, [("", 13)]);
    }

    /// <summary>
    /// A map input (skl2onnx's DictVectorizer): <c>features</c> map(string → FP32) → DictVectorizer over
    /// "a", "b", "c" → <c>vector</c> FP32 [N, 3].
    /// </summary>
    public static byte[] MapInput()
    {
        var graph = new GraphProto { Name = "ONNX(DictVectorizer)" };
        graph.Input.Add(Value("features", MapOf(DataType.String, TensorType(DataType.Float))));
        graph.Output.Add(Value("vector", TensorType(DataType.Float, null, 3)));
        graph.Node.Add(Node("DictVectorizer", "DictVectorizer", MlDomain, ["features"], ["vector"], Strings("string_vocabulary", "a", "b", "c")));
        return OnnxGraph.Model(graph, Skl2Onnx, Skl2OnnxOpsets);
    }

    /// <summary>A sequence input: <c>tensors</c>, a sequence of FP32 [N, 3] → ConcatFromSequence (axis 0) → <c>stacked</c> FP32 [M, 3].</summary>
    public static byte[] SequenceInput()
    {
        var graph = new GraphProto { Name = "sequence_input" };
        graph.Input.Add(Value("tensors", SequenceOf(TensorType(DataType.Float, "N", 3))));
        graph.Output.Add(Value("stacked", TensorType(DataType.Float, "M", 3)));
        graph.Node.Add(Node("ConcatFromSequence", "concat", "", ["tensors"], ["stacked"], Int("axis", 0)));
        return OnnxGraph.Model(graph, ModelGen, [("", 13)]);
    }

    private static byte[] CastMlp(DataType io, string name)
    {
        var (w1, b1, w2, b2) = ExportStylesReference.MlpWeights(ExportStylesReference.Fp16MlpSeed);
        var graph = new GraphProto { Name = "main_graph" };
        graph.DocString = name;
        graph.Input.Add(Value("input", TensorType(io, "batch_size", 4)));
        graph.Output.Add(Value("output", TensorType(io, "batch_size", 3)));
        graph.Initializer.Add(RawFloatTensor("fc1.weight", w1, ExportStylesReference.MlpHidden, 4));
        graph.Initializer.Add(RawFloatTensor("fc1.bias", b1, ExportStylesReference.MlpHidden));
        graph.Initializer.Add(RawFloatTensor("fc2.weight", w2, 3, ExportStylesReference.MlpHidden));
        graph.Initializer.Add(RawFloatTensor("fc2.bias", b2, 3));
        graph.Node.Add(Node("Cast", "/Cast", "", ["input"], ["/Cast_output_0"], Int("to", (long)DataType.Float)));
        AddMlpNodes(graph, "/Cast_output_0", "/fc2/Gemm_output_0");
        graph.Node.Add(Node("Cast", "/Cast_1", "", ["/fc2/Gemm_output_0"], ["output"], Int("to", (long)io)));
        return OnnxGraph.Model(graph, PyTorch, [("", 17)]);
    }

    private static void AddMlpNodes(GraphProto graph, string input, string output)
    {
        graph.Node.Add(Node("Gemm", "/fc1/Gemm", "", [input, "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"],
            Float("alpha", 1f), Float("beta", 1f), Int("transB", 1)));
        graph.Node.Add(Node("Relu", "/relu/Relu", "", ["/fc1/Gemm_output_0"], ["/relu/Relu_output_0"]));
        graph.Node.Add(Node("Gemm", "/fc2/Gemm", "", ["/relu/Relu_output_0", "fc2.weight", "fc2.bias"], [output],
            Float("alpha", 1f), Float("beta", 1f), Int("transB", 1)));
    }

    private static float[] Transpose3(float[] m) => [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];

    private static string ClassesJson() => JsonSerializer.Serialize(ExportStylesReference.ImageClasses);
}
