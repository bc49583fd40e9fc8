using Mds.ModelGen;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Mds.UnitTests.ExportStyles;

/// <summary>
/// Each export-style model loads in ONNX Runtime's CPU provider, and its answers equal <see cref="ExportStylesReference"/>'s,
/// worked out without ONNX Runtime. The metadata tests record what ONNX Runtime's C# API exposes for each input and output.
/// </summary>
public sealed class ExportStylesTests
{
    private const float Tolerance = 1e-5f;

    private static readonly float[][] IrisRows =
    [
        [5.1f, 3.5f, 1.4f, 0.2f],
        [6.4f, 3.2f, 4.5f, 1.5f],
        [6.3f, 3.3f, 6.0f, 2.5f],
        [5.9f, 3.0f, 5.1f, 1.8f],
        [0f, 0f, 0f, 0f],
        [-3f, 10f, 100f, -7.5f],
    ];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sklearn_logistic_regression_zipmap_answers_equal_the_reference(bool intLabels)
    {
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.SklearnLogisticRegression(intLabels));
        using var input = OrtValue.CreateTensorValueFromMemory(IrisRows.SelectMany(r => r).ToArray(), [IrisRows.Length, 4]);
        using var results = session.Run(new RunOptions(), ["float_input"], [input], ["output_label", "output_probability"]);

