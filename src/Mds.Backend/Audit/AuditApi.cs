using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Feedback;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Audit;

/// <summary><c>/api/records</c>: the audit log of inferences, searched and opened, as far as <see cref="RecordOwnership"/> lets the caller see.</summary>
public static class AuditApi
{
    private const int MaxTake = 200;

    public static IHostApplicationBuilder AddAudit(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuditRetentionOptions>().Bind(builder.Configuration.GetSection("Mds:Audit")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AuditPartitions>();
        builder.Services.AddHostedService<AuditPartitionsStartup>();
        return builder;
    }

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/records").WithTags("Audit").RequireAuthorization(Policies.AnyUser);
        group.MapGet("/", Search).WithName("SearchRecords")
            .WithSummary("Inference records, newest first: ?model=&version=&status=ok|error|<code>&from=&to=&requestId=&experiment=&candidate=&outliers=true&take=&before=<nextCursor> (or skip= up to 10000)");
        group.MapGet("/{id:guid}", Get).WithName("GetRecord").WithSummary("One record with its request, response and feedback");
        return app;
    }

    private static async Task<Results<Ok<InferenceRecordPageDto>, ProblemHttpResult>> Search(
        MdsDbContext db, ClaimsPrincipal caller, CancellationToken ct, string? model = null, int? version = null, string? status = null, DateTimeOffset? from = null, DateTimeOffset? to = null,
        string? requestId = null, bool? outliers = null, int skip = 0, int take = 50, string? before = null, string? experiment = null, string? candidate = null)
    {
        if (skip < 0 || take < 1)
        {
            return Bad("'skip' must be 0 or more and 'take' 1 or more.");
        }

        // Deep offsets make PostgreSQL read and drop every skipped row; past the cap, page with the cursor instead.
        if (skip > MaxSkip)
        {
            return Bad($"'skip' is at most {MaxSkip}; to page deeper, pass the previous page's 'nextCursor' as 'before' (with skip=0).");
        }

        (DateTimeOffset Time, Guid Id)? cursor = null;
        if (before is { Length: > 0 })
        {
            if (ParseCursor(before) is not { } c)
            {
                return Bad("'before' is not a cursor this API gave ('nextCursor' of a page).");
            }

            cursor = c;
        }

        var query = db.Set<InferenceRecord>().AsNoTracking().VisibleTo(caller);
        if (!string.IsNullOrWhiteSpace(model))
        {
            query = query.Where(r => r.ModelName == model);
        }

        if (version is int v)
        {
            query = query.Where(r => r.Version == v);
        }

        switch (status?.Trim().ToLowerInvariant())
        {
            case null or "":
                break;
            case "ok":
                query = query.Where(r => r.Status < 400);
                break;
            case "error":
                query = query.Where(r => r.Status >= 400);
                break;
            case var code when int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out int c) && c is >= 100 and <= 599:
                query = query.Where(r => r.Status == c);
                break;
            default:
                return Bad($"'status' is ok, error or an HTTP status code; '{status}' is none of these.");
        }

        if (from is { } f)
        {
            query = query.Where(r => r.Time >= f.ToUniversalTime());
        }

        if (to is { } t)
        {
            query = query.Where(r => r.Time < t.ToUniversalTime());
        }

        if (!string.IsNullOrWhiteSpace(requestId))
        {
            query = query.Where(r => r.RequestId == requestId);
        }

        if (!string.IsNullOrWhiteSpace(experiment))
        {
            query = query.Where(r => r.Experiment == experiment);
        }

        if (!string.IsNullOrWhiteSpace(candidate))
        {
            query = query.Where(r => r.Candidate == candidate);
        }

        if (outliers is bool o)
        {
            query = query.Where(r => (r.IsOutlier ?? false) == o);
        }

        if (cursor is { } after)
        {
            // Keyset: strictly older than the last row of the previous page, in the same (Time, Id) order; index-backed.
            query = query.Where(r => EF.Functions.LessThan(ValueTuple.Create(r.Time, r.Id), ValueTuple.Create(after.Time, after.Id)));
        }

        int n = Math.Min(take, MaxTake);
        var rows = await query.OrderByDescending(r => r.Time).ThenByDescending(r => r.Id).Skip(skip).Take(n + 1)
            .Select(r => new InferenceRecordSummaryDto(r.Id, r.Time, r.RequestId, r.ModelName, r.Version, r.Worker, r.Status, r.LatencyMs,
                r.Caller, r.TraceId, r.Error, r.OutlierScore, r.IsOutlier, r.Experiment, r.Candidate, r.Mirror))
            .ToListAsync(ct);
        var page = rows.Take(n).Select(Scored).ToList();
        string? next = rows.Count > n ? CursorOf(page[^1].Time, page[^1].Id) : null;
        return TypedResults.Ok(new InferenceRecordPageDto(page, skip, rows.Count > n, next));
    }

    /// <summary>The deepest <c>skip</c> served; deeper pages use the cursor.</summary>
    public const int MaxSkip = 10_000;

    /// <summary>A page's last (time, id) as an opaque cursor: UTC ticks and the id.</summary>
    private static string CursorOf(DateTimeOffset time, Guid id) =>
        time.UtcTicks.ToString(CultureInfo.InvariantCulture) + "_" + id.ToString("N");

    private static (DateTimeOffset Time, Guid Id)? ParseCursor(string cursor)
    {
        int sep = cursor.IndexOf('_', StringComparison.Ordinal);
        return sep > 0
            && long.TryParse(cursor.AsSpan(0, sep), NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && Guid.TryParseExact(cursor.AsSpan(sep + 1), "N", out var id)
            ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
            : null;
    }

    private static async Task<Results<Ok<InferenceRecordDto>, ProblemHttpResult>> Get(Guid id, ClaimsPrincipal caller, MdsDbContext db, CancellationToken ct)
    {
        var r = await db.Set<InferenceRecord>().AsNoTracking().WithId(id).VisibleTo(caller).FirstOrDefaultAsync(ct);
        if (r is null)
        {
            return TypedResults.Problem($"Inference record {id} does not exist (or is past retention).", statusCode: StatusCodes.Status404NotFound);
        }

        var feedback = await db.Set<PredictionFeedback>().AsNoTracking().Where(x => x.RequestId == r.RequestId && x.Model.Name == r.ModelName)
            .OrderBy(x => x.CreatedAt).ToListAsync(ct);
        var summary = new InferenceRecordSummaryDto(r.Id, r.Time, r.RequestId, r.ModelName, r.Version, r.Worker, r.Status, r.LatencyMs,
            r.Caller, r.TraceId, r.Error, r.OutlierScore, r.IsOutlier, r.Experiment, r.Candidate, r.Mirror);
        return TypedResults.Ok(new InferenceRecordDto(Scored(summary), Parse(r.Request), Parse(r.Response), [.. feedback.Select(x => FeedbackMapping.ToDto(x, r.ModelName))]));
    }

    // The outlier scorer marks records without readable rows with NaN (so it does not read them again): no score.
    private static InferenceRecordSummaryDto Scored(InferenceRecordSummaryDto r) =>
        r.OutlierScore is double score && double.IsNaN(score) ? r with { OutlierScore = null, IsOutlier = null } : r;

    private static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();

    private static ProblemHttpResult Bad(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest);
}
