using Mds.Contracts.Inference;
using Mds.ModelGen;
using Mds.Onnx;
using Mds.Workers.Inference;
using Styles = Mds.ModelGen.ExportStyles;

namespace Mds.UnitTests.Workers;

/// <summary>
/// Models exactly as scikit-learn, onnxmltools and PyTorch export them, loaded and run by the worker's own code and
/// compared with <see cref="ExportStylesReference"/> (plain math, not ONNX Runtime).
/// </summary>
public sealed class ExportedModelServingTests : IDisposable
{
    private static readonly float[][] IrisRows =
    [
        [5.1f, 3.5f, 1.4f, 0.2f],
        [6.0f, 2.7f, 5.1f, 1.6f],
        [6.9f, 3.1f, 5.4f, 2.1f],
        [5.7f, 2.8f, 4.1f, 1.3f],
    ];

    private readonly WorkerModels _models = new();

    public void Dispose() => _models.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_ZipMap_classifier_answers_its_probabilities_as_a_rows_by_classes_tensor_named_by_class_label(bool intLabels)
    {
        var model = await _models.LoadAsync(Styles.SklearnLogisticRegression(intLabels), "sk");

        var probability = Assert.Single(model.Schema.Outputs, o => o.Name == "output_probability");
        string[] labels = intLabels ? ["0", "1", "2"] : [.. ExportStylesReference.IrisClasses];
        Assert.Equal("FP32", probability.Datatype);
        Assert.Equal([-1L, 3L], probability.Shape);
        Assert.Equal(labels, probability.ClassLabels);
        Assert.Equal(labels, model.Schema.Classes);

        var response = _models.Infer("sk", new InferenceTensor("float_input", TensorDatatype.Fp32, [IrisRows.Length, 4], IrisRows.SelectMany(r => r).ToArray()));

        var label = Assert.Single(response.Outputs, o => o.Name == "output_label");
        var scores = Assert.Single(response.Outputs, o => o.Name == "output_probability");
        Assert.Equal([(long)IrisRows.Length, 3L], scores.Shape);
        Assert.Equal(TensorMetadata.EncodeLabels(labels), scores.Parameters![TensorMetadata.ClassLabelsParameter]);
        var values = (float[])scores.Data;
        for (int row = 0; row < IrisRows.Length; row++)
        {
            var expected = ExportStylesReference.SklearnLogisticRegression(IrisRows[row]);
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected.Probabilities[c], values[(row * 3) + c], 4);
            }

