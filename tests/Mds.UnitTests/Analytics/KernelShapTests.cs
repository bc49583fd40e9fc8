using Mds.Analytics.Explanations;

namespace Mds.UnitTests.Analytics;

public sealed class KernelShapTests
{
    private static readonly double[] Weights = [2.0, -1.0, 0.5, 0.0, 3.0];
    private const double Bias = 1.0;

    [Fact]
    public void Linear_model_attributions_are_weight_times_distance_from_the_background_mean()
    {
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(4), 8, 5, mean: 0);
        double[] x = [1.5, -2.0, 3.0, 10.0, 0.25];
        var explainer = new KernelShap(rows => Batch(rows, Linear), background);

        var explanation = explainer.Explain(x);

        Assert.True(explanation.Exact);
        Assert.Equal(30, explanation.Coalitions); // 2^5 − 2
        for (int i = 0; i < x.Length; i++)
        {
            double backgroundMean = background.Average(row => row[i]);
            Assert.Equal(Weights[i] * (x[i] - backgroundMean), explanation.Attributions[i], 1e-9);
        }

        Assert.Equal(0.0, explanation.Attributions[3], 1e-12); // the model ignores feature 3
        Assert.Equal(background.Average(Linear), explanation.BaseValue, 12);
        Assert.Equal(Linear(x), explanation.Prediction, 12);
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(), 1e-9);
    }

    [Fact]
    public void Product_of_two_features_gets_the_Shapley_values_by_hand()
    {
        // f = x0·x1. v(∅) = E[b0 b1], v({0}) = x0 E[b1], v({1}) = E[b0] x1, v({0,1}) = x0 x1;
        // φ0 = ½[(v({0}) − v(∅)) + (v({0,1}) − v({1}))], φ1 likewise.
        double[][] background = [[1, 2], [3, -1], [0, 4]];
        double[] x = [2, 5];
        double eb0 = 4.0 / 3, eb1 = 5.0 / 3, eb0b1 = (2 - 3 + 0) / 3.0;
        double phi0 = 0.5 * ((x[0] * eb1 - eb0b1) + (x[0] * x[1] - eb0 * x[1]));
        double phi1 = 0.5 * ((eb0 * x[1] - eb0b1) + (x[0] * x[1] - x[0] * eb1));

        var explanation = new KernelShap(rows => Batch(rows, r => r[0] * r[1]), background).Explain(x);

        Assert.Equal(phi0, explanation.Attributions[0], 12);
        Assert.Equal(phi1, explanation.Attributions[1], 12);
        Assert.Equal(eb0b1, explanation.BaseValue, 12);
    }

    [Fact]
    public void Exact_enumeration_equals_Shapley_values_over_all_feature_orderings()
    {
        // Three-way interactions: with pairwise ones only, any symmetric regression weighting splits them right.
        static double Model(double[] r) => r[0] * r[1] * r[2] + Math.Sin(r[2]) * r[3] + Math.Max(Math.Max(r[0], r[1]), r[3]);
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(9), 6, 4, mean: 0);
        double[] x = [1.2, -0.7, 2.0, 0.9];

        var explanation = new KernelShap(rows => Batch(rows, Model), background).Explain(x);

        // Independent definition: φ_i = average over the 4! orderings of the change in v when i joins.
        double[] expected = ShapleyByPermutations(Model, background, x);
        Assert.True(explanation.Exact);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(expected[i], explanation.Attributions[i], 1e-9);
        }
    }

    [Fact]
    public void Non_linear_model_satisfies_efficiency()
    {
        static double Model(double[] r) => r[0] * r[1] * r[2] + Math.Exp(0.3 * r[3]);
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(21), 10, 4, mean: 1);

        var explanation = new KernelShap(rows => Batch(rows, Model), background).Explain([2, -1, 0.5, 3]);

        Assert.Equal(Model([2, -1, 0.5, 3]) - background.Average(Model), explanation.Attributions.Sum(), 1e-10);
    }

    [Fact]
    public void Sampled_coalitions_still_recover_a_linear_model_exactly()
    {
        // 14 features: the default budget (2·14 + 2048) is below 2^14 − 2, so coalitions are sampled. An additive
        // model's coalition values are exactly linear in the mask, so any full-rank sample recovers the weights.
        double[] weights = [.. Enumerable.Range(0, 14).Select(i => i % 3 == 0 ? 0.0 : i - 6.5)];
        double Model(double[] r) => r.Zip(weights, (v, w) => v * w).Sum() - 2;
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(8), 5, 14, mean: 0);
        double[] x = [.. Enumerable.Range(0, 14).Select(i => i / 4.0)];

        var explanation = new KernelShap(rows => Batch(rows, Model), background).Explain(x, random: new Random(5));

        Assert.False(explanation.Exact);
        Assert.InRange(explanation.Coalitions, 1000, KernelShap.DefaultSamples(14));
        for (int i = 0; i < 14; i++)
        {
            Assert.Equal(weights[i] * (x[i] - background.Average(row => row[i])), explanation.Attributions[i], 1e-8);
        }
    }

    [Fact]
    public void Sampling_is_repeatable_with_a_seed_and_keeps_efficiency()
    {
        static double Model(double[] r) => r[0] * r[1] + r[2] * r[3] * r[4] + Math.Tanh(r[5] - r[6]) + r[7] * r[8] - r[9] * r[10] * r[11] + r[12];
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(31), 6, 13, mean: 0);
        double[] x = [.. Enumerable.Range(0, 13).Select(i => Math.Cos(i))];
        var explainer = new KernelShap(rows => Batch(rows, Model), background);

        var first = explainer.Explain(x, samples: 300, random: new Random(17));
        var second = explainer.Explain(x, samples: 300, random: new Random(17));
        var other = explainer.Explain(x, samples: 300, random: new Random(18));

        Assert.Equal(first.Attributions, second.Attributions);
        Assert.NotEqual(first.Attributions, other.Attributions);
        Assert.True(first.Coalitions <= 300);
        Assert.Equal(Model(x) - background.Average(Model), first.Attributions.Sum(), 1e-10);
    }

    [Fact]
    public void Sampled_estimate_of_a_non_linear_model_is_close_to_the_exact_values()
    {
        // 12 features: 2^12 − 2 = 4094 coalitions is exact; a budget of 1500 enumerates sizes 1, 11, 2, 10 and
        // samples the rest, whose weights must share what those sizes leave of the kernel.
        static double Model(double[] r) => r[0] * r[1] * r[2] + Math.Sin(r[3] * r[4]) + r[5] * r[6] - r[7] * r[8] * r[9] + Math.Max(r[10], r[11]);
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(12), 8, 12, mean: 0);
        double[] x = [.. Enumerable.Range(0, 12).Select(i => 1.5 * Math.Sin(i + 1))];
        var explainer = new KernelShap(rows => Batch(rows, Model), background);

        var exact = explainer.Explain(x, samples: 4094);
        var sampled = explainer.Explain(x, samples: 1500, random: new Random(2));

        Assert.True(exact.Exact);
        Assert.False(sampled.Exact);
        double scale = exact.Attributions.Max(Math.Abs);
        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(exact.Attributions[i], sampled.Attributions[i], 0.05 * scale);
        }
    }

    [Fact]
    public void A_feature_equal_to_every_background_value_gets_zero()
    {
        double[][] background = [[1, 7, 2], [3, 7, 0], [5, 7, 1]];

        var explanation = new KernelShap(rows => Batch(rows, r => r[0] * r[1] + r[1] * r[2]), background).Explain([2, 7, 4]);

        Assert.Equal(0.0, explanation.Attributions[1]);
        Assert.Equal(explanation.Prediction - explanation.BaseValue, explanation.Attributions.Sum(), 1e-12);
    }

    [Fact]
    public void Small_batches_give_the_same_attributions()
    {
        static double Model(double[] r) => r[0] * r[1] - r[2] * r[2];
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(3), 4, 3, mean: 0);
        var calls = new List<int>();

        var whole = new KernelShap(rows => Batch(rows, Model), background).Explain([1, 2, 3]);
        var batched = new KernelShap(rows => { calls.Add(rows.Length); return Batch(rows, Model); }, background, maxBatchRows: 9).Explain([1, 2, 3]);

        Assert.Equal(whole.Attributions.ToArray(), batched.Attributions.ToArray());
        // The background (4 rows) and f(x) (1 row) come first; then 6 coalitions × 4 rows, two coalitions a call.
        Assert.Equal([4, 1, 8, 8, 8], calls);
    }

    [Fact]
    public async Task An_asynchronous_prediction_function_gives_the_same_explanation_in_the_same_calls()
    {
        static double Model(double[] r) => Math.Tanh(r[0]) * r[1] + r[2];
        double[][] background = MaximumMeanDiscrepancyTests.Gaussian(new Random(8), 5, 3, mean: 0);
        var calls = new List<int>();
        var expected = new KernelShap(rows => Batch(rows, Model), background, maxBatchRows: 10).Explain([0.5, -1, 2]);

        var explainer = await KernelShap.CreateAsync(async (rows, ct) =>
        {
            await Task.Yield(); // really asynchronous, as a model called over the network is
            calls.Add(rows.Length);
            return Batch(rows, Model);
        }, background, maxBatchRows: 10);
        var explanation = await explainer.ExplainAsync([0.5, -1, 2]);

        Assert.Equal(expected.Attributions.ToArray(), explanation.Attributions.ToArray());
        Assert.Equal(expected.BaseValue, explanation.BaseValue);
        Assert.Equal([5, 1, 10, 10, 10], calls); // background, f(x), then 6 coalitions × 5 rows, two a call
    }

    [Fact]
    public async Task An_asynchronous_explanation_stops_when_cancelled()
    {
        double[][] background = [[1.0, 2.0], [3.0, 4.0]];
        using var cancel = new CancellationTokenSource();
        var explainer = await KernelShap.CreateAsync((rows, ct) => Task.FromResult(Batch(rows, r => r[0] + r[1])), background);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await explainer.ExplainAsync([5.0, 6.0], ct: cancel.Token));
    }

    [Fact]
    public void A_prediction_function_returning_the_wrong_count_is_reported()
    {
        Assert.Throws<InvalidOperationException>(() => new KernelShap(rows => [1.0], [[1.0], [2.0]]));
    }

    private static double Linear(double[] row) => row.Zip(Weights, (v, w) => v * w).Sum() + Bias;

    private static double[] Batch(double[][] rows, Func<double[], double> model) => [.. rows.Select(model)];

    private static double[] ShapleyByPermutations(Func<double[], double> model, double[][] background, double[] x)
    {
        int m = x.Length;
        double Value(bool[] inCoalition) => background.Average(b => model([.. Enumerable.Range(0, m).Select(i => inCoalition[i] ? x[i] : b[i])]));

        var phi = new double[m];
        var permutations = Permutations([.. Enumerable.Range(0, m)]).ToList();
        foreach (int[] order in permutations)
        {
            var coalition = new bool[m];
            double before = Value(coalition);
            foreach (int feature in order)
            {
                coalition[feature] = true;
                double after = Value(coalition);
                phi[feature] += (after - before) / permutations.Count;
                before = after;
            }
        }

        return phi;
    }

    private static IEnumerable<int[]> Permutations(int[] items)
    {
        if (items.Length <= 1)
        {
            yield return items;
            yield break;
        }

        for (int i = 0; i < items.Length; i++)
        {
            int[] rest = [.. items.Take(i), .. items.Skip(i + 1)];
            foreach (int[] tail in Permutations(rest))
            {
                yield return [items[i], .. tail];
            }
        }
    }
}
