using Mds.Backend.Audit;

namespace Mds.UnitTests.Audit;

public sealed class RecordRowsTests
{
    [Fact]
    public void Flat_data_is_cut_into_rows_of_the_model_s_width()
    {
        const string request = """{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4.5,5,6]}]}""";

        var rows = RecordRows.Of(request, "x", 3);

        Assert.Equal([[1.0, 2.0, 3.0], [4.5, 5.0, 6.0]], rows);
    }

    [Fact]
    public void Nested_data_and_a_named_input_among_others_are_read()
    {
        const string request = """
            {"id":"a","inputs":[{"name":"mask","shape":[1,2],"datatype":"BOOL","data":[true,false]},
                                {"name":"features","shape":[2,2],"datatype":"FP64","data":[[1,-2],[3e2,4]]}]}
            """;

        Assert.Equal([[1.0, -2.0], [300.0, 4.0]], RecordRows.Of(request, "features", 2));
    }

    [Fact]
    public void A_single_input_is_taken_whatever_its_name()
    {
        Assert.Equal([[7.0, 8.0]], RecordRows.Of("""{"inputs":[{"name":"other","shape":[1,2],"datatype":"INT64","data":[7,8]}]}""", "x", 2));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("""{"truncated":true,"inputs":[{"name":"x","shape":[1000,3],"datatype":"FP32"}]}""")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2]}]}""")]
    [InlineData("""{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}""")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"BYTES","data":["a","b","c"]}]}""")]
    [InlineData("""{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,"NaN",3]}]}""")]
    [InlineData("""{"inputs":[{"name":"y","shape":[1,3],"data":[1,2,3]},{"name":"z","shape":[1,3],"data":[1,2,3]}]}""")]
    [InlineData("""{"inputs":{"name":"x"}}""")]
    [InlineData("[1,2,3]")]
    public void Requests_without_readable_rows_give_none(string? request)
    {
        Assert.Empty(RecordRows.Of(request, "x", 3));
    }
}
