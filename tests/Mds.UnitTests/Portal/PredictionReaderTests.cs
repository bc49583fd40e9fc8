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
}
