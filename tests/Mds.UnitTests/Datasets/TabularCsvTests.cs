using Mds.Backend.Datasets;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Datasets;

/// <summary>The tabular rule (one numeric [rows, features] input), as models and pipelines' derived signatures meet it.</summary>
public sealed class TabularCsvTests
{
    public static TheoryData<TensorMetadata[], bool> Signatures => new()
    {
        { [new("Features", "FP32", [-1, 4])], true },
        { [new("x", "INT64", [-1, 3])], true },
        { [new("x", "FP64", [-1, -1])], true },
        { [], false },
        { [new("x", "FP32", [-1, 4]), new("y", "FP32", [-1, 4])], false },
        { [new("image", "FP32", [-1, 3, 224, 224])], false },
        { [new("x", "FP32", [-1])], false },
        { [new("text", "BYTES", [-1, 1])], false },
        { [new("mask", "BOOL", [-1, 4])], false },
    };

    [Theory]
    [MemberData(nameof(Signatures))]
    public void InputOf_takes_exactly_one_numeric_two_dimensional_input(TensorMetadata[] inputs, bool tabular)
    {
        Assert.Equal(tabular ? inputs[0] : null, TabularCsv.InputOf(inputs));
    }

    [Theory]
    [InlineData(4, null, 4)]
    [InlineData(-1, new[] { "a", "b" }, 2)]
    [InlineData(-1, null, -1)]
    public void FeatureCount_is_the_width_else_the_named_features(long width, string[]? names, int expected)
    {
        Assert.Equal(expected, TabularCsv.FeatureCount(new TensorMetadata("x", "FP32", [-1, width]), names));
    }
}
