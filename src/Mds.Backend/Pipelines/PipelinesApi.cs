using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Mds.Backend.Audit;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Pipelines;

/// <summary>Handler dependencies of the pipeline endpoints.</summary>
public sealed class PipelineServices(MdsDbContext db, PipelineTable table, Gateway.RoutingTable routing, TimeProvider clock)
{
    public MdsDbContext Db { get; } = db;
    public PipelineTable Table { get; } = table;
    public Gateway.RoutingTable Routing { get; } = routing;
    public TimeProvider Clock { get; } = clock;
}

/// <summary>
/// Pipelines as a resource, deployed apart from the models they call: <c>POST /api/pipelines</c> applies a spec (YAML
/// or JSON) as a new version when it changed; the version goes live once every step's model has a Ready replica.
/// Runs are listed and inspected step by step under <c>/api/pipelines/{name}/runs</c>.
/// </summary>
public static class PipelinesApi
{
    /// <summary>Largest spec accepted, in bytes (read no further).</summary>
    public const int MaxSpecBytes = 256 * 1024;

    private const int MaxRuns = 500;

    public static IHostApplicationBuilder AddPipelines(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PipelineOptions>().BindConfiguration(PipelineOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PipelineTable>();
        builder.Services.AddHostedService<PipelineRefreshLoop>();
        builder.Services.AddSingleton<PipelineRunLog>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PipelineRunLog>());
        builder.Services.AddSingleton<PipelineRunner>();
        builder.Services.AddScoped<PipelineServices>();
        return builder;
    }

    public static IEndpointRouteBuilder MapPipelinesApi(this IEndpointRouteBuilder app)
    {
        var pipelines = app.MapGroup("/api/pipelines").WithTags("Pipelines");
        pipelines.MapPost("/", Apply).RequireAuthorization(Policies.Researcher).DisableAntiforgery()
            .WithName("ApplyPipeline").WithSummary("Apply a pipeline spec (YAML or JSON); a changed spec becomes a new version; ?dryRun=true only validates");
        pipelines.MapGet("/", List).RequireAuthorization(Policies.AnyUser)
            .WithName("ListPipelines").WithSummary("Every pipeline with its state");
        pipelines.MapGet("/{name}", Get).RequireAuthorization(Policies.AnyUser)
            .WithName("GetPipeline").WithSummary("A pipeline: versions, steps and what they wait for, inputs and outputs");
        pipelines.MapDelete("/{name}", Delete).RequireAuthorization(Policies.Researcher)
            .WithName("DeletePipeline").WithSummary("Delete a pipeline, its versions, its run records and its batches (the models stay)");
        pipelines.MapGet("/{name}/versions/{version:int}", GetVersion).RequireAuthorization(Policies.AnyUser)
            .WithName("GetPipelineVersion").WithSummary("One version: its spec, graph and step states");
        pipelines.MapGet("/{name}/runs", Runs).RequireAuthorization(Policies.AnyUser)
            .WithName("ListPipelineRuns").WithSummary("Recent runs, newest first (status, latency, steps ran or skipped)");
        pipelines.MapGet("/{name}/runs/{requestId}", Run).RequireAuthorization(Policies.AnyUser)
            .WithName("GetPipelineRun").WithSummary("One run with every step's inputs and outputs");
        return app;
    }

