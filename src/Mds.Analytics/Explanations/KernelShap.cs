using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Mds.Analytics.Explanations;

/// <summary>A KernelSHAP explanation of one prediction.</summary>
/// <param name="Attributions">Each feature's SHAP value, in the instance's column order; they sum to <paramref name="Prediction"/> − <paramref name="BaseValue"/>.</param>
/// <param name="BaseValue">E[f(background)], the model's mean output over the background sample.</param>
/// <param name="Prediction">f(x), the model's output for the explained instance.</param>
/// <param name="Coalitions">How many feature coalitions the model was evaluated on.</param>
/// <param name="Exact">
/// Whether every coalition was evaluated, in which case the attributions are the exact Shapley values of the
/// interventional game (up to floating point); otherwise they are KernelSHAP's sampled estimate.
/// </param>
public sealed record ShapExplanation(IReadOnlyList<double> Attributions, double BaseValue, double Prediction, int Coalitions, bool Exact);

/// <summary>
/// Model-agnostic KernelSHAP for tabular models (Lundberg and Lee, 2017, "A Unified Approach to Interpreting Model
/// Predictions"), as the <c>shap</c> package's KernelExplainer and Alibi Explain's KernelShap compute it.
/// </summary>
/// <remarks>
/// <para>
/// The value of a coalition S of features is v(S) = mean over background rows b of f(x<sub>S</sub>, b<sub>S̄</sub>): the
/// instance's values on S, the background row's elsewhere. The attributions φ solve the weighted least squares
/// min Σ<sub>S</sub> π(S)·(v(S) − v(∅) − Σ<sub>i∈S</sub> φ<sub>i</sub>)² with the Shapley kernel
/// π(S) = (M − 1)/(C(M, |S|)·|S|·(M − |S|)), subject to Σφ<sub>i</sub> = f(x) − v(∅) (efficiency), which is imposed
/// by eliminating the last feature's φ. With every coalition evaluated the solution is exactly the Shapley values.
/// </para>
/// <para>
/// Coalitions are chosen as <c>shap</c> chooses them: the subset sizes with the most kernel weight (1 and M − 1,
/// then 2 and M − 2, …) are enumerated completely while the budget allows, the remaining budget is spent on random
/// coalitions from the remaining sizes (each with its complement), and repeated draws add weight instead of
/// evaluations. When the budget covers all 2<sup>M</sup> − 2 coalitions (with the default budget, M ≤ 11), all are
/// enumerated. Features whose instance value equals every background row's value cannot change the output, get
/// φ = 0 and are left out of M. No L1 feature selection is applied.
/// </para>
/// <para>
/// The cost is (number of coalitions) × (background rows) model evaluations, so keep the background small
/// (tens to a hundred rows, or cluster centres). Instances are immutable; <see cref="Explain"/> is safe to call
/// concurrently when the prediction function is.
/// </para>
/// </remarks>
public sealed class KernelShap
{
    /// <summary>The default largest number of rows passed to the prediction function in one call.</summary>
    public const int DefaultMaxBatchRows = 16_384;

    private readonly Func<double[][], CancellationToken, ValueTask<double[]>> _predict;
    private readonly double[][] _background;
    private readonly int _maxBatchRows;

    /// <summary>Prepares an explainer and computes the base value (one call of <paramref name="predict"/> on the background).</summary>
    /// <param name="predict">
    /// The model's batch prediction of the output being explained (for a classifier, for example, one class's
    /// probability): one value per row, in row order.
    /// </param>
    /// <param name="background">Rows standing for "feature unknown", typically a sample of the training data.</param>
    /// <param name="maxBatchRows">The largest number of rows passed to <paramref name="predict"/> in one call (at least one coalition's worth is always passed).</param>
    /// <exception cref="ArgumentException">The background is empty or its rows differ in width.</exception>
    /// <exception cref="InvalidOperationException">The prediction function returned the wrong number of values.</exception>
    public KernelShap(Func<double[][], double[]> predict, double[][] background, int maxBatchRows = DefaultMaxBatchRows)
        : this(Wrap(predict), Validated(background), maxBatchRows, baseValue: null)
    {
    }

    private KernelShap(Func<double[][], CancellationToken, ValueTask<double[]>> predict, double[][] background, int maxBatchRows, double? baseValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchRows);
        _predict = predict;
        _background = background;
        _maxBatchRows = maxBatchRows;
        Features = background[0].Length;

