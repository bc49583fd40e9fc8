using Mds.Backend.Pipelines;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Pipelines;

public sealed class TensorRowsTests
{
    /// <summary>Element i of a tensor of <paramref name="datatype"/>: distinct per position for every datatype.</summary>
    private static Array Elements(TensorDatatype datatype, int count) => datatype switch
    {
        TensorDatatype.Fp32 => Enumerable.Range(0, count).Select(i => i + 0.5f).ToArray(),
        TensorDatatype.Int64 => Enumerable.Range(0, count).Select(i => 1_000_000_000_000L * i).ToArray(),
        TensorDatatype.Bytes => Enumerable.Range(0, count).Select(i => $"s{i}").ToArray(),
        TensorDatatype.Bool => Enumerable.Range(0, count).Select(i => i % 3 == 0).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(datatype)),
    };

    private static InferenceTensor Tensor(TensorDatatype datatype, long[] shape) =>
        new("t", datatype, shape, Elements(datatype, (int)InferenceTensor.ElementCount(shape)));

    /// <summary>Row r of <paramref name="tensor"/> as a list of its elements.</summary>
    private static List<object?> Row(InferenceTensor tensor, int r)
    {
        long size = TensorRows.RowSize(tensor.Shape);
        var row = new List<object?>();
        for (long i = r * size; i < (r + 1) * size; i++)
        {
            row.Add(tensor.Data.GetValue(i));
        }

        return row;
    }

    public static TheoryData<TensorDatatype, long[]> Shapes()
    {
        var data = new TheoryData<TensorDatatype, long[]>();
        foreach (var datatype in new[] { TensorDatatype.Fp32, TensorDatatype.Int64, TensorDatatype.Bytes, TensorDatatype.Bool })
        {
            data.Add(datatype, [5]);
            data.Add(datatype, [5, 3]);
            data.Add(datatype, [5, 2, 3]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Take_picks_whole_rows_in_the_order_asked(TensorDatatype datatype, long[] shape)
    {
        var tensor = Tensor(datatype, shape);

        var taken = TensorRows.Take(tensor, [3, 0, 4]);

        Assert.Equal(datatype, taken.Datatype);
        Assert.Equal([3L, .. shape[1..]], taken.Shape);
        Assert.Equal(Row(tensor, 3), Row(taken, 0));
        Assert.Equal(Row(tensor, 0), Row(taken, 1));
        Assert.Equal(Row(tensor, 4), Row(taken, 2));
        Assert.Equal(5, shape[0]); // the source is untouched
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Merge_puts_parts_back_in_the_original_row_order(TensorDatatype datatype, long[] shape)
    {
        var tensor = Tensor(datatype, shape);
        int[] odd = [3, 1], even = [0, 2, 4];
        var parts = new List<(InferenceTensor, int[])> { (TensorRows.Take(tensor, odd), odd), (TensorRows.Take(tensor, even), even) };

        var merged = TensorRows.Merge("m", parts, 5);

        Assert.Equal("m", merged.Name);
        Assert.Equal(datatype, merged.Datatype);
        Assert.Equal(shape, merged.Shape);
        Assert.Equal(tensor.Data.Cast<object>(), merged.Data.Cast<object>());
    }

    [Fact]
    public void Take_of_no_rows_is_an_empty_tensor_of_the_same_inner_shape()
    {
        var taken = TensorRows.Take(Tensor(TensorDatatype.Fp32, [4, 3]), []);

        Assert.Equal([0L, 3L], taken.Shape);
        Assert.Empty(taken.Data);
    }

    [Fact]
    public void Take_keeps_the_name_unless_given_one_and_keeps_parameters()
    {
        var parameters = new Dictionary<string, object?> { ["unit"] = "eur" };
        var tensor = new InferenceTensor("amount", TensorDatatype.Fp32, [2], new[] { 1f, 2f }, parameters);

        Assert.Equal("amount", TensorRows.Take(tensor, [1]).Name);
        Assert.Same(parameters, TensorRows.Take(tensor, [1]).Parameters);
        Assert.Equal("x", TensorRows.Take(tensor, [1], "x").Name);
    }

    [Fact]
    public void Take_of_a_scalar_is_an_error_naming_the_tensor()
    {
        var scalar = new InferenceTensor("s", TensorDatatype.Fp32, [], new[] { 1f });

        var e = Assert.Throws<ArgumentException>(() => TensorRows.Take(scalar, [0]));

        Assert.Contains("tensor 's' is a scalar", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RowsOf_is_the_first_dimension_or_minus_one_for_a_scalar()
    {
        Assert.Equal(4, TensorRows.RowsOf(Tensor(TensorDatatype.Fp32, [4, 3])));
        Assert.Equal(-1, TensorRows.RowsOf(new InferenceTensor("s", TensorDatatype.Fp32, [], new[] { 1f })));
        Assert.Equal(6, TensorRows.RowSize([4, 2, 3]));
        Assert.Equal(1, TensorRows.RowSize([4]));
    }

    [Fact]
    public void Rename_shares_the_data()
    {
        var tensor = Tensor(TensorDatatype.Int64, [2]);

        var renamed = TensorRows.Rename(tensor, "other");

        Assert.Equal("other", renamed.Name);
        Assert.Same(tensor.Data, renamed.Data);
        Assert.Same(tensor, TensorRows.Rename(tensor, "t"));
    }
}
