using Mds.Contracts.Inference;

namespace Mds.UnitTests.Contracts;

/// <summary>Classifiers recognised by their outputs however they are named; the prediction is the label output's value.</summary>
public sealed class ClassifierOutputsTests
{
    [Fact]
    public void An_int64_label_beside_a_served_zipmap_reads_the_label_and_the_probabilities_by_class_label()
    {
        var probability = new TensorMetadata("output_probability", "FP32", [-1, 3]) { ClassLabels = ["0", "1", "2"] };
        var outputs = ClassifierOutputs.Of([new("output_label", "INT64", [-1]), probability], ["setosa", "versicolor", "virginica"])!;
        Assert.Equal("output_label", outputs.LabelOutput.Name);
        Assert.Equal("output_probability", outputs.ProbabilityOutput!.Name);
        Assert.Equal(["0", "1", "2"], outputs.ClassLabels);

        var parameters = new Dictionary<string, object?> { ["class_labels"] = """["0","1","2"]""" };
        var rows = outputs.Read([
            new InferenceTensor("output_label", TensorDatatype.Int64, [2], new[] { 2L, 0L }),
            new InferenceTensor("output_probability", TensorDatatype.Fp32, [2, 3], new[] { 0.1f, 0.2f, 0.7f, 0.8f, 0.1f, 0.1f }, parameters),
        ]);
        Assert.Equal(["2", "0"], rows.Select(r => r.Label));
        Assert.Equal([2, 0], rows.Select(r => r.LabelIndex));
        Assert.Equal(0.7, rows[0].Probabilities[2], 6);
        Assert.Equal(["0", "1", "2"], rows[0].Classes);
    }

    [Fact]
    public void An_int64_label_after_a_scores_output_is_the_prediction_never_the_first_score()
    {
        var outputs = ClassifierOutputs.Of([new("scores", "FP32", [-1, 3]), new("label", "INT64", [-1, 1])], ["a", "b", "c"])!;
        var row = Assert.Single(outputs.Read([
            new InferenceTensor("scores", TensorDatatype.Fp32, [1, 3], new[] { -2f, 0.5f, 3f }),
            new InferenceTensor("label", TensorDatatype.Int64, [1, 1], new[] { 2L }),
        ]));
        Assert.Equal("2", row.Label);
        Assert.Equal(["a", "b", "c"], row.Classes);
        Assert.Equal(2, row.LabelIndex);
    }

    [Fact]
    public void A_string_label_finds_its_probability_column_by_name()
    {
        var outputs = ClassifierOutputs.Of([new("label", "BYTES", [-1]), new("probabilities", "FP64", [-1, 2])], ["no", "yes"])!;
        var row = Assert.Single(outputs.Read([
            new InferenceTensor("label", TensorDatatype.Bytes, [1], new[] { "yes" }),
            new InferenceTensor("probabilities", TensorDatatype.Fp64, [1, 2], new[] { 0.3, 0.7 }),
        ]));
        Assert.Equal("yes", row.Label);
        Assert.Equal(1, row.LabelIndex);
    }

    [Fact]
    public void The_older_mds_form_bytes_label_and_fp32_scores_without_class_names_labels_columns_class_i()
    {
        var outputs = ClassifierOutputs.Of([new("label", "BYTES", [-1, 1]), new("scores", "FP32", [-1, 3])], null)!;
        Assert.Equal(["class 0", "class 1", "class 2"], outputs.ClassLabels);
        var row = Assert.Single(outputs.Read([
            new InferenceTensor("label", TensorDatatype.Bytes, [1, 1], new[] { "virginica" }),
            new InferenceTensor("scores", TensorDatatype.Fp32, [1, 3], new[] { 0.1f, 0.2f, 0.7f }),
        ]));
        Assert.Equal("virginica", row.Label);
        Assert.Equal(2, row.LabelIndex); // not a class name nor a number: the most probable column
    }

    public static TheoryData<TensorMetadata[]> NotClassifiers => new()
    {
        new TensorMetadata[] { new("variable", "FP32", [-1, 1]) },
        new TensorMetadata[] { new("logits", "FP32", [-1, 1000]) },
        new TensorMetadata[] { new("count", "INT64", [-1]) },
        new TensorMetadata[] { new("y", "FP32", [-1, 3]), new("embedding", "INT64", [-1, 8]) },
    };

    [Theory]
    [MemberData(nameof(NotClassifiers))]
    public void Regressors_and_other_outputs_are_not_classifiers(TensorMetadata[] outputs)
    {
        Assert.Null(ClassifierOutputs.Of(outputs, null));
    }

    [Fact]
    public void A_response_without_the_label_output_reads_as_no_rows()
    {
        var outputs = ClassifierOutputs.Of([new("label", "INT64", [-1]), new("probabilities", "FP32", [-1, 2])], null)!;
        Assert.Empty(outputs.Read([new InferenceTensor("probabilities", TensorDatatype.Fp32, [1, 2], new[] { 0.5f, 0.5f })]));
    }
}
