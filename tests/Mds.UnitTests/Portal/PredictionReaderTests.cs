using Mds.Contracts.Inference;
using Mds.Portal.Components.Pages.Try;

namespace Mds.UnitTests.Portal;

public class PredictionReaderTests
{
    private static InferenceResponse Response(params InferenceTensor[] outputs) => new() { ModelName = "m", Outputs = outputs };

    [Fact]
    public void A_label_and_one_score_per_class_read_as_a_classification()
    {
        var response = Response(
            new InferenceTensor("PredictedLabel", TensorDatatype.Bytes, [1, 1], new[] { "setosa" }),
            new InferenceTensor("Score", TensorDatatype.Fp32, [1, 3], new[] { 0.9f, 0.08f, 0.02f }));

        var classification = PredictionReader.AsClassification(response, ["setosa", "versicolor", "virginica"]);

        Assert.NotNull(classification);
        Assert.Equal("setosa", classification.Label);
        Assert.Equal(3, classification.Probabilities.Count);
    }

    [Fact]
    public void A_single_number_is_not_a_classification()
    {
        var response = Response(new InferenceTensor("Score", TensorDatatype.Fp32, [1, 1], new[] { 3.2f }));

        Assert.Null(PredictionReader.AsClassification(response, null));
        Assert.True(PredictionReader.IsSingleValue(response));
        Assert.Equal("3.2", PredictionReader.Predicted(response));
    }

    [Fact]
    public void Feedback_records_an_int64_label_that_follows_a_scores_output_not_the_first_score()
    {
        // What the Try page recorded before: "-2", the first score, for a prediction of class 2.
        var response = Response(
            new InferenceTensor("scores", TensorDatatype.Fp32, [1, 3], new[] { -2f, 0.5f, 3f }),
            new InferenceTensor("label", TensorDatatype.Int64, [1], new[] { 2L }));

        Assert.Equal("2", PredictionReader.Predicted(response));
    }

    [Fact]
    public void An_int64_label_beside_probabilities_reads_as_the_label_with_the_probabilities_by_class()
    {
        TensorMetadata[] outputs = [new("output_label", "INT64", [-1]), new("output_probability", "FP32", [-1, 3])];
        var response = Response(
            new InferenceTensor("output_label", TensorDatatype.Int64, [1], new[] { 1L }),
            new InferenceTensor("output_probability", TensorDatatype.Fp32, [1, 3], new[] { 0.2f, 0.7f, 0.1f }));

        var classification = PredictionReader.AsClassification(response, ["0", "1", "2"], outputs);

        Assert.NotNull(classification);
        Assert.Equal("1", classification.Label);
        Assert.Equal(["0", "1", "2"], classification.Classes);
        Assert.Equal(0.7, classification.Probabilities[1], 6);
    }

    [Fact]
    public void A_served_zipmap_names_the_classes_from_its_class_labels_parameter()
    {
        var probability = new InferenceTensor("output_probability", TensorDatatype.Fp32, [1, 2], new[] { 0.25f, 0.75f },
            new Dictionary<string, object?> { [TensorMetadata.ClassLabelsParameter] = """["cat","dog"]""" });
        var response = Response(new InferenceTensor("output_label", TensorDatatype.Bytes, [1], new[] { "dog" }), probability);

        var classification = PredictionReader.AsClassification(response, null);

        Assert.NotNull(classification);
        Assert.Equal("dog", classification.Label);
        Assert.Equal(["cat", "dog"], classification.Classes);
        Assert.Equal("dog", PredictionReader.Predicted(response));
    }
}
