namespace Mds.ModelGen;

/// <summary>One class prediction: the label's index among the classes, and a probability per class.</summary>
/// <param name="ClassIndex">The predicted class's index in the model's class list.</param>
/// <param name="Probabilities">One probability per class, in the model's class order.</param>
public sealed record ClassScores(int ClassIndex, float[] Probabilities);

/// <summary>
/// The parameters of the <see cref="ExportStyles"/> models and an independent implementation of what each computes
/// (plain arithmetic, no ONNX Runtime), so tests can check served answers against numbers worked out another way.
/// </summary>
public static class ExportStylesReference
{
    /// <summary>The iris feature names, in input column order (cm).</summary>
    public static IReadOnlyList<string> IrisFeatures { get; } = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

    /// <summary>The iris species, in class order (string labels; the INT64 labels are 0, 1, 2).</summary>
    public static IReadOnlyList<string> IrisClasses { get; } = ["setosa", "versicolor", "virginica"];

    /// <summary>The image classes of <see cref="ExportStyles.ImageClassifierNchw"/> and <see cref="ExportStyles.ImageClassifierNhwc"/>.</summary>
    public static IReadOnlyList<string> ImageClasses { get; } = ["red", "green", "blue"];

    /// <summary>ImageNet per-channel means (R, G, B) for pixels scaled to [0, 1].</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet per-channel standard deviations (R, G, B).</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [0.229f, 0.224f, 0.225f];

    /// <summary>The known categories of the <c>city</c> column (one-hot encoded; anything else encodes as all zeros).</summary>
    public static IReadOnlyList<string> Cities { get; } = ["paris", "tokyo", "lima"];

    /// <summary>The known categories of the <c>plan</c> column (ordinal 0, 1, 2; anything else encodes as -1).</summary>
    public static IReadOnlyList<string> Plans { get; } = ["free", "pro", "team"];

    // Multinomial logistic regression on iris: one row of coefficients per class, and an intercept per class.
    internal static readonly float[][] IrisCoefficients =
    [
        [-0.4236f, 0.9668f, -2.5171f, -1.0794f],
        [0.5346f, -0.3212f, -0.2065f, -0.9441f],
        [-0.1110f, -0.6456f, 2.7236f, 2.0235f],
    ];

    internal static readonly float[] IrisIntercepts = [9.8496f, 2.2374f, -12.0870f];

    // Column transformer: StandardScaler on (age, income), then a binary logistic regression over
    // [age_scaled, income_scaled, city=paris, city=tokyo, city=lima, plan_ordinal].
    internal static readonly float[] ScalerMeans = [41.5f, 52000f];
    internal static readonly float[] ScalerScales = [1f / 12.5f, 1f / 18000f];
    internal static readonly float[] ChurnCoefficients = [0.8f, -1.1f, 0.35f, -0.6f, 0.2f, -0.75f];
    internal const float ChurnIntercept = 0.15f;

    /// <summary>A LightGBM tree node: a split on <paramref name="Feature"/> (x ≤ threshold goes left) or, with Feature −1, a leaf.</summary>
    internal sealed record TreeNode(int Feature, float Threshold, int Left, int Right, float Leaf, bool MissingGoesLeft = true)
    {
        internal static TreeNode Split(int feature, float threshold, int left, int right) => new(feature, threshold, left, right, 0f);

        internal static TreeNode LeafOf(float value) => new(-1, 0f, 0, 0, value);

        internal bool IsLeaf => Feature < 0;
    }

    // LightGBM multiclass (3 classes, 2 boosting rounds): tree t scores class t % 3. Node ids are array indices.
    internal static readonly TreeNode[][] LightGbmTrees =
    [
        [TreeNode.Split(2, 2.45f, 1, 2), TreeNode.LeafOf(1.2f), TreeNode.LeafOf(-0.6f)],
        [TreeNode.Split(3, 1.65f, 1, 2), TreeNode.Split(2, 4.95f, 3, 4), TreeNode.LeafOf(-0.5f), TreeNode.LeafOf(0.9f), TreeNode.LeafOf(-0.2f)],
        [TreeNode.Split(3, 1.75f, 1, 2), TreeNode.LeafOf(-0.55f), TreeNode.LeafOf(1.1f)],
        [TreeNode.Split(1, 3.0f, 1, 2), TreeNode.LeafOf(-0.15f), TreeNode.LeafOf(0.25f)],
        [TreeNode.Split(2, 2.45f, 1, 2), TreeNode.LeafOf(-0.4f), TreeNode.Split(0, 6.2f, 3, 4), TreeNode.LeafOf(0.3f), TreeNode.LeafOf(0.1f)],
        [TreeNode.Split(2, 4.85f, 1, 2), TreeNode.LeafOf(-0.3f), TreeNode.LeafOf(0.45f)],
    ];

