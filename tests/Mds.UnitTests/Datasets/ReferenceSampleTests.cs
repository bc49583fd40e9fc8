using Mds.Backend.Datasets;
using Mds.Backend.Registry;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Datasets;

public sealed class ReferenceSampleTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void Features_are_read_in_the_model_s_order_and_integral_few_valued_ones_are_categorical()
    {
        // 40 rows: "b" is continuous, "c" takes 0/1/2 (categorical), "a" is integral but takes 40 values (numeric).
        var lines = new List<string> { "c,label,a,b" };
        for (int i = 0; i < 40; i++)
        {
            lines.Add($"{i % 3},L{i % 2},{i},{i * 0.5 + 0.25}");
        }

        File.WriteAllLines(_path, lines);
        var version = Version(["a", "b", "c"]);

        var sample = ReferenceSamples.Read(version, new ReferenceDataset { FileName = "d.csv", Rows = 40, LabelColumn = "label" }, Layout(3, ["a", "b", "c"]), _path);

        Assert.Equal(["a", "b", "c"], sample.Features);
        Assert.Equal(40, sample.Rows.Length);
        Assert.Equal([5.0, 2.75, 2.0], sample.Rows[5]);
        Assert.Equal([2], sample.Categorical);
    }

    [Fact]
    public void Without_feature_names_the_header_names_them()
    {
        File.WriteAllLines(_path, ["p,q", "1.5,2", "3,4"]);

        var sample = ReferenceSamples.Read(Version(null), new ReferenceDataset { FileName = "d.csv", Rows = 2 }, Layout(2, null), _path);

        Assert.Equal(["p", "q"], sample.Features);
        Assert.Empty(sample.Categorical); // two rows: too few for ten a category
    }

    [Fact]
    public void The_background_is_spread_evenly_and_the_same_every_time()
    {
        double[][] rows = [.. Enumerable.Range(0, 10).Select(i => new double[] { i })];

        Assert.Equal([0, 2, 5, 7], ReferenceSample.Spread(rows, 4).Select(r => (int)r[0]));
        Assert.Same(rows, ReferenceSample.Spread(rows, 10));
    }

    [Fact]
    public void A_file_that_no_longer_fits_is_reported()
    {
        File.WriteAllLines(_path, ["p", "1"]);

        Assert.Throws<InvalidDataException>(() => ReferenceSamples.Read(Version(null), new ReferenceDataset { FileName = "d.csv", Rows = 1 }, Layout(2, null), _path));
    }

    private static TabularLayout Layout(int width, List<string>? names) => TabularLayout.Of([new("x", "FP32", [-1, width])], names)!;

    [Fact]
    public void Per_column_inputs_take_their_columns_by_name_and_code_text_columns_by_frequency()
    {
        File.WriteAllLines(_path, ["plan,churned,age,city", "pro,1,31,lima", "free,0,40,paris", "pro,0,22,paris", "team,1,50,paris"]);
        var layout = TabularLayout.Of([new("age", "FP32", [-1, 1]), new("city", "BYTES", [-1, 1]), new("plan", "BYTES", [-1, 1])], null)!;

        var sample = ReferenceSamples.Read(Version(null), new ReferenceDataset { FileName = "d.csv", Rows = 4, LabelColumn = "churned" }, layout, _path);

        Assert.Equal(["age", "city", "plan"], sample.Features);
        Assert.Equal([31.0, 1, 0], sample.Rows[0]); // paris is the most frequent city (code 0), lima code 1; pro code 0
        Assert.Equal([0], sample.NumericColumns);
        Assert.Contains(1, sample.Categorical);
        Assert.Contains(2, sample.Categorical);
        Assert.Equal(["paris", "lima"], sample.TextValues["city"]);
        Assert.Equal(["pro", "free", "team"], sample.TextValues["plan"]);
        var codec = sample.NewCodec();
        Assert.Equal(["31", "lima", "pro"], codec.Decode(sample.Rows[0]));
        Assert.Equal([22.0, 2, 3], codec.Encode(["22", "oslo", "enterprise"])!); // unseen values get codes past the vocabulary
        Assert.Null(codec.Encode(["old", "paris", "pro"]));
    }

    private static ModelVersion Version(List<string>? features) => new()
    {
        Id = 1,
        Version = 1,
        Model = new Model { Name = "m" },
        ArtifactSha256 = "0",
        InputsJson = "[]",
        OutputsJson = "[]",
        FeatureNames = features,
    };
}
