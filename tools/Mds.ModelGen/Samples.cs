using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Mds.ModelGen;

/// <summary>One sample model's files, as they are written under <c>samples/&lt;name&gt;/</c>.</summary>
/// <param name="Name">The model name and directory name, e.g. <c>iris</c>.</param>
/// <param name="Model">The bytes of <c>model.onnx</c>.</param>
/// <param name="TrainCsv">The text of <c>train.csv</c>.</param>
/// <param name="Readme">The text of <c>README.md</c>.</param>
public sealed record SampleFiles(string Name, byte[] Model, string TrainCsv, string Readme)
{
    /// <summary>The file name of the model in a sample directory.</summary>
    public const string ModelFile = "model.onnx";

    /// <summary>The file name of the training data in a sample directory.</summary>
    public const string TrainFile = "train.csv";

    /// <summary>The file name of the description in a sample directory.</summary>
    public const string ReadmeFile = "README.md";

    /// <summary>Writes the three files into <c>&lt;samplesDirectory&gt;/&lt;name&gt;/</c>, replacing what is there.</summary>
    public string WriteTo(string samplesDirectory)
    {
        string directory = Path.Combine(samplesDirectory, Name);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, ModelFile), Model);
        File.WriteAllText(Path.Combine(directory, TrainFile), TrainCsv, Utf8);
        File.WriteAllText(Path.Combine(directory, ReadmeFile), Readme, Utf8);
        return directory;
    }

    /// <summary>The model's SHA-256, lower-case hex: the name MDS stores its artifact under.</summary>
    public string ModelSha256 => Convert.ToHexStringLower(SHA256.HashData(Model));

    internal static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
}

/// <summary>The repository's sample models: trained, exported and described, all deterministically.</summary>
public static class Samples
{
    /// <summary>Centimetres per inch: what <see cref="InchToCm"/> multiplies by.</summary>
    public const float CmPerInch = 2.54f;

    /// <summary>Trains and exports every sample (iris, housing, inch-to-cm, churn) in memory.</summary>
    public static IReadOnlyList<SampleFiles> Generate()
    {
        var iris = IrisModel.Train();
        return [Iris(iris), Housing(HousingModel.Train()), InchToCm(iris), ChurnSample.Generate()];
    }

    /// <summary>
    /// The inch-to-cm sample: not learned, a unit conversion (× 2.54 on four measurements), so the demo pipeline
    /// <c>samples/pipelines/iris-any-unit.yaml</c> can chain it before iris for flowers measured in inches.
    /// Its training rows are iris's, in inches.
    /// </summary>
    public static SampleFiles InchToCm(IrisModel iris)
    {
        ArgumentNullException.ThrowIfNull(iris);
        var onnx = TestGraphs.Affine("Inches", "Centimetres", IrisModel.FeatureNames.Count, CmPerInch, 0f);
        var inches = iris.Data.Select(r => r.Features.Select(f => MathF.Round(f / CmPerInch, 2)).ToArray()).ToList();
        var readme = new SampleReadme("inch-to-cm", onnx, inches.Take(3).ToList())
        {
            Title = "inch-to-cm: a unit conversion",
            About =
                """
                Four measurements in inches to centimetres (× 2.54): a hand-made ONNX graph (Mul, Add), not a learned
                model. The demo pipeline `iris-any-unit` (samples/pipelines) runs it, per row, before `iris` for flowers
                measured in inches.
                """,
            Meanings = new Dictionary<string, string>
            {
                ["Inches"] = "one row per flower: " + string.Join(", ", IrisModel.FeatureNames) + " (inches)",
                ["Centimetres"] = "the same measurements in cm",
            },
            Training = "iris's rows in inches, with columns " + string.Join(", ", IrisModel.FeatureNames) + ".",
        };
        string csv = Csv.Write(IrisModel.FeatureNames, inches.Select(r => r.Select(Csv.Format)));
        return new SampleFiles("inch-to-cm", onnx, csv, readme.ToString());
    }