        // A synchronous prediction function completes its ValueTask at once, so this does not block.
        BaseValue = baseValue ?? PredictAsync(_background, CancellationToken.None).AsTask().GetAwaiter().GetResult().Average();
    }

    /// <summary>
    /// Prepares an explainer whose prediction function is asynchronous (for example a model called over the network)
    /// and computes the base value (one call of <paramref name="predict"/> on the background).
    /// </summary>
    /// <param name="predict">As for the constructor, asynchronous.</param>
    /// <param name="background">Rows standing for "feature unknown".</param>
    /// <param name="maxBatchRows">The largest number of rows passed to <paramref name="predict"/> in one call.</param>
    /// <param name="ct">Cancels the base value's prediction.</param>
    /// <exception cref="ArgumentException">The background is empty or its rows differ in width.</exception>
    /// <exception cref="InvalidOperationException">The prediction function returned the wrong number of values.</exception>
    public static async Task<KernelShap> CreateAsync(
        Func<double[][], CancellationToken, Task<double[]>> predict, double[][] background, int maxBatchRows = DefaultMaxBatchRows, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(predict);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchRows);
        var rows = Validated(background);
        Func<double[][], CancellationToken, ValueTask<double[]>> wrapped = (r, c) => new ValueTask<double[]>(predict(r, c));
        var predictions = await Check(wrapped, rows, ct).ConfigureAwait(false);
        return new KernelShap(wrapped, rows, maxBatchRows, predictions.Average());
    }

    private static Func<double[][], CancellationToken, ValueTask<double[]>> Wrap(Func<double[][], double[]> predict)
    {
        ArgumentNullException.ThrowIfNull(predict);
        return (rows, _) => ValueTask.FromResult(predict(rows));
    }

    private static double[][] Validated(double[][] background)
    {
        ArgumentNullException.ThrowIfNull(background);
        if (background.Length == 0)
        {
            throw new ArgumentException("The background sample is empty.", nameof(background));
        }

        int width = background[0]?.Length ?? 0;
        if (width == 0)
        {
            throw new ArgumentException("Background rows must have at least one feature.", nameof(background));
        }

        for (int r = 0; r < background.Length; r++)
        {
            if (background[r] is null || background[r].Length != width)
            {
                throw new ArgumentException($"Background row {r} has {background[r]?.Length ?? 0} values; expected {width}.", nameof(background));
            }
        }

        return [.. background.Select(row => row.ToArray())];
    }

    /// <summary>How many features a row has.</summary>
    public int Features { get; }

    /// <summary>E[f(background)].</summary>
    public double BaseValue { get; }

    /// <summary>The default coalition budget for M varying features, 2M + 2048 (<c>shap</c>'s "auto").</summary>
    public static int DefaultSamples(int features) => 2 * features + 2048;

    /// <summary>Explains the model's output for one instance.</summary>
    /// <param name="instance">The row to explain.</param>
    /// <param name="samples">The coalition budget; by default <see cref="DefaultSamples"/> of the number of varying features.</param>
    /// <param name="random">The source of the sampled coalitions; pass a seeded <see cref="Random"/> for repeatable results. By default <see cref="Random.Shared"/>. Unused when every coalition is enumerated.</param>
    /// <exception cref="ArgumentException">The instance's width differs from the background's.</exception>
    /// <exception cref="InvalidOperationException">The prediction function returned the wrong number of values.</exception>
    public ShapExplanation Explain(double[] instance, int? samples = null, Random? random = null) =>
        ExplainAsync(instance, samples, random, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>Explains the model's output for one instance, awaiting the prediction function.</summary>
    /// <param name="instance">The row to explain.</param>
    /// <param name="samples">The coalition budget (see <see cref="Explain"/>).</param>
    /// <param name="random">The source of the sampled coalitions (see <see cref="Explain"/>).</param>
    /// <param name="ct">Cancels between prediction calls.</param>
    /// <exception cref="ArgumentException">The instance's width differs from the background's.</exception>
    /// <exception cref="InvalidOperationException">The prediction function returned the wrong number of values.</exception>
    public async ValueTask<ShapExplanation> ExplainAsync(double[] instance, int? samples = null, Random? random = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (instance.Length != Features)
        {
            throw new ArgumentException($"The instance has {instance.Length} values; the background has {Features} features.", nameof(instance));
        }

        if (samples is { } budget)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budget, nameof(samples));
        }

        double prediction = (await PredictAsync([instance.ToArray()], ct).ConfigureAwait(false))[0];
        int[] varying = [.. Enumerable.Range(0, Features).Where(f => _background.Any(row => !row[f].Equals(instance[f])))];
        var attributions = new double[Features];
        int m = varying.Length;
        if (m == 0)
        {
            return new ShapExplanation(attributions, BaseValue, prediction, 0, Exact: true);
        }

        if (m == 1)
        {
            attributions[varying[0]] = prediction - BaseValue;
            return new ShapExplanation(attributions, BaseValue, prediction, 0, Exact: true);
        }

        var plan = CoalitionPlan.Build(m, samples ?? DefaultSamples(m), random ?? Random.Shared);
        double[] values = await ValuesAsync(instance, varying, plan.Masks, ct).ConfigureAwait(false);
        double[] solved = Solve(plan, values, prediction - BaseValue);
        for (int k = 0; k < m; k++)
        {
            attributions[varying[k]] = solved[k];
        }

        return new ShapExplanation(attributions, BaseValue, prediction, plan.Masks.Count, plan.Exact);
    }

    // v(S) for every coalition: the mean prediction over background rows with the instance's values on S.
    private async ValueTask<double[]> ValuesAsync(double[] instance, int[] varying, List<bool[]> masks, CancellationToken ct)
    {
        int backgroundRows = _background.Length;
        int coalitionsPerCall = Math.Max(1, _maxBatchRows / backgroundRows);
        var values = new double[masks.Count];
        for (int start = 0; start < masks.Count; start += coalitionsPerCall)
        {
            int count = Math.Min(coalitionsPerCall, masks.Count - start);
            var rows = new double[count * backgroundRows][];
            for (int c = 0; c < count; c++)
            {
                bool[] mask = masks[start + c];
                for (int b = 0; b < backgroundRows; b++)
                {
                    double[] row = _background[b].ToArray();
                    for (int k = 0; k < varying.Length; k++)
                    {
                        if (mask[k])
                        {
                            row[varying[k]] = instance[varying[k]];
                        }
                    }

                    rows[c * backgroundRows + b] = row;
                }
            }

            double[] predictions = await PredictAsync(rows, ct).ConfigureAwait(false);
            for (int c = 0; c < count; c++)
            {
                double sum = 0;
                for (int b = 0; b < backgroundRows; b++)
                {
                    sum += predictions[c * backgroundRows + b];
                }

                values[start + c] = sum / backgroundRows;
            }
        }

        return values;
    }

    // Weighted least squares with Σφ = delta: substitute φ_last = delta − Σ_{k<last} φ_k, so each coalition z gives
    // v(z) − base − z_last·delta = Σ_{k<last} (z_k − z_last)·φ_k, and solve the normal equations for φ_0 … φ_{last−1}.
    private double[] Solve(CoalitionPlan plan, double[] values, double delta)
    {
        int m = plan.Features;
        int last = m - 1;
        var normal = Matrix<double>.Build.Dense(last, last);
        var right = Vector<double>.Build.Dense(last);
        var x = new double[last];
        for (int i = 0; i < plan.Masks.Count; i++)
        {
            bool[] mask = plan.Masks[i];
            double weight = plan.Weights[i];
            double zLast = mask[last] ? 1.0 : 0.0;
            double y = values[i] - BaseValue - zLast * delta;
            for (int k = 0; k < last; k++)
            {
                x[k] = (mask[k] ? 1.0 : 0.0) - zLast;
            }

            for (int a = 0; a < last; a++)
            {
                if (x[a] == 0)
                {
                    continue;
                }

                right[a] += weight * x[a] * y;
                for (int b = 0; b < last; b++)
                {
                    normal[a, b] += weight * x[a] * x[b];
                }
            }
        }

        var phi = new double[m];
        var solution = PseudoInverseSolve(normal, right);
        double sum = 0;
        for (int k = 0; k < last; k++)
        {
            phi[k] = solution[k];
            sum += solution[k];
        }

        phi[last] = delta - sum;
        return phi;
    }

    // Sampled coalitions may not pin down every φ; the pseudo-inverse then gives the least-norm solution, as shap
    // falls back to numpy's pinv.
    private static Vector<double> PseudoInverseSolve(Matrix<double> matrix, Vector<double> right)
    {
        var svd = matrix.Svd(computeVectors: true);
        double tolerance = svd.S.Count > 0 ? svd.S[0] * matrix.RowCount * Precision.DoublePrecision : 0;
        var projected = svd.U.TransposeThisAndMultiply(right);
        for (int i = 0; i < projected.Count; i++)
        {
            projected[i] = svd.S[i] > tolerance ? projected[i] / svd.S[i] : 0.0;
        }

        return svd.VT.TransposeThisAndMultiply(projected);
    }

    private ValueTask<double[]> PredictAsync(double[][] rows, CancellationToken ct) => Check(_predict, rows, ct);

    private static async ValueTask<double[]> Check(Func<double[][], CancellationToken, ValueTask<double[]>> predict, double[][] rows, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        double[] predictions = await predict(rows, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("The prediction function returned null.");
        if (predictions.Length != rows.Length)
        {
            throw new InvalidOperationException($"The prediction function returned {predictions.Length} values for {rows.Length} rows.");
        }

        return predictions;
    }
}
