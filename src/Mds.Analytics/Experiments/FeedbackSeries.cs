namespace Mds.Analytics.Experiments;

/// <summary>A candidate's feedback on the calls it answered within one time bucket.</summary>
/// <param name="Start">The bucket's start (UTC).</param>
/// <param name="Feedback">Calls in the bucket that have feedback (the latest record of each counts).</param>
/// <param name="Correct">Of those, feedback that called the prediction correct.</param>
/// <param name="Scored">Of those, feedback with a true value and a call with a score (regressors).</param>
/// <param name="SumError">The sum of |score − true value| over the scored ones.</param>
/// <param name="SumSquaredError">The sum of (score − true value)² over the scored ones.</param>
public sealed record FeedbackBucket(DateTimeOffset Start, long Feedback, long Correct, long Scored, double SumError, double SumSquaredError);

/// <summary>A candidate's cumulative figures at the end of one bucket.</summary>
/// <param name="Start">The bucket's start.</param>
/// <param name="Feedback">Feedback on calls made in this bucket.</param>
/// <param name="Total">Feedback on calls made up to the end of this bucket: what the estimate is based on.</param>
/// <param name="Accuracy">Classifiers: correct ÷ total with its Wilson 95 % interval.</param>
/// <param name="Mae">Regressors: mean absolute error so far with its t interval (at least 2 scored records).</param>
public sealed record FeedbackSeriesPoint(DateTimeOffset Start, long Feedback, long Total, Estimate? Accuracy, Estimate? Mae);

/// <summary>
/// Accuracy (or MAE) over time for an experiment's chart: buckets sized to the experiment's age, each point the
/// cumulative estimate over every call made up to the bucket's end — per-bucket figures from a handful of feedback
/// records jump about, while the cumulative ones settle and their interval narrows as evidence comes in.
/// </summary>
public static class FeedbackSeries
{
    /// <summary>Minute buckets.</summary>
    public const string Minute = "minute";

    /// <summary>Hour buckets.</summary>
    public const string Hour = "hour";

    /// <summary>Day buckets.</summary>
    public const string Day = "day";

    /// <summary>
    /// The bucket for an experiment <paramref name="age"/> old: minutes under 2 hours, hours under 2 days, days beyond
    /// (at most 120, 48, or one a day, points per candidate).
    /// </summary>
    public static string BucketFor(TimeSpan age) =>
        age < TimeSpan.FromHours(2) ? Minute : age < TimeSpan.FromDays(2) ? Hour : Day;

    /// <summary>The length of <paramref name="bucket"/> (minute, hour or day).</summary>
    public static TimeSpan Length(string bucket) => bucket switch
    {
        Minute => TimeSpan.FromMinutes(1),
        Hour => TimeSpan.FromHours(1),
        Day => TimeSpan.FromDays(1),
        _ => throw new ArgumentOutOfRangeException(nameof(bucket), bucket, "A bucket is minute, hour or day."),
    };

    /// <summary>
    /// The cumulative series of one candidate from its buckets (any order; empty buckets skipped): at each bucket the
    /// accuracy (Wilson) of all feedback so far, or for a <paramref name="regressor"/> the MAE (t interval).
    /// </summary>
    public static IReadOnlyList<FeedbackSeriesPoint> Cumulative(IEnumerable<FeedbackBucket> buckets, bool regressor)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        var points = new List<FeedbackSeriesPoint>();
        long total = 0, correct = 0, scored = 0;
        double sum = 0, sumSquares = 0;
        foreach (var b in buckets.Where(b => b.Feedback > 0).OrderBy(b => b.Start))
        {
            total += b.Feedback;
            correct += b.Correct;
            scored += b.Scored;
            sum += b.SumError;
            sumSquares += b.SumSquaredError;
            Estimate? accuracy = regressor ? null : WilsonInterval.Of(correct, total);
            Estimate? mae = null;
            if (regressor && scored >= 2)
            {
                double mean = sum / scored;
                double variance = Math.Max(0, (sumSquares - scored * mean * mean) / (scored - 1));
                mae = MeanInterval.Of(new SampleSummary(scored, mean, variance));
            }

            points.Add(new FeedbackSeriesPoint(b.Start, b.Feedback, total, accuracy, mae));
        }

        return points;
    }
}
