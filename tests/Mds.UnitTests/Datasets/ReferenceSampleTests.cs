using Mds.Backend.Datasets;
using Mds.Backend.Registry;

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

        var sample = ReferenceSamples.Read(version, new ReferenceDataset { FileName = "d.csv", Rows = 40, LabelColumn = "label" }, Input(3), _path);

        Assert.Equal(["a", "b", "c"], sample.Features);
        Assert.Equal(40, sample.Rows.Length);
        Assert.Equal([5.0, 2.75, 2.0], sample.Rows[5]);
        Assert.Equal([2], sample.Categorical);
    }

    [Fact]
    public void Without_feature_names_the_header_names_them()
    {
        File.WriteAllLines(_path, ["p,q", "1.5,2", "3,4"]);

        var sample = ReferenceSamples.Read(Version(null), new ReferenceDataset { FileName = "d.csv", Rows = 2 }, Input(2), _path);

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

        Assert.Throws<InvalidDataException>(() => ReferenceSamples.Read(Version(null), new ReferenceDataset { FileName = "d.csv", Rows = 1 }, Input(2), _path));
    }

    private static Mds.Contracts.Inference.TensorMetadata Input(int width) => new("x", "FP32", [-1, width]);

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