        var labels = intLabels ? results[0].GetTensorDataAsSpan<long>().ToArray().Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray() : results[0].GetStringTensorAsArray();
        var maps = ReadZipMap(results[1]);
        Assert.Equal(IrisRows.Length, maps.Count);
        for (int r = 0; r < IrisRows.Length; r++)
        {
            var expected = ExportStylesReference.SklearnLogisticRegression(IrisRows[r]);
            string[] classes = ExpectedIrisLabels(intLabels);
            Assert.Equal(classes[expected.ClassIndex], labels[r]);
            Assert.Equal(classes, maps[r].Keys);
            AssertClose(expected.Probabilities, maps[r].Values);
        }

    }

    [Fact]
    public void Sklearn_logistic_regression_predicts_the_three_iris_species()
    {
        var predicted = IrisRows.Take(3).Select(r => ExportStylesReference.IrisClasses[ExportStylesReference.SklearnLogisticRegression(r).ClassIndex]);
        Assert.Equal(["setosa", "versicolor", "virginica"], predicted);
    }

    [Fact]
    public void Sklearn_column_transformer_per_column_inputs_with_unknown_categories_answer_as_the_reference()
    {
        (float Age, float Income, string City, string Plan)[] rows =
        [
            (25f, 30000f, "paris", "free"),
            (60f, 95000f, "tokyo", "team"),
            (41.5f, 52000f, "lima", "pro"),
            (33f, 41000f, "berlin", "pro"),       // unknown city: all zeros
            (50f, 70000f, "tokyo", "enterprise"), // unknown plan: -1
            (18f, 0f, "", ""),
        ];
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.SklearnColumnTransformer());
        using var age = OrtValue.CreateTensorValueFromMemory(rows.Select(r => r.Age).ToArray(), [rows.Length, 1]);
        using var income = OrtValue.CreateTensorValueFromMemory(rows.Select(r => r.Income).ToArray(), [rows.Length, 1]);
        using var city = StringColumn(rows.Select(r => r.City).ToArray());
        using var plan = StringColumn(rows.Select(r => r.Plan).ToArray());
        using var results = session.Run(new RunOptions(), ["age", "income", "city", "plan"], [age, income, city, plan], ["output_label", "output_probability"]);

        var labels = results[0].GetTensorDataAsSpan<long>().ToArray();
        var maps = ReadZipMap(results[1]);
        var seen = new HashSet<long>();
        for (int r = 0; r < rows.Length; r++)
        {
            var expected = ExportStylesReference.SklearnColumnTransformer(rows[r].Age, rows[r].Income, rows[r].City, rows[r].Plan);
            Assert.Equal(expected.ClassIndex, labels[r]);
            Assert.Equal(["0", "1"], maps[r].Keys);
            AssertClose(expected.Probabilities, maps[r].Values);
            seen.Add(labels[r]);
        }

        Assert.Equal([0L, 1L], seen.Order()); // both classes occur
    }

    [Fact]
    public void LightGbm_tree_ensemble_zipmap_answers_equal_the_reference()
    {
        float[][] rows = [.. IrisRows, [5f, 2.9f, 2.45f, 1.65f], [6.5f, 3.1f, 4.9f, float.NaN]];
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.LightGbmClassifier());
        using var input = OrtValue.CreateTensorValueFromMemory(rows.SelectMany(r => r).ToArray(), [rows.Length, 4]);
        using var results = session.Run(new RunOptions(), ["input"], [input], ["label", "probabilities"]);

        var labels = results[0].GetTensorDataAsSpan<long>().ToArray();
        var maps = ReadZipMap(results[1]);
        for (int r = 0; r < rows.Length; r++)
        {
            var expected = ExportStylesReference.LightGbmClassifier(rows[r]);
            Assert.Equal(expected.ClassIndex, labels[r]);
            Assert.Equal(["0", "1", "2"], maps[r].Keys);
            AssertClose(expected.Probabilities, maps[r].Values);
        }

        Assert.Equal([0L, 1L, 2L], labels.Take(3));
    }

    [Fact]
    public void Fp16_mlp_answers_equal_the_reference()
    {
        var rows = IrisRows.Select(r => r.Select(v => (Half)v).ToArray()).ToArray();
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.Fp16Mlp());
        using var input = OrtValue.CreateTensorValueFromMemory(rows.SelectMany(r => r).Select(h => (Float16)(float)h).ToArray(), [rows.Length, 4]);
        using var results = session.Run(new RunOptions(), ["input"], [input], ["output"]);

        Assert.Equal(TensorElementType.Float16, results[0].GetTensorTypeAndShape().ElementDataType);
        var actual = results[0].GetTensorDataAsSpan<Float16>().ToArray();
        for (int r = 0; r < rows.Length; r++)
        {
            var expected = ExportStylesReference.Fp16Mlp(rows[r]);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal((float)expected[k], actual[(r * 3) + k].ToFloat(), Math.Max(1e-3f, MathF.Abs((float)expected[k]) * 2e-3f));
            }
        }
    }

    [Fact]
    public void Bf16_mlp_runs_on_the_cpu_provider_and_answers_equal_the_reference()
    {
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.Bf16Mlp());
        var values = IrisRows.SelectMany(r => r).Select(v => (BFloat16)ExportStylesReference.RoundToBf16(v)).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(values, [IrisRows.Length, 4]);
        using var results = session.Run(new RunOptions(), ["input"], [input], ["output"]);

        Assert.Equal(TensorElementType.BFloat16, results[0].GetTensorTypeAndShape().ElementDataType);
        var actual = results[0].GetTensorDataAsSpan<BFloat16>().ToArray();
        for (int r = 0; r < IrisRows.Length; r++)
        {
            var expected = ExportStylesReference.Bf16Mlp(IrisRows[r]);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(expected[k], actual[(r * 3) + k].ToFloat(), Math.Max(2e-2f, MathF.Abs(expected[k]) * 1e-2f));
            }
        }
    }

    [Fact]
    public void External_data_mlp_loads_beside_its_weights_file_and_answers_equal_the_reference()
    {
        var model = Mds.ModelGen.ExportStyles.ExternalDataMlp();
        Assert.Equal("weights.bin", model.WeightsLocation);
        var proto = ModelProto.Parser.ParseFrom(model.Model);
        Assert.All(proto.Graph.Initializer, t =>
        {
            Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation);
            Assert.Equal("weights.bin", t.ExternalData.Single(e => e.Key == "location").Value);
            Assert.True(t.RawData.IsEmpty);
        });

        string directory = Directory.CreateTempSubdirectory("mds-extdata-").FullName;
        try
        {
            string path = model.WriteTo(directory);
            using var session = new InferenceSession(path);
            using var input = OrtValue.CreateTensorValueFromMemory(IrisRows.SelectMany(r => r).ToArray(), [IrisRows.Length, 4]);
            using var results = session.Run(new RunOptions(), ["input"], [input], ["output"]);
            var actual = results[0].GetTensorDataAsSpan<float>().ToArray();
            for (int r = 0; r < IrisRows.Length; r++)
            {
                AssertClose(ExportStylesReference.ExternalDataMlp(IrisRows[r]), actual.AsSpan(r * 3, 3).ToArray(), 1e-4f);
            }

            // Without its weights file beside it, the model does not load.
            File.Delete(Path.Combine(directory, "weights.bin"));
            Assert.ThrowsAny<OnnxRuntimeException>(() => new InferenceSession(path).Dispose());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void External_data_zip_holds_the_model_and_its_weights_file()
    {
        var model = Mds.ModelGen.ExportStyles.ExternalDataMlp();
        using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(model.ToZip()));
        Assert.Equal(["model.onnx", "weights.bin"], zip.Entries.Select(e => e.FullName).Order());
        Assert.Equal(model.Weights.Length, zip.GetEntry("weights.bin")!.Length);
        Assert.Equal((4 * 8) + 8 + (8 * 3) + 3, model.Weights.Length / sizeof(float));
    }

    [Fact]
    public void External_data_escaping_its_directory_is_refused_by_onnx_runtime_too()
    {
        var model = Mds.ModelGen.ExportStyles.ExternalDataMlpEscapingItsDirectory();
        Assert.Equal("../../etc/passwd", ModelProto.Parser.ParseFrom(model.Model).Graph.Initializer[0].ExternalData.Single(e => e.Key == "location").Value);
        string directory = Directory.CreateTempSubdirectory("mds-extdata-").FullName;
        try
        {
            string path = Path.Combine(directory, "model.onnx");
            File.WriteAllBytes(path, model.Model);
            var error = Assert.ThrowsAny<OnnxRuntimeException>(() => new InferenceSession(path).Dispose());
            Assert.NotEmpty(error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Image_classifier_calls_a_red_image_red_and_answers_equal_the_reference(bool channelsLast)
    {
        const int size = 8;
        byte[][] colours = [[230, 20, 30], [10, 200, 40], [20, 30, 220], [128, 128, 128]];
        var images = colours.Select(c => ExportStylesReference.SolidImage(c[0], c[1], c[2], size, channelsLast)).ToArray();
        using var session = new InferenceSession(channelsLast
            ? Mds.ModelGen.ExportStyles.ImageClassifierNhwc(size)
            : Mds.ModelGen.ExportStyles.ImageClassifierNchw(size));
        long[] shape = channelsLast ? [images.Length, size, size, 3] : [images.Length, 3, size, size];
        using var input = OrtValue.CreateTensorValueFromMemory(images.SelectMany(i => i).ToArray(), shape);
        string inputName = channelsLast ? "input_1" : "input", outputName = channelsLast ? "dense" : "probabilities";
        using var results = session.Run(new RunOptions(), [inputName], [input], [outputName]);
        var actual = results[0].GetTensorDataAsSpan<float>().ToArray();
        for (int i = 0; i < images.Length; i++)
        {
            var expected = channelsLast
                ? ExportStylesReference.ImageClassifierNhwc(images[i], size)
                : ExportStylesReference.ImageClassifierNchw(images[i], size);
            AssertClose(expected, actual.AsSpan(i * 3, 3).ToArray(), 1e-5f);
            if (i < 3)
            {
                Assert.Equal(i, Array.IndexOf(expected, expected.Max()));
            }
        }

        Assert.Equal("[\"red\",\"green\",\"blue\"]", session.ModelMetadata.CustomMetadataMap[Mds.ModelGen.ExportStyles.ClassesMetadataKey]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sequence_of_tensors_output_gives_a_sequence_of_two_tensors(bool stackable)
    {
        using var session = new InferenceSession(Mds.ModelGen.ExportStyles.SequenceOfTensorsOutput(stackable));
        using var input = OrtValue.CreateTensorValueFromMemory(new float[] { 1, 5, 3, -2, 0, 4 }, [2, 3]);
        using var results = session.Run(new RunOptions(), ["x"], [input], ["tensors"]);
        Assert.Equal(OnnxValueType.ONNX_TYPE_SEQUENCE, results[0].OnnxType);
        Assert.Equal(2, results[0].GetValueCount());
        using var second = results[0].GetValue(1, OrtAllocator.DefaultInstance);
        Assert.Equal(stackable ? [2L, 3L] : [2L, 1L], second.GetTensorTypeAndShape().Shape);
        Assert.Equal(stackable ? [2f, 10f, 6f, -4f, 0f, 8f] : [5f, 4f], second.GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Map_and_sequence_inputs_load_and_say_what_they_are()
    {
        using var map = new InferenceSession(Mds.ModelGen.ExportStyles.MapInput());
        var features = map.InputMetadata["features"];
        Assert.Equal(OnnxValueType.ONNX_TYPE_MAP, features.OnnxValueType);
        Assert.Equal(TensorElementType.String, features.AsMapMetadata().KeyDataType);

        using var sequence = new InferenceSession(Mds.ModelGen.ExportStyles.SequenceInput());
        var tensors = sequence.InputMetadata["tensors"];
        Assert.Equal(OnnxValueType.ONNX_TYPE_SEQUENCE, tensors.OnnxValueType);
        Assert.Equal(OnnxValueType.ONNX_TYPE_TENSOR, tensors.AsSequenceMetadata().ElementMeta.OnnxValueType);
    }

    public static TheoryData<string> AllModels => [.. Models.Keys];

    /// <summary>What ONNX Runtime's C# API exposes for every input and output of every model (the serving code's view).</summary>
    [Theory]
    [MemberData(nameof(AllModels))]
    public void Metadata_as_onnx_runtime_exposes_it(string model)
    {
        using var session = new InferenceSession(Models[model]());
        string described = string.Join(" | ", session.InputMetadata.Select(m => "in " + Describe(m.Key, m.Value))
            .Concat(session.OutputMetadata.Select(m => "out " + Describe(m.Key, m.Value))));
        Assert.Equal(ExpectedMetadata[model], described);
    }

    private static readonly Dictionary<string, Func<byte[]>> Models = new()
    {
        ["SklearnLogisticRegression(int)"] = () => Mds.ModelGen.ExportStyles.SklearnLogisticRegression(true),
        ["SklearnLogisticRegression(string)"] = () => Mds.ModelGen.ExportStyles.SklearnLogisticRegression(false),
        ["SklearnColumnTransformer"] = Mds.ModelGen.ExportStyles.SklearnColumnTransformer,
        ["LightGbmClassifier"] = Mds.ModelGen.ExportStyles.LightGbmClassifier,
        ["Fp16Mlp"] = Mds.ModelGen.ExportStyles.Fp16Mlp,
        ["Bf16Mlp"] = Mds.ModelGen.ExportStyles.Bf16Mlp,
        ["ImageClassifierNchw"] = () => Mds.ModelGen.ExportStyles.ImageClassifierNchw(),
        ["ImageClassifierNhwc"] = () => Mds.ModelGen.ExportStyles.ImageClassifierNhwc(),
        ["SequenceOfTensorsOutput"] = () => Mds.ModelGen.ExportStyles.SequenceOfTensorsOutput(true),
        ["MapInput"] = Mds.ModelGen.ExportStyles.MapInput,
        ["SequenceInput"] = Mds.ModelGen.ExportStyles.SequenceInput,
    };

    private static readonly Dictionary<string, string> ExpectedMetadata = new()
    {
        ["Bf16Mlp"] = "in input: tensor BFloat16 [-1,4] sym ['batch_size',''] | out output: tensor BFloat16 [-1,3] sym ['batch_size','']",
        ["Fp16Mlp"] = "in input: tensor Float16 [-1,4] sym ['batch_size',''] | out output: tensor Float16 [-1,3] sym ['batch_size','']",
        ["MapInput"] = "in features: map String -> (tensor Float [] sym []) | out vector: tensor Float [-1,3] sym ['','']",
        ["SequenceInput"] = "in tensors: sequence of (tensor Float [-1,3] sym ['N','']) | out stacked: tensor Float [-1,3] sym ['M','']",
        ["ImageClassifierNhwc"] = "in input_1: tensor Float [-1,32,32,3] sym ['unk__8','','',''] | out dense: tensor Float [-1,3] sym ['unk__9','']",
        ["SklearnLogisticRegression(int)"] = "in float_input: tensor Float [-1,4] sym ['',''] | out output_label: tensor Int64 [-1] sym [''] | out output_probability: sequence of (map Int64 -> (tensor Float [] sym []))",
        ["SklearnColumnTransformer"] = "in age: tensor Float [-1,1] sym ['',''] | in income: tensor Float [-1,1] sym ['',''] | in city: tensor String [-1,1] sym ['',''] | in plan: tensor String [-1,1] sym ['',''] | out output_label: tensor Int64 [-1] sym [''] | out output_probability: sequence of (map Int64 -> (tensor Float [] sym []))",
        ["SequenceOfTensorsOutput"] = "in x: tensor Float [-1,3] sym ['N',''] | out tensors: sequence of (tensor Float [] sym [])",
        ["LightGbmClassifier"] = "in input: tensor Float [-1,4] sym ['',''] | out label: tensor Int64 [-1] sym [''] | out probabilities: sequence of (map Int64 -> (tensor Float [] sym []))",
        ["ImageClassifierNchw"] = "in input: tensor Float [-1,3,32,32] sym ['batch_size','','',''] | out probabilities: tensor Float [-1,3] sym ['batch_size','']",
        ["SklearnLogisticRegression(string)"] = "in float_input: tensor Float [-1,4] sym ['',''] | out output_label: tensor String [-1] sym [''] | out output_probability: sequence of (map String -> (tensor Float [] sym []))",
    };

    private static string Describe(string name, NodeMetadata m) => m.OnnxValueType switch
    {
        OnnxValueType.ONNX_TYPE_TENSOR => $"{name}: tensor {m.ElementDataType} [{string.Join(',', m.Dimensions)}] sym [{string.Join(',', m.SymbolicDimensions.Select(s => "'" + s + "'"))}]",
        OnnxValueType.ONNX_TYPE_SEQUENCE => $"{name}: sequence of ({Describe("", m.AsSequenceMetadata().ElementMeta).TrimStart(':', ' ')})",
        OnnxValueType.ONNX_TYPE_MAP => $"{name}: map {m.AsMapMetadata().KeyDataType} -> ({Describe("", m.AsMapMetadata().ValueMetadata).TrimStart(':', ' ')})",
        _ => $"{name}: {m.OnnxValueType}",
    };

    private static string[] ExpectedIrisLabels(bool intLabels) => intLabels ? ["0", "1", "2"] : [.. ExportStylesReference.IrisClasses];

    /// <summary>Reads a ZipMap output: a sequence (one per row) of maps; each map's keys (INT64 or STRING) and FP32 values.</summary>
    private static List<(string[] Keys, float[] Values)> ReadZipMap(OrtValue sequence)
    {
        Assert.Equal(OnnxValueType.ONNX_TYPE_SEQUENCE, sequence.OnnxType);
        var allocator = OrtAllocator.DefaultInstance;
        var rows = new List<(string[], float[])>();
        for (int r = 0; r < sequence.GetValueCount(); r++)
        {
            using var map = sequence.GetValue(r, allocator);
            Assert.Equal(OnnxValueType.ONNX_TYPE_MAP, map.OnnxType);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            string[] keyStrings = keys.GetTensorTypeAndShape().ElementDataType == TensorElementType.String
                ? keys.GetStringTensorAsArray()
                : keys.GetTensorDataAsSpan<long>().ToArray().Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            rows.Add((keyStrings, values.GetTensorDataAsSpan<float>().ToArray()));
        }

        return rows;
    }

    private static OrtValue StringColumn(string[] values)
    {
        var tensor = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [values.Length, 1]);
        for (int i = 0; i < values.Length; i++)
        {
            tensor.StringTensorSetElementAt(values[i].AsSpan(), i);
        }

        return tensor;
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance = Tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], tolerance);
        }
    }
}
