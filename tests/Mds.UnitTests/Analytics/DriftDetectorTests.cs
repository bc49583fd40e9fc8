using Mds.Analytics.Drift;

namespace Mds.UnitTests.Analytics;

public sealed class DriftDetectorTests
{
    private const double Golden = 0.6180339887498949;
    private const double Silver = 0.41421356237309515;

    [Theory]
    [InlineData(0.05, 1, 0.05)]
    [InlineData(0.05, 3, 0.05 / 3)]
    [InlineData(0.01, 20, 0.0005)]
    public void Bonferroni_threshold_is_alpha_over_the_number_of_features(double alpha, int features, double expected)
    {
        Assert.Equal(expected, Bonferroni.Threshold(alpha, features), 15);
    }

    [Fact]
    public void Bonferroni_rejects_meaningless_inputs()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Bonferroni.Threshold(0.05, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bonferroni.Threshold(1.5, 2));
    }

    [Fact]
    public void Each_feature_gets_its_test_PSI_and_flag_against_the_corrected_threshold()
    {
        // Feature "shifted": KS p = 0.0003665614428891803 (SciPy 1.10.1 ks_2samp asymp) < 0.05/3 → drifted.
        // Feature "borderline": KS p = 0.026797028434210456 — below α but above α/3 → not drifted.
        // Feature "plan": categorical, counts [[100,100],[160,40]] → χ² 38.2527…, p = 6.214951730882236e-10 → drifted;
        //   PSI = (0.8 − 0.5)·ln(0.8/0.5) + (0.2 − 0.5)·ln(0.2/0.5) = 0.4158883083359671.
        var detector = new DriftDetector(
            Rows(KolmogorovSmirnovTests.GoldenSample(200, Golden, 0, false), KolmogorovSmirnovTests.GoldenSample(200, Golden, 0, false), Alternating(200)),
            ["shifted", "borderline", "plan"],
            categoricalFeatures: [2]);

        var report = detector.Detect(
            Rows(KolmogorovSmirnovTests.GoldenSample(200, Silver, 0.2, false), KolmogorovSmirnovTests.GoldenSample(200, Silver, 0.14, false), MostlyZero(200, 160)));

        Assert.Equal(0.05 / 3, report.Threshold, 15);
        Assert.Equal(0.05, report.Alpha);
        Assert.True(report.Drifted);
        Assert.Equal((200, 200), (report.ReferenceRows, report.CurrentRows));

        var shifted = report.Features[0];
        Assert.Equal(("shifted", DriftTest.KolmogorovSmirnov, true), (shifted.Name, shifted.Test, shifted.Drifted));
        Assert.Equal(0.20499999999999996, shifted.Statistic, 14);
        Assert.Equal(0.0003665614428891803, shifted.PValue, 1e-13);
        Assert.True(shifted.Psi > 0.25, $"PSI {shifted.Psi} of a shift by 0.2 of a unit range");

        var borderline = report.Features[1];
        Assert.Equal(0.026797028434210456, borderline.PValue, 1e-12);
        Assert.True(borderline.PValue < report.Alpha);
        Assert.False(borderline.Drifted);

        var plan = report.Features[2];
        Assert.Equal(("plan", DriftTest.ChiSquared, true), (plan.Name, plan.Test, plan.Drifted));
        Assert.Equal(38.252747252747255, plan.Statistic, 11);
        Assert.Equal(6.214951730882236e-10, plan.PValue, 1e-19);
        Assert.Equal(0.4158883083359671, plan.Psi, 12);
    }

    [Fact]
    public void With_one_feature_the_threshold_is_alpha_itself()
    {
        var detector = new DriftDetector(Rows(KolmogorovSmirnovTests.GoldenSample(200, Golden, 0, false)), ["x"]);

        var report = detector.Detect(Rows(KolmogorovSmirnovTests.GoldenSample(200, Silver, 0.14, false)));

        Assert.Equal(0.05, report.Threshold);
        Assert.True(report.Features[0].Drifted);
        Assert.True(report.Drifted);
    }

    [Fact]
    public void A_window_like_the_reference_does_not_drift()
    {
        double[][] reference = Rows(KolmogorovSmirnovTests.GoldenSample(300, Golden, 0, false), Alternating(300));
        var detector = new DriftDetector(reference, ["x", "flag"], [1], alpha: 0.01);

        var report = detector.Detect(reference);

        Assert.False(report.Drifted);
        Assert.All(report.Features, f => Assert.Equal((1.0, 0.0, false), (f.PValue, f.Psi, f.Drifted)));
        Assert.Equal(0.005, report.Threshold, 15);
    }

    [Fact]
    public void Rows_of_the_wrong_width_and_bad_categorical_indices_are_rejected()
    {
        double[][] reference = [[1, 2], [3, 4]];

        Assert.Throws<ArgumentException>(() => new DriftDetector(reference, ["a"]));
        Assert.Throws<ArgumentException>(() => new DriftDetector(reference, ["a", "b"], [2]));
        var detector = new DriftDetector(reference, ["a", "b"]);
        Assert.Throws<ArgumentException>(() => detector.Detect([[1, 2, 3]]));
        Assert.Throws<ArgumentException>(() => detector.Detect([]));
    }

    private static double[][] Rows(params double[][] columns) =>
        [.. Enumerable.Range(0, columns[0].Length).Select(r => columns.Select(c => c[r]).ToArray())];

    private static double[] Alternating(int n) => [.. Enumerable.Range(0, n).Select(i => (double)(i % 2))];

    private static double[] MostlyZero(int n, int zeros) => [.. Enumerable.Range(0, n).Select(i => i < zeros ? 0.0 : 1.0)];

    [Fact]
    public void Histograms_are_the_bins_the_psi_used_counted_by_hand()
    {
        // Feature 0: reference 1..10 (deciles 1.9, 2.8, …, 9.1 → ten bins of one value each), window five 10s and five 1s.
        // Feature 1 (categorical): reference 0,0,0,0,0,1,1,1,1,1; window 1 ×8, 2 ×2.
        double[][] reference = [.. Enumerable.Range(1, 10).Select(i => new double[] { i, i <= 5 ? 0 : 1 })];
        double[][] current = [.. Enumerable.Range(0, 10).Select(i => new double[] { i < 5 ? 10 : 1, i < 8 ? 1 : 2 })];

        var report = new DriftDetector(reference, ["x", "colour"], categoricalFeatures: [1]).Detect(current);

        var numeric = report.Features[0].Histogram!;
        Assert.Equal(10, numeric.Bins.Count);
        Assert.Equal("< 1.9", numeric.Bins[0]);
        Assert.Equal("[1.9, 2.8)", numeric.Bins[1]);
        Assert.Equal("≥ 9.1", numeric.Bins[^1]);
        Assert.All(numeric.Reference, p => Assert.Equal(0.1, p, 12));
        Assert.Equal([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5], numeric.Current);
        Assert.Equal(PopulationStabilityIndex.FromProportions(numeric.Reference, numeric.Current), report.Features[0].Psi, 12);

        var categorical = report.Features[1].Histogram!;
        Assert.Equal(["0", "1", "2"], categorical.Bins);
        Assert.Equal([0.5, 0.5, 0.0], categorical.Reference);
        Assert.Equal([0.0, 0.8, 0.2], categorical.Current);
        Assert.Equal(PopulationStabilityIndex.FromProportions(categorical.Reference, categorical.Current), report.Features[1].Psi, 12);
    }
}