    internal const int LightGbmClasses = 3;

    /// <summary>The hidden width of the MLPs (<see cref="ExportStyles.Fp16Mlp"/>, <see cref="ExportStyles.ExternalDataMlp"/>).</summary>
    internal const int MlpHidden = 8;

    /// <summary>Seeded MLP weights: fc1 [hidden, 4], fc1 bias [hidden], fc2 [3, hidden], fc2 bias [3] (PyTorch layout, out × in).</summary>
    internal static (float[] W1, float[] B1, float[] W2, float[] B2) MlpWeights(int seed)
    {
        var random = new Random(seed);
        float Next(float scale) => (float)((random.NextDouble() * 2) - 1) * scale;
        var w1 = Enumerable.Range(0, MlpHidden * 4).Select(_ => Next(0.5f)).ToArray();
        var b1 = Enumerable.Range(0, MlpHidden).Select(_ => Next(0.1f)).ToArray();
        var w2 = Enumerable.Range(0, 3 * MlpHidden).Select(_ => Next(0.35f)).ToArray();
        var b2 = Enumerable.Range(0, 3).Select(_ => Next(0.1f)).ToArray();
        return (w1, b1, w2, b2);
    }

    internal const int Fp16MlpSeed = 16;
    internal const int ExternalMlpSeed = 2048;

    // Image classifier: per-channel mean → logits = pooled·W + b with W = 2·I.
    internal static readonly float[] ImageWeights = [2f, 0f, 0f, 0f, 2f, 0f, 0f, 0f, 2f];
    internal static readonly float[] ImageBias = [0.1f, 0f, -0.1f];

    /// <summary>
    /// <see cref="ExportStyles.SklearnLogisticRegression"/>: softmax of the per-class linear scores (then an L1
    /// normalisation, a no-op up to rounding); the label is the class with the highest score (the first on a tie).
    /// </summary>
    public static ClassScores SklearnLogisticRegression(float[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var scores = new float[IrisCoefficients.Length];
        for (int c = 0; c < scores.Length; c++)
        {
            scores[c] = Dot(IrisCoefficients[c], features) + IrisIntercepts[c];
        }

        var probabilities = L1(Softmax(scores));
        return new ClassScores(ArgMax(scores), probabilities);
    }

    /// <summary>
    /// <see cref="ExportStyles.SklearnColumnTransformer"/>: standard-scaled age and income, city one-hot (unknown: all
    /// zeros), plan ordinal (unknown: −1), then a binary logistic regression; classes 0 and 1.
    /// </summary>
    public static ClassScores SklearnColumnTransformer(float age, float income, string city, string plan)
    {
        var features = new float[6];
        features[0] = (age - ScalerMeans[0]) * ScalerScales[0];
        features[1] = (income - ScalerMeans[1]) * ScalerScales[1];
        for (int i = 0; i < Cities.Count; i++)
        {
            features[2 + i] = string.Equals(city, Cities[i], StringComparison.Ordinal) ? 1f : 0f;
        }

        int ordinal = -1;
        for (int i = 0; i < Plans.Count; i++)
        {
            if (string.Equals(plan, Plans[i], StringComparison.Ordinal))
            {
                ordinal = i;
            }
        }

        features[5] = ordinal;
        float z = Dot(ChurnCoefficients, features) + ChurnIntercept;
        float p0 = Sigmoid(-z), p1 = Sigmoid(z);
        return new ClassScores(p1 > p0 ? 1 : 0, [p0, p1]);
    }

    /// <summary>
    /// <see cref="ExportStyles.LightGbmClassifier"/>: each class's score is the sum of its trees' leaves (x ≤
    /// threshold goes left, a missing value follows the tree's default direction), then softmax; the label is the
    /// class with the highest score.
    /// </summary>
    public static ClassScores LightGbmClassifier(float[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var scores = new float[LightGbmClasses];
        for (int t = 0; t < LightGbmTrees.Length; t++)
        {
            var tree = LightGbmTrees[t];
            var node = tree[0];
            while (!node.IsLeaf)
            {
                float x = features[node.Feature];
                bool left = float.IsNaN(x) ? node.MissingGoesLeft : x <= node.Threshold;
                node = tree[left ? node.Left : node.Right];
            }

            scores[t % LightGbmClasses] += node.Leaf;
        }

        return new ClassScores(ArgMax(scores), Softmax(scores));
    }

    /// <summary><see cref="ExportStyles.Fp16Mlp"/> on one row: computed in FP32 from the FP16 inputs, rounded to FP16.</summary>
    public static Half[] Fp16Mlp(Half[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return Mlp(Fp16MlpSeed, features.Select(h => (float)h).ToArray()).Select(f => (Half)f).ToArray();
    }

    /// <summary><see cref="ExportStyles.Bf16Mlp"/> on one row (inputs and outputs as FP32 values that BF16 holds exactly).</summary>
    public static float[] Bf16Mlp(float[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return Mlp(Fp16MlpSeed, features.Select(RoundToBf16).ToArray()).Select(RoundToBf16).ToArray();
    }

    /// <summary><see cref="ExportStyles.ExternalDataMlp"/> on one row: Relu(x·W1ᵀ + b1)·W2ᵀ + b2.</summary>
    public static float[] ExternalDataMlp(float[] features) => Mlp(ExternalMlpSeed, features);

    /// <summary>
    /// <see cref="ExportStyles.ImageClassifierNchw"/> on one image, <paramref name="chw"/> laid out [3, size, size]
    /// (already normalised): softmax of (per-channel mean)·W + b over red, green, blue.
    /// </summary>
    public static float[] ImageClassifierNchw(float[] chw, int size)
    {
        ArgumentNullException.ThrowIfNull(chw);
        var pooled = new float[3];
        int plane = size * size;
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++)
            {
                sum += chw[(c * plane) + i];
            }

            pooled[c] = (float)(sum / plane);
        }

        return ImageHead(pooled);
    }

    /// <summary><see cref="ExportStyles.ImageClassifierNhwc"/> on one image, <paramref name="hwc"/> laid out [size, size, 3].</summary>
    public static float[] ImageClassifierNhwc(float[] hwc, int size)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        var pooled = new float[3];
        int plane = size * size;
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++)
            {
                sum += hwc[(i * 3) + c];
            }

            pooled[c] = (float)(sum / plane);
        }

