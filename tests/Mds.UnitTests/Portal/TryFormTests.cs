using Mds.Contracts.Inference;
using Mds.Portal.Components.Pages.Try;

namespace Mds.UnitTests.Portal;

public class TryFormTests
{
    private static readonly TensorMetadata Features = new("Features", "FP32", [-1, 4]);

    [Fact]
    public void A_tabular_input_gets_one_field_per_feature_labelled_with_the_feature_names()
    {
        var form = TryForm.Create([Features], ["sepal length", "sepal width", "petal length", "petal width"]);

        Assert.True(form.IsTabular);
        Assert.Equal(["sepal length", "sepal width", "petal length", "petal width"], form.Fields.Select(f => f.Label));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Without_fitting_feature_names_the_fields_are_numbered(bool wrongCount)
    {
        var form = TryForm.Create([Features], wrongCount ? ["only one"] : null);

        Assert.Equal(["feature 0", "feature 1", "feature 2", "feature 3"], form.Fields.Select(f => f.Label));
    }

    [Fact]
    public void The_request_holds_one_row_in_the_inputs_datatype_and_shape()
    {
        var form = TryForm.Create([Features], null);
        double[] values = [5.1, 3.5, 1.4, 0.2];
        for (int i = 0; i < values.Length; i++)
        {
            form.Fields[i].Value = values[i];
        }

        var request = form.BuildRequest("r1");

        Assert.Equal("r1", request.Id);
        var tensor = Assert.Single(request.Inputs);
        Assert.Equal("Features", tensor.Name);
        Assert.Equal(TensorDatatype.Fp32, tensor.Datatype);
        Assert.Equal([1L, 4L], tensor.Shape);
        Assert.Equal([5.1f, 3.5f, 1.4f, 0.2f], (float[])tensor.Data);
    }

    [Fact]
    public void An_integer_input_gets_integers()
    {
        var form = TryForm.Create([new TensorMetadata("x", "INT64", [1, 2])], null);
        form.Fields[0].Value = 3;
        form.Fields[1].Value = -7;

        var tensor = Assert.Single(form.BuildRequest("r").Inputs);

        Assert.Equal([3L, -7L], (long[])tensor.Data);
    }

    [Fact]
    public void An_empty_field_is_named_in_the_error()
    {
        var form = TryForm.Create([Features], ["a", "b", "c", "d"]);
        form.Fields[0].Value = 1;

        var error = Assert.Throws<InferenceProtocolException>(() => form.BuildRequest("r"));

        Assert.Contains("b, c, d", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("FP32", new long[] { -1, 3, 224, 224 })]
    [InlineData("BYTES", new long[] { -1, 2 })]
    [InlineData("FP32", new long[] { -1, -1 })]
    public void Anything_but_one_numeric_row_uses_the_json_editor_with_a_valid_template(string datatype, long[] shape)
    {
        var form = TryForm.Create([new TensorMetadata("input", datatype, shape)], null);

        Assert.False(form.IsTabular);
        Assert.Empty(form.Fields);
        var request = form.BuildRequest("r2");
        Assert.Equal("r2", request.Id);
        var tensor = Assert.Single(request.Inputs);
        Assert.Equal("input", tensor.Name);
        Assert.Equal(shape.Select(d => d < 0 ? 1 : d), tensor.Shape);
    }

    [Fact]
    public void Two_inputs_use_the_json_editor_with_both_in_the_template()
    {
        var form = TryForm.Create([new TensorMetadata("a", "INT64", [-1, 2]), new TensorMetadata("b", "FP64", [-1, 3])], null);

        var request = form.BuildRequest("r");

        Assert.False(form.IsTabular);
        Assert.Equal(["a", "b"], request.Inputs.Select(i => i.Name));
        Assert.Equal(TensorDatatype.Fp64, request.Inputs[1].Datatype);
    }

    [Fact]
    public void Edited_json_that_breaks_the_protocol_is_refused_in_words()
    {
        var form = TryForm.Create([new TensorMetadata("a", "FP32", [-1, 2, 2])], null);
        form.Json = """{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1]}]}""";

        var error = Assert.Throws<InferenceProtocolException>(() => form.BuildRequest("r"));

        Assert.Contains("'a'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reference_row_fills_the_fields_by_name_skipping_the_label()
    {
        var form = TryForm.Create([new TensorMetadata("Features", "FP32", [-1, 2])], ["width", "length"]);

        form.FillFrom(["length", "species", "width"], ["1.5", "setosa", "0.25"], "species");

        Assert.Equal([0.25, 1.5], form.Fields.Select(f => f.Value!.Value));
    }

    [Fact]
    public void A_reference_row_fills_unnamed_fields_in_column_order_without_the_label()
    {
        var form = TryForm.Create([new TensorMetadata("Features", "FP32", [-1, 2])], null);

        form.FillFrom(["label", "x", "y"], ["1", "2.5", "3.5"], "label");

        Assert.Equal([2.5, 3.5], form.Fields.Select(f => f.Value!.Value));
    }

    private static readonly TensorMetadata[] PerColumn =
        [new("age", "FP32", [-1, 1]), new("city", "BYTES", [-1, 1]), new("visits", "INT64", [-1])];

    [Fact]
    public void Per_column_inputs_get_a_field_each_named_after_the_input_with_a_text_field_for_a_string_column()
    {
        var form = TryForm.Create(PerColumn, ["ignored", "names", "here"]);

        Assert.True(form.IsTabular);
        Assert.Equal(["age", "city", "visits"], form.Fields.Select(f => f.Label));
        Assert.Equal([false, true, false], form.Fields.Select(f => f.IsText));
    }

    [Fact]
    public void Per_column_fields_make_one_tensor_per_input_in_its_datatype_and_shape()
    {
        var form = TryForm.Create(PerColumn, null);
        form.Fields[0].Value = 30.5;
        form.Fields[1].Text = "São Paulo, \"centre\"";
        form.Fields[2].Value = 3;

        var request = form.BuildRequest("r");

        Assert.Equal(["age", "city", "visits"], request.Inputs.Select(t => t.Name));
        Assert.Equal([TensorDatatype.Fp32, TensorDatatype.Bytes, TensorDatatype.Int64], request.Inputs.Select(t => t.Datatype));
        Assert.Equal([[1L, 1L], [1L, 1L], [1L]], request.Inputs.Select(t => t.Shape));
        Assert.Equal([30.5f], (float[])request.Inputs[0].Data);
        Assert.Equal(["São Paulo, \"centre\""], (string[])request.Inputs[1].Data);
        Assert.Equal([3L], (long[])request.Inputs[2].Data);
        Assert.Equal([30.5, 3], form.Numbers());
        Assert.Equal([30.5, "São Paulo, \"centre\"", 3.0], form.ExplainCells());
    }

    [Fact]
    public void An_empty_text_field_is_named_in_the_error()
    {
        var form = TryForm.Create(PerColumn, null);
        form.Fields[0].Value = 1;
        form.Fields[2].Value = 2;

        Assert.False(form.TryBuildRequest(out _, out string? error));

        Assert.Equal("Fill in city.", error);
    }

    [Fact]
    public void Text_fields_offer_the_values_their_column_holds_in_the_reference_dataset()
    {
        var form = TryForm.Create(PerColumn, null);

        form.OfferValues(new Dictionary<string, IReadOnlyList<string>> { ["City"] = ["rome", "paris"] });

        Assert.Equal(["rome", "paris"], form.Fields[1].Suggestions);
        Assert.Empty(form.Fields[0].Suggestions);
    }

    [Fact]
    public void A_reference_row_fills_text_fields_with_their_cells_as_they_are()
    {
        var form = TryForm.Create(PerColumn, null);

        form.FillFrom(["label", "visits", "city", "age"], ["1", "4", "oslo", "41"], "label");

        Assert.Equal(41, form.Fields[0].Value);
        Assert.Equal("oslo", form.Fields[1].Text);
        Assert.Equal(4, form.Fields[2].Value);
    }
}