    /// <summary>The iris sample's files for a trained model.</summary>
    public static SampleFiles Iris(IrisModel iris)
    {
        ArgumentNullException.ThrowIfNull(iris);
        var onnx = iris.ExportOnnx();
        var predictions = iris.Predict(iris.Data.Select(r => r.Features));
        int correct = predictions.Zip(iris.Data).Count(p => p.First.Label == p.Second.Label);
        var readme = new SampleReadme("iris", onnx, iris.Data.Select(r => r.Features).Take(3).ToList())
        {
            Title = "iris: a 3-class classifier",
            About =
                $"""
                An iris-style classifier: 150 flowers, 50 per species, drawn from Gaussians with the real iris
                class means and standard deviations (seed 1, one decimal like Fisher's data), and an ML.NET
                L-BFGS maximum entropy model trained on them (training accuracy {correct}/{iris.Data.Count}).
                """,
            Meanings = new Dictionary<string, string>
            {
                ["Features"] = "one row per flower: " + string.Join(", ", IrisModel.FeatureNames) + " (cm)",
                ["PredictedLabel"] = "the predicted species: " + string.Join(", ", IrisModel.Classes),
                ["Score"] = "the probability of each species, in the order " + string.Join(", ", IrisModel.Classes),
            },
            Training = "with columns " + string.Join(", ", IrisModel.FeatureNames) + ", species.",
        };
        return new SampleFiles("iris", onnx, iris.ToCsv(), readme.ToString());
    }

    /// <summary>The housing sample's files for a trained model.</summary>
    public static SampleFiles Housing(HousingModel housing)
    {
        ArgumentNullException.ThrowIfNull(housing);
        var onnx = housing.ExportOnnx();
        var predictions = housing.Predict(housing.Data.Select(r => r.Features));
        double mean = housing.Data.Average(r => r.Label);
        double residual = housing.Data.Select((r, i) => Math.Pow(r.Label - predictions[i], 2)).Sum();
        double total = housing.Data.Sum(r => Math.Pow(r.Label - mean, 2));
        var quality = string.Create(
            CultureInfo.InvariantCulture,
            $"training RMSE {Math.Sqrt(residual / housing.Data.Count):0.00}, R² {1 - (residual / total):0.000}");
        string sigma = HousingModel.NoiseStd.ToString(CultureInfo.InvariantCulture);
        var readme = new SampleReadme("housing", onnx, housing.Data.Select(r => r.Features).Take(3).ToList())
        {
            Title = "housing: a regressor",
            About =
                $"""
                A housing-style regressor: 400 Boston-like districts with seven partly correlated features (seed 2) and a
                median house value in $1000s, a known linear function of them plus Gaussian noise (σ = {sigma}) clamped
                to [5, 50]. An ML.NET mean/variance normalizer and online gradient descent regressor are trained on
                them ({quality}).
                """,
            Meanings = new Dictionary<string, string>
            {
                ["Features"] = "one row per district: " + string.Join(", ", HousingModel.FeatureNames),
                ["Score"] = "the predicted median house value, in $1000s",
            },
            Training =
                "with columns " + string.Join(", ", HousingModel.FeatureNames) + ", price. The noise-free price is\n\n"
                + "    24 + 6·(rooms − 6.3) − 0.03·(age − 60) − 0.9·(distance − 4) − 0.012·(tax − 400)\n"
                + "       − 0.25·crime − 0.8·(pupil_teacher − 18) − 0.45·(lower_status − 12)",
        };
        return new SampleFiles("housing", onnx, housing.ToCsv(), readme.ToString());
    }

    /// <summary>
    /// The repository's <c>samples</c> directory: found by walking up from <paramref name="start"/> (default: the
    /// current directory, then this assembly's directory) to the directory holding <c>Mds.sln</c>.
    /// </summary>
    public static string LocateDirectory(string? start = null)
    {
        foreach (var from in start is null ? [Directory.GetCurrentDirectory(), AppContext.BaseDirectory] : new[] { start })
        {
            for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Mds.sln")))
                {
                    return Path.Combine(dir.FullName, "samples");
                }
            }
        }

        throw new DirectoryNotFoundException("No Mds.sln above the current directory or the tool; pass the output directory as an argument.");
    }
}
