using System.Text.Json;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Contracts;

/// <summary>Tabular models of both forms (one matrix input, per-column inputs with strings) as rows of cells, both ways.</summary>
public sealed class TabularLayoutTests
{
    [Fact]
    public void A_numeric_matrix_is_named_by_its_features_when_their_count_fits()
    {
        var layout = TabularLayout.Of([new("x", "FP32", [-1, 3])], ["a", "b", "c"])!;
        Assert.Equal(TabularLayoutKind.Matrix, layout.Kind);
        Assert.Equal(["a", "b", "c"], layout.ColumnNames);
        Assert.All(layout.Columns, c => Assert.Equal("x", c.InputName));
        Assert.Equal(["feature 0", "feature 1", "feature 2"], TabularLayout.Of([new("x", "FP32", [-1, 3])], ["a"])!.ColumnNames);
    }

    [Fact]
    public void A_matrix_of_unknown_width_takes_its_width_from_the_names_else_is_not_tabular()
    {
        Assert.Equal(2, TabularLayout.Of([new("x", "FP64", [-1, -1])], ["a", "b"])!.Columns.Count);
        Assert.Null(TabularLayout.Of([new("x", "FP64", [-1, -1])], null));
    }

    public static TheoryData<TensorMetadata[]> NotTabular => new()
    {
        Array.Empty<TensorMetadata>(),
        new TensorMetadata[] { new("image", "FP32", [-1, 3, 224, 224]) },
        new TensorMetadata[] { new("x", "FP32", [-1, 4]), new("y", "FP32", [-1, 4]) },
        new TensorMetadata[] { new("mask", "BOOL", [-1, 4]) },
        new TensorMetadata[] { new("a", "FP32", [-1, 1]), new("flag", "BOOL", [-1, 1]) },
        new TensorMetadata[] { new("text", "BYTES", [-1, 2]) },
    };

    [Theory]
    [MemberData(nameof(NotTabular))]
    public void Other_shapes_are_not_tabular(TensorMetadata[] inputs)
    {
        Assert.Null(TabularLayout.Of(inputs, null));
    }

    private static TabularLayout PerColumn() => TabularLayout.Of(
        [new("age", "FP32", [-1, 1]), new("city", "BYTES", [-1, 1]), new("visits", "INT64", [-1])], ["ignored", "names", "here"])!;

    [Fact]
    public void Per_column_inputs_with_strings_are_named_by_their_inputs()
    {
        var layout = PerColumn();
        Assert.Equal(TabularLayoutKind.Columns, layout.Kind);
        Assert.Equal(["age", "city", "visits"], layout.ColumnNames);
        Assert.Equal([false, true, false], layout.Columns.Select(c => c.IsText));
        Assert.True(layout.HasText);
        Assert.Equal("city", layout.Column("CITY")!.Name);
    }

    [Fact]
    public void Rows_of_cells_become_one_tensor_per_column_and_read_back_the_same()
    {
        var layout = PerColumn();
        var tensors = layout.CreateInputs([["31.5", "Paris", "3"], ["40", "Lyon", "0"]]);
        Assert.Equal(["age", "city", "visits"], tensors.Select(t => t.Name));
        Assert.Equal([2L, 1], tensors[0].Shape);
        Assert.Equal(new[] { 31.5f, 40f }, (float[])tensors[0].Data);
        Assert.Equal(new[] { "Paris", "Lyon" }, (string[])tensors[1].Data);
        Assert.Equal([2L], tensors[2].Shape);
        Assert.Equal(new[] { 3L, 0L }, (long[])tensors[2].Data);
        Assert.Equal([["31.5", "Paris", "3"], ["40", "Lyon", "0"]], layout.ReadRows(tensors));
    }

    [Fact]
    public void A_matrix_is_one_tensor_of_rows_by_features()
    {
        var layout = TabularLayout.Of([new("x", "FP64", [-1, 2])], null)!;
        var tensors = layout.CreateInputs([["1", "2"], ["3", "-4.25"]]);
        var tensor = Assert.Single(tensors);
        Assert.Equal([2L, 2], tensor.Shape);
        Assert.Equal(new[] { 1d, 2, 3, -4.25 }, (double[])tensor.Data);
        Assert.Equal([["1", "2"], ["3", "-4.25"]], layout.ReadRows(tensors));
    }

    [Fact]
    public void A_word_in_a_numeric_column_is_refused_naming_the_column()
    {
        var e = Assert.Throws<InferenceProtocolException>(() => PerColumn().CreateInputs([["old", "Paris", "1"]]));
        Assert.Contains("'age'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'old'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_cells_is_refused()
    {
        var e = Assert.Throws<InferenceProtocolException>(() => PerColumn().CreateInputs([["1", "Paris"]]));
        Assert.Contains("age, city, visits", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_a_request_whose_tensor_does_not_fit_names_the_column()
    {
        var layout = PerColumn();
        var e = Assert.Throws<InferenceProtocolException>(() => layout.ReadRows([
            new InferenceTensor("age", TensorDatatype.Fp32, [1, 1], new[] { 1f }),
            new InferenceTensor("city", TensorDatatype.Fp32, [1, 1], new[] { 2f }),
            new InferenceTensor("visits", TensorDatatype.Int64, [1], new[] { 3L }),
        ]));
        Assert.Contains("'city'", e.Message, StringComparison.Ordinal);
        Assert.Throws<InferenceProtocolException>(() => layout.ReadRows([new InferenceTensor("age", TensorDatatype.Fp32, [1, 1], new[] { 1f })]));
    }

    [Fact]
    public void Class_labels_travel_as_the_metadata_parameter_and_nothing_is_written_without_them()
    {
        var plain = new TensorMetadata("y", "FP32", [-1, 3]);
        Assert.Equal("""{"name":"y","datatype":"FP32","shape":[-1,3]}""", JsonSerializer.Serialize(plain));
        var labelled = plain with { ClassLabels = ["setosa", "versicolor", "virginica"] };
        string json = JsonSerializer.Serialize(labelled);
        Assert.Contains("""
            "parameters":{"class_labels":"[\u0022setosa\u0022,\u0022versicolor\u0022,\u0022virginica\u0022]"}
            """, json, StringComparison.Ordinal);
        Assert.Equal(["setosa", "versicolor", "virginica"], JsonSerializer.Deserialize<TensorMetadata>(json)!.ClassLabels!);
        Assert.Null(JsonSerializer.Deserialize<TensorMetadata>("""{"name":"y","datatype":"FP32","shape":[-1,3]}""")!.ClassLabels);
    }
}
