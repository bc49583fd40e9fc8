using System.Security.Claims;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Feedback;

/// <summary><c>/api/feedback</c> and <c>/api/models/{name}/feedback</c>: verdicts on predictions and accuracy from them.</summary>
public static class FeedbackApi
{
    public static IEndpointRouteBuilder MapFeedbackApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/feedback", Create).RequireAuthorization(Policies.AnyUser).WithTags("Feedback")
            .WithName("CreateFeedback").WithSummary("Say whether a prediction was right, with the true label or value");
        var model = app.MapGroup("/api/models/{name}/feedback").RequireAuthorization(Policies.AnyUser).WithTags("Feedback");
        model.MapGet("/", List).WithName("ListFeedback").WithSummary("Feedback on a model, newest first, with filters");
        model.MapGet("/accuracy", Accuracy).WithName("FeedbackAccuracy").WithSummary("Share of correct predictions per hour or day");
        return app;
    }

    private static async Task<Results<Created<FeedbackDto>, ProblemHttpResult>> Create(
        CreateFeedbackRequest? request, ClaimsPrincipal caller, MdsDbContext db, TimeProvider clock, CancellationToken ct)
    {
        if (request is null || string.IsNullOrWhiteSpace(request.ModelName) || string.IsNullOrWhiteSpace(request.RequestId))
        {
            return TypedResults.Problem("'modelName' and 'requestId' are required.", statusCode: 400);
        }

        if (request.RequestId.Length > 128 || request.Comment?.Length > 4000 || request.Predicted?.Length > 1000 || request.TrueLabel?.Length > 1000)
        {
            return TypedResults.Problem("Too long: requestId ≤ 128, predicted and trueLabel ≤ 1000, comment ≤ 4000 characters.", statusCode: 400);
        }

        if (request.TrueValue is double v && !double.IsFinite(v))
        {
            return TypedResults.Problem("'trueValue' must be a finite number.", statusCode: 400);
        }

        var model = await db.Models.AsNoTracking().SingleOrDefaultAsync(m => m.Name == request.ModelName, ct);
        if (model is null)
        {
            return NoModel($"Model '{request.ModelName}' does not exist.");
        }

        var entity = new PredictionFeedback
        {
            ModelId = model.Id, Version = request.Version, RequestId = request.RequestId.Trim(), Correct = request.Correct,
            Predicted = request.Predicted, TrueLabel = request.TrueLabel, TrueValue = request.TrueValue, Comment = request.Comment,
            Analyst = CallerIdentity.Name(caller) ?? "unknown", CreatedAt = clock.GetUtcNow(),
        };
        db.Add(entity);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/models/{model.Name}/feedback/{entity.Id}", FeedbackMapping.ToDto(entity, model.Name));
    }

    private static async Task<Results<Ok<List<FeedbackDto>>, ProblemHttpResult>> List(
        string name, MdsDbContext db, CancellationToken ct, int? version = null, bool? correct = null, string? analyst = null,
        DateTimeOffset? from = null, DateTimeOffset? to = null, int skip = 0, int take = 100)
    {
        var model = await db.Models.AsNoTracking().SingleOrDefaultAsync(m => m.Name == name, ct);
        if (model is null)
        {
            return NoModel($"Model '{name}' does not exist.");
        }

        var query = Filter(db.Set<PredictionFeedback>().AsNoTracking().Where(f => f.ModelId == model.Id), version, from, to);
        if (correct is bool c)
        {
            query = query.Where(f => f.Correct == c);
        }

        if (!string.IsNullOrWhiteSpace(analyst))
        {
            query = query.Where(f => f.Analyst == analyst);
        }

        var rows = await query.OrderByDescending(f => f.CreatedAt).ThenByDescending(f => f.Id)
            .Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 500)).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(f => FeedbackMapping.ToDto(f, name)).ToList());
    }

    private static async Task<Results<Ok<List<AccuracyPointDto>>, ProblemHttpResult>> Accuracy(
        string name, MdsDbContext db, TimeProvider clock, CancellationToken ct, string bucket = "hour", int? version = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        if (bucket is not ("hour" or "day"))
        {
            return TypedResults.Problem("'bucket' must be hour or day.", statusCode: 400);
        }

        var model = await db.Models.AsNoTracking().SingleOrDefaultAsync(m => m.Name == name, ct);
        if (model is null)
        {
            return NoModel($"Model '{name}' does not exist.");
        }

        var end = (to ?? clock.GetUtcNow().AddMinutes(1)).ToUniversalTime();
        var start = (from ?? end.AddDays(-7)).ToUniversalTime();
        int onlyVersion = version ?? -1;
        // Bucketed by PostgreSQL in UTC whatever the session's time zone; counts come back, not rows.
        var points = await db.Database.SqlQuery<AccuracyRow>($"""
            SELECT date_trunc({bucket}, "CreatedAt", 'UTC') AS "Start", count(*)::int AS "Total", (count(*) FILTER (WHERE "Correct"))::int AS "Correct"
            FROM feedback
            WHERE "ModelId" = {model.Id} AND "CreatedAt" >= {start} AND "CreatedAt" < {end} AND ({onlyVersion} < 0 OR "Version" = {onlyVersion})
            GROUP BY 1 ORDER BY 1
            """).ToListAsync(ct);
        return TypedResults.Ok(points.Select(p => new AccuracyPointDto(p.Start.ToUniversalTime(), p.Total, p.Correct, (double)p.Correct / p.Total)).ToList());
    }

    private sealed class AccuracyRow
    {
        public DateTimeOffset Start { get; init; }
        public int Total { get; init; }
        public int Correct { get; init; }
    }

    private static IQueryable<PredictionFeedback> Filter(IQueryable<PredictionFeedback> query, int? version, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (version is int v)
        {
            query = query.Where(f => f.Version == v);
        }

        if (from is { } f0)
        {
            var utc = f0.ToUniversalTime();
            query = query.Where(f => f.CreatedAt >= utc);
        }

        if (to is { } t0)
        {
            var utc = t0.ToUniversalTime();
            query = query.Where(f => f.CreatedAt < utc);
        }

        return query;
    }

    private static ProblemHttpResult NoModel(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound);
}
