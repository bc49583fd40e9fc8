using Microsoft.AspNetCore.Mvc;
using System.Security.Claims;
using System.Text;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Experiments;

/// <summary>Handler dependencies of the experiment endpoints.</summary>
public sealed class ExperimentServices(MdsDbContext db, ExperimentTable table, ExperimentControl control, ExperimentRunner runner, RoutingTable routing, PipelineTable pipelines, TimeProvider clock)
{
    public MdsDbContext Db { get; } = db;
    public ExperimentTable Table { get; } = table;
    public ExperimentControl Control { get; } = control;
    public ExperimentRunner Runner { get; } = runner;
    public RoutingTable Routing { get; } = routing;
    public PipelineTable Pipelines { get; } = pipelines;
    public TimeProvider Clock { get; } = clock;
}

/// <summary>
/// Experiments as a resource: <c>POST /api/experiments</c> (YAML or JSON) creates one; it routes traffic as soon as every
/// candidate and the mirror can answer. Weights, promote and stop change it while it runs; every change is in its history.
/// </summary>
public static class ExperimentsApi
{
    public static IHostApplicationBuilder AddExperiments(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ExperimentOptions>().BindConfiguration(ExperimentOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(ExperimentRouter.Shared);
        builder.Services.AddSingleton<ExperimentTable>();
        builder.Services.AddHostedService<ExperimentRefreshLoop>();
        builder.Services.AddSingleton<ExperimentCallLog>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ExperimentCallLog>());
        builder.Services.AddSingleton<ExperimentRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ExperimentRunner>());
        builder.Services.AddSingleton<ExperimentControl>();
        builder.Services.AddSingleton<IExperimentControl>(sp => sp.GetRequiredService<ExperimentControl>());
        builder.Services.AddScoped<ExperimentServices>();
        return builder;
    }

    public static IEndpointRouteBuilder MapExperimentsApi(this IEndpointRouteBuilder app)
    {
        var experiments = app.MapGroup("/api/experiments").WithTags("Experiments");
        experiments.MapPost("/", Create).RequireAuthorization(Policies.Researcher).DisableAntiforgery()
            .WithName("CreateExperiment").WithSummary("Create an experiment from a spec (YAML or JSON); 400 names every problem");
        experiments.MapGet("/", List).RequireAuthorization(Policies.AnyUser)
            .WithName("ListExperiments").WithSummary("Every experiment with its state");
        experiments.MapGet("/{name}", Get).RequireAuthorization(Policies.AnyUser)
            .WithName("GetExperiment").WithSummary("An experiment: candidates, weights, status, mirror, rollout, history");
        experiments.MapDelete("/{name}", Delete).RequireAuthorization(Policies.Researcher)
            .WithName("DeleteExperiment").WithSummary("Delete an experiment with its history and call log (the models and pipelines stay)");
        experiments.MapPost("/{name}/stop", Stop).RequireAuthorization(Policies.Researcher)
            .WithName("StopExperiment").WithSummary("Stop routing; the default's endpoint answers as before; results stay");
        experiments.MapPost("/{name}/promote", Promote).RequireAuthorization(Policies.Researcher)
            .WithName("PromoteExperiment").WithSummary("Make a candidate the live version (or the default endpoint's target) and end the experiment");
        experiments.MapPut("/{name}/weights", Weights).RequireAuthorization(Policies.Researcher)
            .WithName("SetExperimentWeights").WithSummary("Set candidates' weights; applied atomically");
        experiments.MapGet("/{name}/results", Results).RequireAuthorization(Policies.AnyUser)
            .WithName("GetExperimentResults").WithSummary("Per candidate requests, errors, latency; mirror agreement; traffic per minute");
        return app;
    }

    /// <summary>The inputs and outputs of each candidate and the mirror named in <paramref name="spec"/> that exist.</summary>
    private static Dictionary<string, ExperimentSignature> SignaturesOf(ExperimentSpec spec, RoutingTable routing, PipelineTable pipelines)
    {
        var signatures = new Dictionary<string, ExperimentSignature>(StringComparer.Ordinal);
        var named = (spec.Candidates ?? []).Select(c => (c.Name, c.Version));
        if (spec.Mirror is { } m)
        {
            named = named.Append((m.Name, m.Version));
        }

        foreach (var (name, version) in named)
        {
            if (string.IsNullOrEmpty(name))
            {
                continue;
            }

            if (spec.ResourceType == ExperimentValidator.Pipeline)
            {
                if (pipelines.Pipelines.FirstOrDefault(p => p.Name == name) is { } p)
                {
                    signatures[name] = new ExperimentSignature(p.Inputs, p.Outputs);
                }
            }
            else if (routing.Models.FirstOrDefault(r => r.Name == name) is { } model
                && (version ?? model.LiveVersion ?? (model.Versions.Count > 0 ? model.Versions.Keys.Max() : null)) is int v
                && model.Versions.TryGetValue(v, out var found))
            {
                signatures[ExperimentValidator.KeyOf(name, version)] = new ExperimentSignature(found.Inputs, found.Outputs);
            }
        }

        return signatures;
    }

    private static async Task<Results<Created<ExperimentDto>, ProblemHttpResult>> Create(HttpContext http, ClaimsPrincipal caller, [AsParameters] ExperimentServices s, CancellationToken ct)
    {
        string? text = await ReadSpecAsync(http.Request, ct);
        if (text is null)
        {
            return Invalid([$"the spec is larger than {ExperimentSpecParser.MaxBytes / 1024} KiB"]);
        }

        ExperimentSpec spec;
        try
        {
            spec = ExperimentSpecParser.Parse(text, http.Request.ContentType);
        }
        catch (ExperimentSpecException e)
        {
            return Invalid(e.Problems);
        }

        await s.Routing.RefreshAsync(ct);
        await s.Pipelines.RefreshAsync(ct);
        var takenOver = await s.Db.Set<Experiment>().AsNoTracking().Where(e => e.TakesOver != null && e.ResourceType == spec.ResourceType)
            .ToDictionaryAsync(e => e.TakesOver!, e => e.Name, StringComparer.Ordinal, ct);
        var world = new ExperimentWorld(
            s.Routing.Models.ToDictionary(m => m.Name, m => (IReadOnlySet<int>)m.Versions.Keys.ToHashSet(), StringComparer.Ordinal),
            s.Pipelines.Pipelines.Select(p => p.Name).ToHashSet(StringComparer.Ordinal), takenOver, SignaturesOf(spec, s.Routing, s.Pipelines));
        var problems = ExperimentValidator.Validate(spec, world);
        if (problems.Count > 0)
        {
            return Invalid(problems);
        }

        if (await s.Db.Set<Experiment>().AnyAsync(e => e.Name == spec.Name, ct))
        {
            return TypedResults.Problem($"experiment '{spec.Name}' already exists (delete it first to reuse the name)", statusCode: StatusCodes.Status409Conflict);
        }

        var now = s.Clock.GetUtcNow();
        string? who = CallerIdentity.Name(caller);
        var weights = spec.Rollout is { } r
            ? ExperimentControl.RolloutBase(spec, r.Candidate)
            : spec.Candidates.ToDictionary(c => ExperimentValidator.KeyOf(c.Name, c.Version), c => c.Weight, StringComparer.Ordinal);
        var defaultCandidate = spec.Default is { } d ? spec.Candidates.First(c => ExperimentValidator.KeyOf(c.Name, c.Version) == d) : null;
        var row = new Experiment
        {
            Name = spec.Name,
            ResourceType = spec.ResourceType,
            SpecJson = ExperimentSpecParser.Canonicalize(spec),
            WeightsJson = System.Text.Json.JsonSerializer.Serialize(weights, ExperimentJson.Options),
            Default = spec.Default,
            TakesOver = defaultCandidate?.Name,
            State = ExperimentTable.Running,
            RolloutState = spec.Rollout is null ? null : ExperimentControl.RolloutRunning,
            CreatedAt = now,
            CreatedBy = who,
        };
        row.Events.Add(new ExperimentEvent
        {
            At = now,
            Kind = "created",
            By = who,
            Message = $"created with {string.Join(", ", weights.Select(w => $"{w.Key} {w.Value:0.###}"))}"
                + (spec.Default is null ? "" : $"; takes over '{defaultCandidate!.Name}'")
                + (spec.Mirror is { } m ? $"; mirror {ExperimentValidator.KeyOf(m.Name, m.Version)} at {m.Percent:0.###} %" : ""),
        });
        s.Db.Add(row);
        try
        {
            await s.Db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return TypedResults.Problem($"experiment '{spec.Name}' already exists", statusCode: StatusCodes.Status409Conflict);
        }

        await s.Table.RefreshAsync(ct);
        return TypedResults.Created($"/api/experiments/{Uri.EscapeDataString(spec.Name)}", await ToDtoAsync(row, s, ct));
    }

    private static async Task<Ok<List<ExperimentDto>>> List([AsParameters] ExperimentServices s, CancellationToken ct)
    {
        var rows = await s.Db.Set<Experiment>().AsNoTracking().Include(e => e.Events).OrderByDescending(e => e.CreatedAt).ToListAsync(ct);
        var list = new List<ExperimentDto>(rows.Count);
        foreach (var row in rows)
        {
            list.Add(await ToDtoAsync(row, s, ct));
        }

        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> Get(string name, [AsParameters] ExperimentServices s, CancellationToken ct)
    {
        var row = await s.Db.Set<Experiment>().AsNoTracking().Include(e => e.Events).SingleOrDefaultAsync(e => e.Name == name, ct);
        return row is null ? NotFound(name) : TypedResults.Ok(await ToDtoAsync(row, s, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string name, [AsParameters] ExperimentServices s, CancellationToken ct)
    {
        int deleted = await s.Db.Set<Experiment>().Where(e => e.Name == name).ExecuteDeleteAsync(ct);
        if (deleted == 0)
        {
            return NotFound(name);
        }

        await s.Db.Set<ExperimentCall>().Where(c => c.Experiment == name).ExecuteDeleteAsync(ct);
        await s.Table.RefreshAsync(ct);
        return TypedResults.NoContent();
    }

    private static Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> Stop(string name, ClaimsPrincipal caller, [AsParameters] ExperimentServices s, CancellationToken ct) =>
        ChangeAsync(name, s, () => s.Control.StopAsync(name, CallerIdentity.Name(caller), ct), ct);

    private static Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> Promote(string name, ExperimentPromoteRequest request, ClaimsPrincipal caller, [AsParameters] ExperimentServices s, CancellationToken ct) =>
        ChangeAsync(name, s, () => s.Control.PromoteAsync(name, request?.Candidate ?? "", "", CallerIdentity.Name(caller), ct), ct);

    private static Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> Weights(string name, ExperimentWeightsRequest request, ClaimsPrincipal caller, [AsParameters] ExperimentServices s, CancellationToken ct) =>
        ChangeAsync(name, s, () => s.Control.ChangeWeightsAsync(name, request?.Weights ?? new Dictionary<string, double>(), null, "", CallerIdentity.Name(caller), ct), ct);

    private static async Task<Results<Ok<ExperimentResultsDto>, ProblemHttpResult>> Results(string name, [AsParameters] ExperimentServices s, [FromServices] ExperimentResults results, CancellationToken ct)
    {
        var row = await s.Db.Set<Experiment>().AsNoTracking().SingleOrDefaultAsync(e => e.Name == name, ct);
        if (row is null)
        {
            return NotFound(name);
        }

        var spec = ExperimentSpecParser.FromStored(row.SpecJson);
        var keys = spec.Candidates.Select(c => ExperimentValidator.KeyOf(c.Name, c.Version)).ToList();
        string? mirror = spec.Mirror is { } m ? ExperimentValidator.KeyOf(m.Name, m.Version) : null;
        return TypedResults.Ok(await results.BuildAsync(row.Name, keys, row.Default ?? keys[0], mirror, row.CreatedAt, row.EndedAt, ct));
    }

    private static async Task<Results<Ok<ExperimentDto>, ProblemHttpResult>> ChangeAsync(string name, ExperimentServices s, Func<Task> change, CancellationToken ct)
    {
        try
        {
            await change();
        }
        catch (ExperimentChangeException e)
        {
            return TypedResults.Problem(e.Message, statusCode: e.Status);
        }

        var row = await s.Db.Set<Experiment>().AsNoTracking().Include(e => e.Events).SingleAsync(e => e.Name == name, ct);
        return TypedResults.Ok(await ToDtoAsync(row, s, ct));
    }

    /// <summary>The experiment as the API shows it, with its status worked out now.</summary>
    private static async Task<ExperimentDto> ToDtoAsync(Experiment row, ExperimentServices s, CancellationToken ct)
    {
        var spec = ExperimentSpecParser.FromStored(row.SpecJson);
        bool pipeline = spec.ResourceType == ExperimentValidator.Pipeline;
        var route = row.State == ExperimentTable.Running ? await s.Table.BuildAsync(row, ct) : null;
        var weights = ExperimentControl.Weights(row);
        double total = weights.Values.Where(w => w > 0).Sum();
        var candidates = new List<ExperimentCandidateDto>(spec.Candidates.Count);
        foreach (var c in spec.Candidates)
        {
            string key = ExperimentValidator.KeyOf(c.Name, c.Version);
            string? why = await s.Table.ReadinessAsync(new ExperimentCandidate(key, c.Name, c.Version, pipeline), ct);
            double w = weights.GetValueOrDefault(key);
            candidates.Add(new ExperimentCandidateDto(key, c.Name, c.Version, w, total > 0 ? 100 * Math.Max(0, w) / total : 0, why is null, why));
        }

        ExperimentMirrorDto? mirror = null;
        if (spec.Mirror is { } m)
        {
            string key = ExperimentValidator.KeyOf(m.Name, m.Version);
            var (sent, dropped) = s.Runner.MirrorCountsOf(row.Name);
            mirror = new ExperimentMirrorDto(key, m.Percent, await s.Table.ReadinessAsync(new ExperimentCandidate(key, m.Name, m.Version, pipeline), ct) is null, sent, dropped);
        }

        var rollout = spec.Rollout is { } r
            ? new ExperimentRolloutDto(r.Candidate, r.Steps, row.RolloutStep, r.Interval, r.MaxErrorRate, r.MaxP95Ms, r.MinRequests, row.RolloutStepStartedAt, row.RolloutState ?? ExperimentControl.RolloutRunning)
            : null;
        string state = route is null ? row.State : route.Active ? ExperimentStates.Active : ExperimentStates.Pending;
        string? reason = route is null ? row.Reason : route.Reason;
        string? over = spec.Default is { } d ? spec.Candidates.First(c => ExperimentValidator.KeyOf(c.Name, c.Version) == d).Name : null;
        string endpoint = over is null ? $"/v2/models/{row.Name}{ExperimentValidator.ModelSuffix}/infer"
            : pipeline ? $"/v2/pipelines/{over}/infer" : $"/v2/models/{over}/infer";
        return new ExperimentDto(row.Name, row.ResourceType, state, reason, endpoint, row.Default, candidates, mirror, rollout, row.CreatedAt, row.CreatedBy, row.EndedAt,
            [.. row.Events.OrderBy(e => e.At).ThenBy(e => e.Id).Select(e => new ExperimentEventDto(e.At, e.Kind, e.Message, e.By))]);
    }

    private static async Task<string?> ReadSpecAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > ExperimentSpecParser.MaxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > ExperimentSpecParser.MaxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static ProblemHttpResult Invalid(IReadOnlyList<string> problems) =>
        TypedResults.Problem(string.Join("; ", problems), statusCode: StatusCodes.Status400BadRequest, title: "The experiment spec is not valid.",
            extensions: new Dictionary<string, object?> { ["problems"] = problems });

    private static ProblemHttpResult NotFound(string name) =>
        TypedResults.Problem($"experiment '{name}' not found", statusCode: StatusCodes.Status404NotFound);
}
