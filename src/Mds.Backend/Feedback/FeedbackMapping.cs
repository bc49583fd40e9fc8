using Mds.Contracts.Api;

namespace Mds.Backend.Feedback;

/// <summary>Feedback rows as the API shows them, wherever they are listed (the feedback endpoints, an inference record).</summary>
public static class FeedbackMapping
{
    internal static FeedbackDto ToDto(PredictionFeedback f, string model) =>
        new(f.Id, model, f.Version, f.RequestId, f.Correct, f.Predicted, f.TrueLabel, f.TrueValue, f.Comment, f.Analyst, f.CreatedAt);
}
