using Mds.Backend.Batches;
using Mds.Backend.Datasets;
using Mds.Backend.Registry;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Batches;

public sealed class ResultTableTests
{
    private static InferenceResponse Classifier(string[] labels, float[] scores) => new()
    {
        ModelName = "iris",
        Outputs =
        [
            new InferenceTensor("PredictedLabel", TensorDatatype.Bytes, [labels.Length], labels),
            new InferenceTensor("Score", TensorDatatype.Fp32, [labels.Length, scores.Length / labels.Length], scores),
        ],
    };

    [Fact]
    public void A_label_keeps_its_name_and_scores_get_one_column_per_named_class()
    {
        var response = Classifier(["setosa", "virginica"], [0.9f, 0.05f, 0.05f, 0.1f, 0.2f, 0.7f]);
        var columns = ResultTable.ColumnsOf(response, 2, ["setosa", "versicolor", "virginica"], ["a", "b"]);
        Assert.Equal(["PredictedLabel", "Score[setosa]", "Score[versicolor]", "Score[virginica]"], columns.SelectMany(c => c.Names));
        Assert.Equal(["virginica", "0.1", "0.2", "0.7"], ResultTable.CellsOf(response, columns, 1));
    }

    [Fact]
    public void Without_class_names_the_columns_are_numbered_and_names_taken_by_the_file_are_marked_predicted()
    {
        var response = Classifier(["a"], [0.25f, 0.75f]);
        var columns = ResultTable.ColumnsOf(response, 1, classes: null, ["PredictedLabel"]);
        Assert.Equal(["PredictedLabel (predicted)", "Score[0]", "Score[1]"], columns.SelectMany(c => c.Names));
        var wrongCount = ResultTable.ColumnsOf(response, 1, ["only-one"], []);
        Assert.Equal(["PredictedLabel", "Score[0]", "Score[1]"], wrongCount.SelectMany(c => c.Names));
    }

    [Fact]
    public void A_ZipMap_classifier_s_rows_name_the_predicted_class_and_its_probabilities_by_class_label()
    {
        // skl2onnx: INT64 label [rows] beside a served ZipMap whose class labels travel as a parameter.
        var labels = new Dictionary<string, object?> { [TensorMetadata.ClassLabelsParameter] = TensorMetadata.EncodeLabels(["no", "yes"]) };
        var response = new InferenceResponse
        {
            ModelName = "churn",
            Outputs =
            [
                new InferenceTensor("output_label", TensorDatatype.Int64, [2], new long[] { 1, 0 }),
                new InferenceTensor("output_probability", TensorDatatype.Fp32, [2, 2], new[] { 0.25f, 0.75f, 0.9f, 0.1f }, labels),
            ],
        };
        var classifier = ClassifierOutputs.Of(
            [new TensorMetadata("output_label", "INT64", [-1]), new TensorMetadata("output_probability", "FP32", [-1, 2])], classes: null);

        var columns = ResultTable.ColumnsOf(response, 2, classes: null, ["age", "predicted"], classifier);

        Assert.Equal(["predicted (predicted)", "output_label", "output_probability[no]", "output_probability[yes]"], columns.SelectMany(c => c.Names));
        Assert.Equal(["0", "0", "0.9", "0.1"], ResultTable.CellsOf(response, columns, 1));
        var plain = ResultTable.ColumnsOf(response, 2, classes: null, ["age"]);
        Assert.Equal(["output_label", "output_probability[0]", "output_probability[1]"], plain.SelectMany(c => c.Names));
    }

    [Fact]
    public void A_wide_output_shares_one_column_with_space_separated_values()
    {
        float[] embedding = [.. Enumerable.Range(0, 2 * 100).Select(i => (float)i)];
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("e", TensorDatatype.Fp32, [2, 100], embedding)] };
        var columns = ResultTable.ColumnsOf(response, 2, null, []);
        Assert.Equal(["e"], columns.Single().Names);
        Assert.True(columns.Single().Joined);
        string second = ResultTable.CellsOf(response, columns, 1).Single();
        Assert.StartsWith("100 101 102", second, StringComparison.Ordinal);
        Assert.Equal(100, second.Split(' ').Length);
    }

    [Fact]
    public void An_output_that_does_not_divide_into_rows_is_an_error_in_words()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Fp32, [3], new float[] { 1, 2, 3 })] };
        var e = Assert.Throws<InferenceProtocolException>(() => ResultTable.ColumnsOf(response, 2, null, []));
        Assert.Contains("'y' has 3 values for 2 rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cells_are_invariant_and_round_trip()
    {
        Assert.Equal("0.1", ResultTable.Cell(new[] { 0.1f }, 0));
        Assert.Equal("1E-07", ResultTable.Cell(new[] { 1e-7 }, 0));
        Assert.Equal("-3", ResultTable.Cell(new long[] { -3 }, 0));
        Assert.Equal("true", ResultTable.Cell(new[] { true }, 0));
        Assert.Equal("1.5", ResultTable.Cell(new[] { (Half)1.5 }, 0));
    }

    [Fact]
    public void Label_comparison_counts_matches_for_classifiers()
    {
        var response = Classifier(["setosa", "virginica", "setosa"], new float[9]);
        var columns = ResultTable.ColumnsOf(response, 3, null, []);
        var comparison = new LabelComparison("species");
        comparison.Add("setosa", response, columns, 0);
        comparison.Add("versicolor", response, columns, 1);
        comparison.Add(" setosa ", response, columns, 2);
        Assert.Equal("2 of 3 rows (66.7 %) match the label column 'species'", comparison.Summary());
        Assert.Null(new LabelComparison("species").Summary());
    }

    [Fact]
    public void Label_comparison_gives_errors_for_regressors_and_skips_labels_that_are_not_numbers()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("y", TensorDatatype.Fp32, [3, 1], new float[] { 1, 2, 4 })] };
        var columns = ResultTable.ColumnsOf(response, 3, null, []);
        var comparison = new LabelComparison("y");
        comparison.Add("1", response, columns, 0);
        comparison.Add("4", response, columns, 1);
        comparison.Add("n/a", response, columns, 2);
        Assert.Equal("Against the label column 'y' over 2 rows: mean absolute error 1, root mean squared error 1.414", comparison.Summary());
    }

    [Fact]
    public void Integer_labels_match_numerically()
    {
        var response = new InferenceResponse { ModelName = "m", Outputs = [new InferenceTensor("label", TensorDatatype.Int64, [2], new long[] { 1, 0 })] };
        var columns = ResultTable.ColumnsOf(response, 2, null, []);
        var comparison = new LabelComparison("c");
        comparison.Add("1.0", response, columns, 0);
        comparison.Add("1", response, columns, 1);
        Assert.Equal("1 of 2 rows (50.0 %) match the label column 'c'", comparison.Summary());
    }
}

