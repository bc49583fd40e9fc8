using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Components.Pages.Try;

namespace Mds.UnitTests.Portal;

public class BatchReaderTests
{
    private static readonly string[] IrisOutputs = ["PredictedLabel", "Score"];

    [Theory]
    [InlineData("PredictedLabel", true)]
    [InlineData("Score", true)]
    [InlineData("Score[setosa]", true)]
    [InlineData("Score[0]", true)]
    [InlineData("sepal_length", false)]
    [InlineData("species", false)]
    [InlineData("Scores", false)]
    [InlineData("Score[]", false)]
    [InlineData("Score[0", false)]
    [InlineData("predictedlabel", false)]
    public void Columns_named_after_an_output_are_predictions(string column, bool predicted)
        => Assert.Equal(predicted, BatchReader.IsPredicted(column, IrisOutputs));

    [Theory]
    [InlineData("0.97222733", "0.9722")]
    [InlineData("0.0032840616", "0.0033")]
    [InlineData("4.0252314E-07", "4.025e-7")]
    [InlineData("5.1", "5.1")]
    [InlineData("150", "150")]
    [InlineData("-12.345678", "-12.3457")]
    [InlineData("0", "0")]
    [InlineData("-0.0", "0")]
    [InlineData("123456789012345", "1.235e+14")]
    [InlineData("setosa", "setosa")]
    [InlineData("", "")]
    [InlineData("NaN", "NaN")]
    public void Predicted_numbers_are_shown_to_four_decimals_or_in_scientific_notation(string cell, string shown)
        => Assert.Equal(shown, BatchReader.Cell(cell));

    [Theory]
    [InlineData("5.1", true)]
    [InlineData("-3e-5", true)]
    [InlineData("setosa", false)]
    [InlineData("", false)]
    [InlineData("Infinity", false)]
    public void Numbers_are_told_from_text(string cell, bool number)
        => Assert.Equal(number, BatchReader.IsNumber(cell));

    [Fact]
    public void A_queued_batch_is_active_and_says_it_waits()
    {
        var batch = Batch(BatchStates.Queued, 0, 5000);

        Assert.True(BatchReader.IsActive(batch));
        Assert.False(BatchReader.HasResult(batch));
        Assert.Equal(0, BatchReader.Percent(batch));
        Assert.Equal("Waiting for a job to start on 5,000 rows.", BatchReader.Progress(batch));
    }

    [Fact]
    public void A_running_batch_reports_rows_done_of_total()
    {
        var batch = Batch(BatchStates.Running, 1200, 5000);

        Assert.True(BatchReader.IsActive(batch));
        Assert.Equal(24, BatchReader.Percent(batch));
        Assert.Equal("1,200 of 5,000 rows scored (24 %).", BatchReader.Progress(batch));
    }

    [Fact]
    public void A_succeeded_batch_is_finished_and_complete()
    {
        var batch = Batch(BatchStates.Succeeded, 150, 150);

        Assert.False(BatchReader.IsActive(batch));
        Assert.True(BatchReader.HasResult(batch));
        Assert.Equal(100, BatchReader.Percent(batch));
        Assert.Equal(TimeSpan.FromSeconds(2), BatchReader.Duration(batch));
    }

    [Fact]
    public void A_failed_batch_is_finished_without_a_result_and_says_where_it_stopped()
    {
        var batch = Batch(BatchStates.Failed, 100, 5000);

        Assert.False(BatchReader.IsActive(batch));
        Assert.False(BatchReader.HasResult(batch));
        Assert.Equal("Stopped after 100 of 5,000 rows.", BatchReader.Progress(batch));
    }

    [Fact]
    public void An_empty_file_is_at_zero_percent_not_a_division_by_zero()
        => Assert.Equal(0, BatchReader.Percent(Batch(BatchStates.Running, 0, 0)));

    [Fact]
    public void The_header_is_the_first_line_without_quotes_or_byte_order_mark()
        => Assert.Equal(["sepal_length", "sepal width", "species"], BatchReader.Header("\uFEFFsepal_length,\"sepal width\" , species\r\n5.1,3.5,setosa\n"));

    [Theory]
    [InlineData(1, "1 row")]
    [InlineData(0, "0 rows")]
    [InlineData(1500, "1,500 rows")]
    public void Row_counts_read_as_words(int count, string text) => Assert.Equal(text, BatchReader.Rows(count));

    internal static BatchDto Batch(string state, int done, int total, string? error = null, string? summary = null)
    {
        var created = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        bool finished = state is BatchStates.Succeeded or BatchStates.Failed;
        return new BatchDto(7, "iris", 1, state, "iris.csv", total, done, error, summary,
            ["sepal_length", "sepal_width", "petal_length", "petal_width", "species", "PredictedLabel", "Score[setosa]", "Score[versicolor]", "Score[virginica]"],
            "analyst@test.local", created, state == BatchStates.Queued ? null : created.AddSeconds(1), finished ? created.AddSeconds(3) : null);
    }

    [Fact]
    public void A_file_for_per_column_inputs_must_name_every_input_and_one_for_an_unnamed_matrix_need_not()
    {
        var perColumn = TabularLayout.Of([new("age", "FP32", [-1, 1]), new("city", "BYTES", [-1, 1])], null)!;
        var matrix = TabularLayout.Of([new("x", "FP32", [-1, 2])], null)!;

        Assert.Equal(["city"], BatchReader.MissingColumns(["label", " age ", "town"], perColumn, null));
        Assert.Empty(BatchReader.MissingColumns(["city", "age"], perColumn, null));
        Assert.Empty(BatchReader.MissingColumns(["a", "b"], matrix, null));
        Assert.Equal(["width"], BatchReader.MissingColumns(["length", "a"], matrix, ["length", "width"]));
    }
}