    private static async Task<Results<Created<PipelineApplyResult>, Ok<PipelineApplyResult>, JsonHttpResult<PipelineSpecProblem>, ProblemHttpResult>> Apply(
        HttpContext http, bool? dryRun, ClaimsPrincipal caller, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        string? text = await ReadSpecAsync(http.Request, ct);
        if (text is null)
        {
            return Invalid([new PipelineSpecProblemDto("", $"the spec is larger than {MaxSpecBytes / 1024} KiB")]);
        }

        PipelineSpec spec;
        PipelineGraph graph;
        try
        {
            spec = PipelineSpecParser.Parse(text, http.Request.ContentType);
            await s.Routing.RefreshAsync(ct); // type-check against the models as they are now
            graph = PipelineValidator.Validate(spec, s.Table.Schemas());
        }
        catch (PipelineSpecException e)
        {
            return Invalid(PipelineSpecParser.WithLines(text, http.Request.ContentType, e.Problems));
        }

        if (spec.Streaming && Streams.StreamSettings.SwitchedOff(http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Streams.StreamingOptions>>().Value) is { } off)
        {
            return TypedResults.Problem($"The spec says 'streaming: true', but {off}.", statusCode: StatusCodes.Status409Conflict);
        }

        string canonical = PipelineSpecParser.Canonicalize(spec);
        var pipeline = await s.Db.Set<Pipeline>().Include(p => p.Versions).SingleOrDefaultAsync(p => p.Name == spec.Name, ct);
        var latest = pipeline?.Versions.MaxBy(v => v.Version);
        if (latest is not null && JsonEquals(latest.SpecJson, canonical))
        {
            if (spec.Streaming && dryRun != true)
            {
                await Streams.StreamSettings.EnableFromSpecAsync(s.Db, spec.Name, CallerIdentity.Name(caller), http.RequestServices, ct);
            }

            return TypedResults.Ok(new PipelineApplyResult(spec.Name, latest.Version, false, latest.State, latest.StateReason));
        }

        int next = (latest?.Version ?? 0) + 1;
        if (dryRun == true)
        {
            var waiting = (await s.Table.StepStatusAsync(graph, ct)).Where(x => !x.Ready).Select(x => $"step '{x.Name}': {x.Waiting}").ToList();
            return TypedResults.Ok(new PipelineApplyResult(spec.Name, next, false, waiting.Count == 0 ? PipelineStates.Live : PipelineStates.Pending,
                waiting.Count == 0 ? null : string.Join("; ", waiting)));
        }

        var now = s.Clock.GetUtcNow();
        string? who = CallerIdentity.Name(caller);
        if (pipeline is null)
        {
            pipeline = new Pipeline { Name = spec.Name, CreatedAt = now, CreatedBy = who };
            s.Db.Add(pipeline);
        }

        foreach (var older in pipeline.Versions.Where(v => v.State == PipelineStates.Pending))
        {
            older.State = PipelineStates.Superseded; // the newest spec is the one to wait for
            older.StateReason = $"version {next} was applied before it went live";
        }

        pipeline.Versions.Add(new PipelineVersion
        {
            Version = next, SpecText = text, SpecJson = canonical, State = PipelineStates.Pending,
            CreatedAt = now, CreatedBy = who,
        });
        try
        {
            await s.Db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return TypedResults.Problem($"Pipeline '{spec.Name}' was changed at the same time; apply again.", statusCode: StatusCodes.Status409Conflict);
        }

        if (spec.Streaming)
        {
            await Streams.StreamSettings.EnableFromSpecAsync(s.Db, spec.Name, who, http.RequestServices, ct);
        }

        await s.Table.RefreshAsync(ct); // goes live now when its models are ready
        var made = await s.Db.Set<PipelineVersion>().AsNoTracking().SingleAsync(v => v.PipelineId == pipeline.Id && v.Version == next, ct);
        return TypedResults.Created($"/api/pipelines/{Uri.EscapeDataString(spec.Name)}/versions/{next}",
            new PipelineApplyResult(spec.Name, next, true, made.State, made.StateReason));
    }