public sealed class CsvWriteTests
{
    [Theory]
    [InlineData("=1+2", "\"'=1+2\"")]
    [InlineData("+cmd", "\"'+cmd\"")]
    [InlineData("-x", "\"'-x\"")]
    [InlineData("@SUM(A1)", "\"'@SUM(A1)\"")]
    [InlineData("\tx", "\"'\tx\"")]
    [InlineData("\rx", "\"'\rx\"")]
    [InlineData("=HYPERLINK(\"u\")", "\"'=HYPERLINK(\"\"u\"\")\"")]
    [InlineData("-1.5", "-1.5")]
    [InlineData("+2", "+2")]
    [InlineData("-1e-5", "-1e-5")]
    [InlineData("a=b", "a=b")]
    public void A_text_cell_a_spreadsheet_would_run_as_a_formula_is_escaped_and_numbers_are_not(string cell, string written)
    {
        var writer = new StringWriter();
        Csv.Write(writer, [cell]);
        Assert.Equal(written + "\n", writer.ToString());
    }

    [Fact]
    public void Fields_with_commas_quotes_or_line_breaks_are_quoted_and_read_back_the_same()
    {
        var writer = new StringWriter();
        string[] fields = ["plain", "a,b", "say \"hi\"", "two\nlines", ""];
        Csv.Write(writer, fields);
        Assert.Equal("plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n", writer.ToString());
        Assert.Equal(fields, Csv.Read(new StringReader(writer.ToString())).Single());
    }
}

public sealed class ModelTagsTests
{
    [Fact]
    public void Tags_are_trimmed_lower_cased_distinct_and_sorted()
    {
        var (tags, error) = ModelTags.Parse([" Tabular", "team:risk", "tabular", "", "v1.2_beta-x"]);
        Assert.Null(error);
        Assert.Equal(["tabular", "team:risk", "v1.2_beta-x"], tags!);
    }

    [Theory]
    [InlineData("two words")]
    [InlineData("_leading")]
    [InlineData("emoji🙂")]
    [InlineData("abcdefghijabcdefghijabcdefghijabc")]
    public void Words_that_are_not_tags_are_refused_by_name(string tag)
    {
        var (tags, error) = ModelTags.Parse([tag]);
        Assert.Null(tags);
        Assert.Contains("is not a tag", error, StringComparison.Ordinal);
    }

    [Fact]
    public void At_most_twenty_tags()
    {
        var (_, error) = ModelTags.Parse(Enumerable.Range(0, 21).Select(i => $"t{i}"));
        Assert.Contains("at most 20 tags", error, StringComparison.Ordinal);
        Assert.Equal(["a", "b", "c"], ModelTags.Merge(["c", "a"], ["b", "a"]));
    }
}

public sealed class TabularTensorTests
{
    [Fact]
    public void Rows_of_numbers_become_a_tensor_of_the_inputs_datatype()
    {
        var tensor = TabularTensor.Create("x", TensorDatatype.Int32, [1.4, 2.6, -3, 4], rows: 2);
        Assert.Equal([2L, 2L], tensor.Shape);
        Assert.Equal([1, 3, -3, 4], (int[])tensor.Data);
        Assert.Equal([0.5f], (float[])TabularTensor.Create("x", TensorDatatype.Fp32, [0.5], 1).Data);
    }

    [Fact]
    public void Values_that_do_not_fit_and_non_numeric_types_are_protocol_errors()
    {
        Assert.Contains("UINT8", Assert.Throws<InferenceProtocolException>(() => TabularTensor.Create("x", TensorDatatype.UInt8, [300], 1)).Message, StringComparison.Ordinal);
        Assert.Contains("BYTES", Assert.Throws<InferenceProtocolException>(() => TabularTensor.Create("x", TensorDatatype.Bytes, [1], 1)).Message, StringComparison.Ordinal);
    }
}
