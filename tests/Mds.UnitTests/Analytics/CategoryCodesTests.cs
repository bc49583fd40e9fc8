using Mds.Analytics.Tabular;

namespace Mds.UnitTests.Analytics;

/// <summary>Text columns as integer codes for the statistics, and back to text for the model.</summary>
public sealed class CategoryCodesTests
{
    [Fact]
    public void The_most_frequent_value_gets_code_zero_ties_in_order_of_first_appearance()
    {
        var codes = CategoryCodes.Fit(["lima", "paris", "tokyo", "paris", "tokyo", "paris"]);
        Assert.Equal(["paris", "tokyo", "lima"], codes.Values);
        Assert.Equal([3L, 2, 1], codes.Counts);
        Assert.Equal(1, codes.CodeOf("tokyo"));
        Assert.Null(codes.CodeOf("oslo"));
    }

    [Fact]
    public void An_encoder_gives_unseen_values_codes_past_the_vocabulary_and_decodes_them_back()
    {
        var encoder = CategoryCodes.Fit(["a", "b"]).NewEncoder();
        Assert.Equal(0, encoder.Code("a"));
        Assert.Equal(2, encoder.Code("z"));
        Assert.Equal(3, encoder.Code("y"));
        Assert.Equal(2, encoder.Code("z"));
        Assert.Equal("b", encoder.Value(1));
        Assert.Equal("y", encoder.Value(3.0000001));
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Value(4));
        Assert.Equal(2, CategoryCodes.Fit(["a", "b"]).NewEncoder().Code("y")); // each use starts afresh
    }
}