            object predicted = intLabels ? ((long[])label.Data)[row] : ((string[])label.Data)[row];
            Assert.Equal(intLabels ? (object)(long)expected.ClassIndex : ExportStylesReference.IrisClasses[expected.ClassIndex], predicted);
        }
    }

    [Fact]
    public async Task A_LightGBM_export_from_onnxmltools_serves_label_and_probabilities()
    {
        await _models.LoadAsync(Styles.LightGbmClassifier(), "lgbm");

        var response = _models.Infer("lgbm", new InferenceTensor("input", TensorDatatype.Fp32, [IrisRows.Length, 4], IrisRows.SelectMany(r => r).ToArray()));

        var labels = (long[])Assert.Single(response.Outputs, o => o.Name == "label").Data;
        var probabilities = (float[])Assert.Single(response.Outputs, o => o.Name == "probabilities").Data;
        for (int row = 0; row < IrisRows.Length; row++)
        {
            var expected = ExportStylesReference.LightGbmClassifier(IrisRows[row]);
            Assert.Equal(expected.ClassIndex, labels[row]);
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected.Probabilities[c], probabilities[(row * 3) + c], 4);
            }
        }
    }

    [Fact]
    public async Task A_column_transformer_with_string_columns_serves_one_input_per_column()
    {
        var model = await _models.LoadAsync(Styles.SklearnColumnTransformer(), "ct");
        Assert.Equal(4, model.Schema.Inputs.Count);
        Assert.Contains(model.Schema.Inputs, i => i.Datatype == "BYTES");

        (float Age, float Income, string City, string Plan)[] rows = [(31, 42_000, "paris", "pro"), (58, 120_000, "lima", "team"), (22, 18_000, "oslo", "free")];
        var inputs = model.Schema.Inputs.Select(i => i.Name switch
        {
            "age" => new InferenceTensor("age", TensorDatatype.Fp32, [rows.Length, 1], rows.Select(r => r.Age).ToArray()),
            "income" => new InferenceTensor("income", TensorDatatype.Fp32, [rows.Length, 1], rows.Select(r => r.Income).ToArray()),
            "city" => new InferenceTensor("city", TensorDatatype.Bytes, [rows.Length, 1], rows.Select(r => r.City).ToArray()),
            "plan" => new InferenceTensor("plan", TensorDatatype.Bytes, [rows.Length, 1], rows.Select(r => r.Plan).ToArray()),
            var other => throw new InvalidOperationException(other),
        }).ToArray();

        var response = _models.Infer("ct", inputs);

        var probabilities = (float[])Assert.Single(response.Outputs, o => o.Name == "output_probability").Data;
        var labels = (long[])Assert.Single(response.Outputs, o => o.Name == "output_label").Data;
        for (int row = 0; row < rows.Length; row++)
        {
            var expected = ExportStylesReference.SklearnColumnTransformer(rows[row].Age, rows[row].Income, rows[row].City, rows[row].Plan);
            Assert.Equal(expected.ClassIndex, labels[row]);
            Assert.Equal(expected.Probabilities[1], probabilities[(row * 2) + 1], 4);
        }
    }

    [Fact]
    public async Task A_sequence_of_equally_shaped_tensors_is_served_as_one_stacked_tensor()
    {
        var model = await _models.LoadAsync(Styles.SequenceOfTensorsOutput(stackable: true), "seq");
        var output = Assert.Single(model.Schema.Outputs);
        Assert.Equal(-1L, output.Shape[0]);
        Assert.NotNull(model.Signature.WhyNotBatchable);

        var response = _models.Infer("seq", new InferenceTensor("x", TensorDatatype.Fp32, [2, 3], new[] { 1f, 2f, 3f, 4f, 5f, 6f }));

        var stacked = Assert.Single(response.Outputs);
        Assert.Equal(3, stacked.Shape.Length);
        Assert.Equal(2L, stacked.Shape[1]);
        Assert.Equal(3L, stacked.Shape[2]);
        Assert.Equal(InferenceTensor.ElementCount(stacked.Shape), stacked.Data.Length);
    }

    [Fact]
    public async Task A_sequence_of_tensors_of_different_shapes_is_answered_with_the_reason_not_a_crash()
    {
        await _models.LoadAsync(Styles.SequenceOfTensorsOutput(stackable: false), "ragged");

        var error = Assert.Throws<InferenceProtocolException>(() =>
            _models.Infer("ragged", new InferenceTensor("x", TensorDatatype.Fp32, [2, 3], new[] { 1f, 2f, 3f, 4f, 5f, 6f })));

        Assert.Contains("different shapes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("map")]
    [InlineData("sequence")]
    public async Task A_model_whose_input_is_not_a_tensor_is_refused_with_the_reason(string kind)
    {
        byte[] onnx = kind == "map" ? Styles.MapInput() : Styles.SequenceInput();

        var error = await Assert.ThrowsAsync<ModelLoadException>(() => _models.CreateAsync(onnx, "refused"));

        Assert.Contains(kind == "map" ? "is a map(string" : "is a sequence of tensor(float)", error.Message, StringComparison.Ordinal);
        Assert.Contains("MDS serves models whose inputs are tensors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_FP16_model_runs_in_half_precision()
    {
        await _models.LoadAsync(Styles.Fp16Mlp(), "half");
        Half[] row = [(Half)5.1f, (Half)3.5f, (Half)1.4f, (Half)0.2f];

        var response = _models.Infer("half", new InferenceTensor("input", TensorDatatype.Fp16, [1, 4], row));

        var output = Assert.Single(response.Outputs);
        Assert.Equal(TensorDatatype.Fp16, output.Datatype);
        var expected = ExportStylesReference.Fp16Mlp(row);
        var actual = (Half[])output.Data;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal((float)expected[i], (float)actual[i], 2);
        }
    }

    [Fact]
    public void The_file_facts_name_the_producer_the_ZipMap_labels_and_the_doc_strings_without_loading_the_weights()
    {
        using var stream = new MemoryStream(Styles.SklearnLogisticRegression(intLabels: false));

        var facts = OnnxFileFacts.Read(stream);

        Assert.Equal("skl2onnx", facts.Producer);
        Assert.Equal("1.17.0", facts.ProducerVersion);
        Assert.Equal(ExportStylesReference.IrisClasses, facts.ZipMapLabels["output_probability"]);
        Assert.Empty(facts.ExternalDataFiles);
    }

    [Fact]
    public void The_file_facts_list_external_data_locations_as_written()
    {
        var model = Styles.ExternalDataMlpEscapingItsDirectory();
        using var stream = new MemoryStream(model.Model);

        var facts = OnnxFileFacts.Read(stream);

        Assert.Equal(["../../etc/passwd"], facts.ExternalDataFiles);
    }

    [Fact]
    public void A_truncated_file_is_refused_as_not_well_formed_not_with_a_crash()
    {
        var bytes = Styles.SklearnLogisticRegression();
        using var stream = new MemoryStream(bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidOnnxModelException>(() => OnnxFileFacts.Read(stream));

        Assert.Contains("not a well-formed ONNX model", error.Message, StringComparison.Ordinal);
    }
}
