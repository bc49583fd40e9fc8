using System.Security.Cryptography;
using Mds.ModelGen;

namespace Mds.UnitTests.Models;

/// <summary>The files under <c>samples/</c> are what <c>tools/Mds.ModelGen</c> generates now.</summary>
public sealed class CommittedSamplesTests(TrainedSamples samples) : IClassFixture<TrainedSamples>
{
    private static readonly string SamplesDirectory = Samples.LocateDirectory(AppContext.BaseDirectory);

    [Theory]
    [InlineData("iris")]
    [InlineData("housing")]
    public void Committed_train_csv_is_what_the_generator_writes(string name)
    {
        string expected = name == "iris" ? samples.Iris.ToCsv() : samples.Housing.ToCsv();

        string committed = File.ReadAllText(Path.Combine(SamplesDirectory, name, SampleFiles.TrainFile));

        Assert.Equal(expected, committed);
    }

    [Theory]
    [InlineData("iris")]
    [InlineData("housing")]
    public void Committed_model_predicts_what_the_generated_model_predicts_for_every_training_row(string name)
    {
        var (generated, rows) = name == "iris"
            ? (samples.IrisOnnx, samples.Iris.Data.Select(r => r.Features).ToList())
            : (samples.HousingOnnx, samples.Housing.Data.Select(r => r.Features).ToList());
        var committed = File.ReadAllBytes(Path.Combine(SamplesDirectory, name, SampleFiles.ModelFile));

        var expected = OnnxRun.Features(generated, rows);
        var actual = OnnxRun.Features(committed, rows);

        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (output, values) in expected)
        {
            if (values is string[] labels)
            {
                Assert.Equal(labels, (string[])actual[output]);
            }
            else
            {
                var floats = (float[])actual[output];
                Assert.Equal(values.Length, floats.Length);
                Assert.All(floats, (f, i) => Assert.Equal(((float[])values)[i], f, 1e-4f));
            }
        }
    }

    [Theory]
    [InlineData("iris")]
    [InlineData("housing")]
    public void Committed_readme_names_the_committed_model_by_its_sha256(string name)
    {
        var model = File.ReadAllBytes(Path.Combine(SamplesDirectory, name, SampleFiles.ModelFile));

        string readme = File.ReadAllText(Path.Combine(SamplesDirectory, name, SampleFiles.ReadmeFile));

        Assert.Contains($"SHA-256 `{Convert.ToHexStringLower(SHA256.HashData(model))}`", readme, StringComparison.Ordinal);
        Assert.Contains("`Features` | FP32", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Committed_churn_sample_is_what_the_generator_writes_byte_for_byte()
    {
        // The churn sample is built node by node and its data drawn from a seeded generator: no training, so exact.
        var generated = ChurnSample.Generate();
        string directory = Path.Combine(SamplesDirectory, ChurnSample.Name);

        Assert.Equal(generated.Model, File.ReadAllBytes(Path.Combine(directory, SampleFiles.ModelFile)));
        Assert.Equal(generated.TrainCsv, File.ReadAllText(Path.Combine(directory, SampleFiles.TrainFile)));
        Assert.Equal(generated.Readme, File.ReadAllText(Path.Combine(directory, SampleFiles.ReadmeFile)));
        Assert.Contains("city,plan,churned", generated.TrainCsv, StringComparison.Ordinal);
    }
}
