using System.Security.Claims;
using System.Text.Json;
using Mds.Backend.Audit;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Limits;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Mds.Backend.Explanations;

/// <summary>
/// Explanations: <c>POST /api/models/{name}/versions/{v}/explain</c> for a row sent, and
/// <c>GET|POST /api/records/{id}/explanation</c> for a stored record's row (computed once, then kept).
/// </summary>
public static class ExplanationsApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The concurrency limit of explanation requests (<see cref="ExplanationOptions.MaxConcurrent"/>).</summary>
    public const string LimitPolicy = "explanation";

    public static IHostApplicationBuilder AddExplanations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ExplanationOptions>().Bind(builder.Configuration.GetSection("Mds:Explanations")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<Explainer>();
        builder.Services.AddConcurrencyLimit<ExplanationOptions>(LimitPolicy, o => (o.MaxConcurrent, o.MaxQueued));
        return builder;
    }

    public static IEndpointRouteBuilder MapExplanationsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/models/{name}/versions/{version:int}/explain", ExplainRow).WithTags("Explanations").RequireAuthorization(Policies.AnyUser)
            .WithName("ExplainRow").WithSummary("KernelSHAP attributions of the model's prediction for one row sent").RequireRateLimiting(LimitPolicy);
        var record = app.MapGroup("/api/records/{id:guid}/explanation").WithTags("Explanations").RequireAuthorization(Policies.AnyUser);
        record.MapGet("/", GetKept).WithName("GetRecordExplanation").WithSummary("The kept explanation of a record's row (?row=0); 404 until computed");
        record.MapPost("/", ExplainRecord).WithName("ExplainRecord").WithSummary("Explain a record's row (?row=0), or return the kept explanation")
            .RequireRateLimiting(LimitPolicy);
        return app;
    }

    private static async Task<Results<Ok<ExplanationDto>, ProblemHttpResult>> ExplainRow(
        string name, int version, [FromBody] ExplainRowsDto? body, ClaimsPrincipal caller, MdsDbContext db, ReferenceSamples samples, Explainer explainer, CancellationToken ct)
    {
        var (sample, problem) = await samples.ForVersionAsync(db, name, version, ct);
        if (sample is null)
        {
            return problem!;
        }

        if (body?.Rows is not { Count: 1 } rows || rows[0] is not { } cells || cells.Count != sample.Features.Count)
        {
            return Problem(body?.Rows is { Count: > 1 } many ? $"Send exactly one row; {many.Count} were sent."
                : $"'rows' is required: one row of {sample.Features.Count} cells, one per column ({string.Join(", ", sample.Features)}).", StatusCodes.Status400BadRequest);
        }

        // Numbers as JSON numbers (today's form) or text; text columns as strings.
        var text = new string[cells.Count];
        for (int i = 0; i < cells.Count; i++)
        {
            text[i] = cells[i].ValueKind switch
            {
                JsonValueKind.String => cells[i].GetString()!,
                JsonValueKind.Number => cells[i].GetRawText(),
                _ => "",
            };
            if (cells[i].ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            {
                return Problem($"Cell {i} ('{sample.Features[i]}') must be a number or a string.", StatusCodes.Status400BadRequest);
            }
        }

        var v = await db.ModelVersions.AsNoTracking().Include(x => x.Model).SingleAsync(x => x.Id == sample.VersionId, ct);
        try
        {
            return TypedResults.Ok(await explainer.ExplainAsync(v, text, recordId: null, row: 0, CallerIdentity.Name(caller), ct));
        }
        catch (ExplanationException e)
        {
            return Problem(e.Message, e.Status);
        }
    }

    private static async Task<Results<Ok<ExplanationDto>, ProblemHttpResult>> GetKept(Guid id, ClaimsPrincipal caller, MdsDbContext db, CancellationToken ct, int row = 0)
    {
        // An explanation holds the row's values: it is as readable as its record.
        if (!await db.Set<InferenceRecord>().WithId(id).VisibleTo(caller).AnyAsync(ct))
        {
            return Problem($"Inference record {id} does not exist (or is past retention).", StatusCodes.Status404NotFound);
        }

        var kept = await db.Set<RecordExplanation>().AsNoTracking().SingleOrDefaultAsync(e => e.RecordId == id && e.Row == row, ct);
        return kept is null
            ? Problem($"Row {row} of record {id} has not been explained yet; POST to this address to explain it.", StatusCodes.Status404NotFound)
            : TypedResults.Ok(JsonSerializer.Deserialize<ExplanationDto>(kept.Json, Json)!);
    }

    private static async Task<Results<Ok<ExplanationDto>, ProblemHttpResult>> ExplainRecord(
        Guid id, ClaimsPrincipal caller, MdsDbContext db, Explainer explainer, ReferenceSamples samples, CancellationToken ct, int row = 0)
    {
        var record = await db.Set<InferenceRecord>().AsNoTracking().WithId(id).VisibleTo(caller).FirstOrDefaultAsync(ct);
        if (record is null)
        {
            return Problem($"Inference record {id} does not exist (or is past retention).", StatusCodes.Status404NotFound);
        }

        var kept = await db.Set<RecordExplanation>().AsNoTracking().SingleOrDefaultAsync(e => e.RecordId == id && e.Row == row, ct);
        if (kept is not null)
        {
            return TypedResults.Ok(JsonSerializer.Deserialize<ExplanationDto>(kept.Json, Json)!);
        }

        if (record.Status >= 400 || record.Version is not int number)
        {
            return Problem("Only successful inferences can be explained; this one failed.", StatusCodes.Status400BadRequest);
        }

        var version = await db.ModelVersions.AsNoTracking().Include(v => v.Model).SingleOrDefaultAsync(v => v.Model.Name == record.ModelName && v.Version == number, ct);
        if (version is null)
        {
            return Problem($"Model '{record.ModelName}' version {number} has been deleted; its records can no longer be explained.", StatusCodes.Status400BadRequest);
        }

        var (sample, error) = await samples.GetAsync(db, version, ct);
        if (sample is null)
        {
            return Problem(char.ToUpperInvariant(error![0]) + error[1..] + ".", StatusCodes.Status400BadRequest);
        }

        var codec = sample.NewCodec();
        var rows = sample.RowsOf(record.Request, codec);
        if (rows.Count == 0)
        {
            return Problem("The record's input rows were not kept (the request was over the audit log's size limit, or does not fit the model's columns).", StatusCodes.Status400BadRequest);
        }

        if (row < 0 || row >= rows.Count)
        {
            return Problem($"The record holds {rows.Count} row{(rows.Count == 1 ? "" : "s")}; 'row' must be 0–{rows.Count - 1}.", StatusCodes.Status400BadRequest);
        }

        ExplanationDto explanation;
        try
        {
            explanation = await explainer.ExplainAsync(version, codec.Decode(rows[row]), id, row, CallerIdentity.Name(caller), ct);
        }
        catch (ExplanationException e)
        {
            return Problem(e.Message, e.Status);
        }

        db.Add(new RecordExplanation { RecordId = id, Row = row, ModelVersionId = version.Id, CreatedAt = explanation.CreatedAt, Json = JsonSerializer.Serialize(explanation, Json) });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // explained twice at once: keep the first
            kept = await db.Set<RecordExplanation>().AsNoTracking().SingleAsync(x => x.RecordId == id && x.Row == row, ct);
            return TypedResults.Ok(JsonSerializer.Deserialize<ExplanationDto>(kept.Json, Json)!);
        }

        return TypedResults.Ok(explanation);
    }

    private static ProblemHttpResult Problem(string detail, int status) => TypedResults.Problem(detail, statusCode: status);
}