    private static async Task<Ok<List<PipelineDto>>> List([AsParameters] PipelineServices s, CancellationToken ct)
    {
        var pipelines = await s.Db.Set<Pipeline>().AsNoTracking().Include(p => p.Versions).OrderBy(p => p.Name).ToListAsync(ct);
        var list = new List<PipelineDto>(pipelines.Count);
        foreach (var p in pipelines)
        {
            list.Add(await ToDtoAsync(p, s, withVersions: false, ct));
        }

        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<PipelineDto>, ProblemHttpResult>> Get(string name, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        var p = await s.Db.Set<Pipeline>().AsNoTracking().Include(x => x.Versions).SingleOrDefaultAsync(x => x.Name == name, ct);
        return p is null ? NotFound(name) : TypedResults.Ok(await ToDtoAsync(p, s, withVersions: true, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string name, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        int deleted = await s.Db.Set<Pipeline>().Where(p => p.Name == name).ExecuteDeleteAsync(ct);
        if (deleted == 0)
        {
            return NotFound(name);
        }

        await s.Db.Set<PipelineRunRecord>().Where(r => r.Pipeline == name).ExecuteDeleteAsync(ct);
        await s.Db.Set<Streams.StreamSetting>().Where(x => x.Kind == Streams.StreamResource.Pipelines && x.Name == name).ExecuteDeleteAsync(ct); // its stream stops
        await s.Table.RefreshAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<PipelineVersionDto>, ProblemHttpResult>> GetVersion(string name, int version, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        var v = await s.Db.Set<PipelineVersion>().AsNoTracking().SingleOrDefaultAsync(x => x.Pipeline.Name == name && x.Version == version, ct);
        return v is null
            ? TypedResults.Problem($"Pipeline '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(await VersionDtoAsync(v, s, ct));
    }

    private static async Task<Results<Ok<List<PipelineRunDto>>, ProblemHttpResult>> Runs(
        string name, int? limit, int? status, string? requestId, DateTimeOffset? before, ClaimsPrincipal caller, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        if (!await s.Db.Set<Pipeline>().AnyAsync(p => p.Name == name, ct))
        {
            return NotFound(name);
        }

        var query = s.Db.Set<PipelineRunRecord>().AsNoTracking().VisibleTo(caller).Where(r => r.Pipeline == name);
        if (status is int st)
        {
            query = st is >= 100 and < 600 && st % 100 == 0 ? query.Where(r => r.Status >= st && r.Status < st + 100) : query.Where(r => r.Status == st);
        }

        if (!string.IsNullOrEmpty(requestId))
        {
            query = query.Where(r => r.RequestId == requestId);
        }

        if (before is { } b)
        {
            query = query.Where(r => r.Time < b);
        }

        var rows = await query.OrderByDescending(r => r.Time).Take(Math.Clamp(limit ?? 50, 1, MaxRuns)).ToListAsync(ct);
        return TypedResults.Ok(rows.ConvertAll(r => PipelineRunLog.ToDto(r, withTensors: false)));
    }

    private static async Task<Results<Ok<PipelineRunDto>, ProblemHttpResult>> Run(string name, string requestId, ClaimsPrincipal caller, [AsParameters] PipelineServices s, CancellationToken ct)
    {
        var r = await s.Db.Set<PipelineRunRecord>().AsNoTracking().VisibleTo(caller).Where(x => x.Pipeline == name && x.RequestId == requestId)
            .OrderByDescending(x => x.Time).FirstOrDefaultAsync(ct);
        return r is null
            ? TypedResults.Problem($"Pipeline '{name}' has no run with request id '{requestId}' (runs are written a moment after they end).", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(PipelineRunLog.ToDto(r, withTensors: true));
    }

    private static async Task<PipelineDto> ToDtoAsync(Pipeline p, PipelineServices s, bool withVersions, CancellationToken ct)
    {
        var route = await s.Table.FindAsync(p.Name, ct);
        var latest = p.Versions.MaxBy(v => v.Version)!;
        var versions = new List<PipelineVersionDto>();
        if (withVersions)
        {
            foreach (var v in p.Versions.OrderByDescending(v => v.Version))
            {
                versions.Add(await VersionDtoAsync(v, s, ct));
            }
        }

        IReadOnlyList<PipelineStepStatusDto> steps = TryCompile(latest.SpecJson, s.Table.Schemas(), out var graph, out _)
            ? await s.Table.StepStatusAsync(graph, ct) : [];
        string state = route?.Graph is not null ? PipelineStates.Live : PipelineStates.Pending;
        string? reason = latest.State == PipelineStates.Pending ? latest.StateReason ?? route?.Reason : route?.Reason;
        return new PipelineDto(p.Id, p.Name, route?.LiveVersion ?? p.LiveVersion, latest.Version, state, reason, p.CreatedAt, versions, steps,
            route?.Inputs ?? [], route?.Outputs ?? []);
    }

    private static async Task<PipelineVersionDto> VersionDtoAsync(PipelineVersion v, PipelineServices s, CancellationToken ct)
    {
        var schemas = s.Table.Schemas();
        IReadOnlyList<PipelineStepStatusDto> steps = [];
        var drawing = new PipelineGraphDto([], []);
        string? reason = v.StateReason;
        if (TryCompile(v.SpecJson, schemas, out var graph, out string? error))
        {
            steps = await s.Table.StepStatusAsync(graph, ct);
            drawing = PipelineSignature.Draw(graph);
        }
        else
        {
            reason ??= error;
        }

        return new PipelineVersionDto(v.Version, v.State, reason, v.CreatedAt, v.CreatedBy, v.SpecText, v.SpecJson, steps, drawing);
    }

    private static bool TryCompile(string specJson, ModelSchemaLookup schemas, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PipelineGraph? graph, out string? error)
    {
        try
        {
            graph = PipelineValidator.Validate(PipelineSpecParser.Parse(specJson, "application/json"), schemas);
            error = null;
            return true;
        }
        catch (PipelineSpecException e)
        {
            // A spec that validated when applied but not now (a model's schema changed): draw it without the type checks.
            try
            {
                graph = PipelineValidator.Validate(PipelineSpecParser.Parse(specJson, "application/json"), (_, _) => null);
            }
            catch (PipelineSpecException)
            {
                graph = null;
            }

            error = e.Message;
            return graph is not null;
        }
    }

    private static async Task<string?> ReadSpecAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxSpecBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxSpecBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static bool JsonEquals(string stored, string canonical)
    {
        // jsonb does not keep key order or spacing: compare as canonical JSON.
        try
        {
            return PipelineSpecParser.Canonicalize(PipelineSpecParser.Parse(stored, "application/json")) == canonical;
        }
        catch (PipelineSpecException)
        {
            return false;
        }
    }

    private static JsonHttpResult<PipelineSpecProblem> Invalid(IReadOnlyList<PipelineSpecProblemDto> problems)
    {
        var first = problems.Count > 0 ? problems[0] : new PipelineSpecProblemDto("", "the spec is not valid");
        string detail = first.Path.Length > 0 ? $"{first.Path}: {first.Message}" : first.Message;
        return TypedResults.Json(new PipelineSpecProblem("https://tools.ietf.org/html/rfc9110#section-15.5.1", "The pipeline spec is not valid.", 400, detail, detail, problems),
            statusCode: StatusCodes.Status400BadRequest, contentType: "application/problem+json");
    }

    private static ProblemHttpResult NotFound(string name) =>
        TypedResults.Problem($"Pipeline '{name}' does not exist.", statusCode: StatusCodes.Status404NotFound);
}

/// <summary>An RFC 7807 problem for an invalid spec, with every problem found (and the first as <c>error</c>).</summary>
public sealed record PipelineSpecProblem(string Type, string Title, int Status, string Detail, string Error, IReadOnlyList<PipelineSpecProblemDto> Problems);