        return ImageHead(pooled);
    }

    /// <summary>
    /// An image of one colour, <paramref name="rgb"/> in 0–255, normalised ImageNet-style ((v/255 − mean)/std) and laid
    /// out [3, size, size] (<paramref name="channelsLast"/> false) or [size, size, 3].
    /// </summary>
    public static float[] SolidImage(byte r, byte g, byte b, int size, bool channelsLast = false)
    {
        byte[] rgb = [r, g, b];
        var image = new float[3 * size * size];
        int plane = size * size;
        for (int c = 0; c < 3; c++)
        {
            float v = ((rgb[c] / 255f) - ImageNetMean[c]) / ImageNetStd[c];
            for (int i = 0; i < plane; i++)
            {
                image[channelsLast ? (i * 3) + c : (c * plane) + i] = v;
            }
        }

        return image;
    }

    /// <summary>Rounds <paramref name="value"/> to the nearest BF16 (ties to even), returned as FP32.</summary>
    public static float RoundToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return value;
        }

        uint rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(rounded);
    }

    private static float[] ImageHead(float[] pooled)
    {
        var logits = new float[3];
        for (int k = 0; k < 3; k++)
        {
            float sum = ImageBias[k];
            for (int c = 0; c < 3; c++)
            {
                sum += pooled[c] * ImageWeights[(c * 3) + k];
            }

            logits[k] = sum;
        }

        return Softmax(logits);
    }

    private static float[] Mlp(int seed, float[] x)
    {
        var (w1, b1, w2, b2) = MlpWeights(seed);
        var hidden = new float[MlpHidden];
        for (int j = 0; j < MlpHidden; j++)
        {
            float sum = b1[j];
            for (int i = 0; i < 4; i++)
            {
                sum += x[i] * w1[(j * 4) + i];
            }

            hidden[j] = Math.Max(0f, sum);
        }

        var output = new float[3];
        for (int k = 0; k < 3; k++)
        {
            float sum = b2[k];
            for (int j = 0; j < MlpHidden; j++)
            {
                sum += hidden[j] * w2[(k * MlpHidden) + j];
            }

            output[k] = sum;
        }

        return output;
    }

    private static float Dot(float[] a, float[] b)
    {
        float sum = 0f;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static float Sigmoid(float z) => 1f / (1f + MathF.Exp(-z));

    private static float[] Softmax(float[] scores)
    {
        float max = scores.Max();
        var exp = scores.Select(s => MathF.Exp(s - max)).ToArray();
        float sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }

    private static float[] L1(float[] values)
    {
        float sum = values.Sum(MathF.Abs);
        return values.Select(v => v / sum).ToArray();
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
