using System.Globalization;
using System.Security.Claims;
using Hangfire;
using Mds.Backend.ApiDocs;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Backend.Images;
using Mds.Backend.Limits;
using Mds.Backend.Pipelines;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Batches;

/// <summary>Handler dependencies of the batch endpoints.</summary>
public sealed class BatchServices(
    MdsDbContext db, ArtifactStore store, BatchFiles files, BatchScorer scorer, RoutingTable routing, PipelineRunner pipelines,
    IBackgroundJobClient jobs, IOptions<BatchOptions> options, IOptions<ImageOptions> imageOptions, TimeProvider clock)
{
    public MdsDbContext Db { get; } = db;
    public ArtifactStore Store { get; } = store;
    public BatchFiles Files { get; } = files;
    public BatchScorer Scorer { get; } = scorer;
    public RoutingTable Routing { get; } = routing;
    public PipelineRunner Pipelines { get; } = pipelines;
    public IBackgroundJobClient Jobs { get; } = jobs;
    public BatchOptions Options { get; } = options.Value;
    public ImageOptions ImageOptions { get; } = imageOptions.Value;
    public TimeProvider Clock { get; } = clock;
}

/// <summary>
/// Batch predictions: <c>POST /api/models/{name}/batches</c> (or <c>/api/pipelines/{name}/batches</c>) takes a CSV and
/// scores every row (small files while the request waits, large ones as a Hangfire job); <c>/api/batches/{id}</c> reports
/// progress and serves the result as JSON pages or a CSV download. A batch is visible to whoever created it and to admins.
/// </summary>
public static class BatchesApi
{
    private const int MaxPage = 500;

    /// <summary>The concurrency limit of batch uploads (<see cref="BatchOptions.MaxConcurrentUploads"/>).</summary>
    public const string LimitPolicy = "batch upload";

    public static IHostApplicationBuilder AddBatches(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BatchOptions>().Bind(builder.Configuration.GetSection("Mds:Batch")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<BatchFiles>();
        builder.Services.AddSingleton<BatchJob>();
        builder.Services.AddScoped<BatchScorer>();
        builder.Services.AddScoped<BatchServices>();
        builder.Services.AddHttpClient<ReplicaCaller>(c => c.Timeout = TimeSpan.FromSeconds(60))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(3) });
        int concurrency = builder.Configuration.GetValue("Mds:Batch:Concurrency", 1);
        builder.Services.AddHangfireServer(o =>
        {
            o.ServerName = $"backend-batch-{Environment.MachineName}-{Environment.ProcessId}";
            o.Queues = [BatchJob.Queue];
            o.WorkerCount = Math.Clamp(concurrency, 1, 64);
            o.IsLightweightServer = true; // the schedulers and housekeeping run once, on the main server (ReconcileSchedule)
        });
        builder.Services.AddHostedService<CleanupRegistration>();
        builder.Services.AddConcurrencyLimit<BatchOptions>(LimitPolicy, o => (o.MaxConcurrentUploads, o.MaxQueuedUploads));
        return builder;
    }

    public static IEndpointRouteBuilder MapBatchesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/models/{name}/batches", CreateForModel).RequireAuthorization(Policies.AnyUser).DisableAntiforgery().WithTags("Batches")
            .WithName("CreateBatch").WithSummary("Score every row of a CSV: 201 with the result for small files, 202 and a job for large ones")
            .AcceptsMultipart(BatchForm(model: true))
            .RequireRateLimiting(LimitPolicy);
        app.MapPost("/api/pipelines/{name}/batches", CreateForPipeline).RequireAuthorization(Policies.AnyUser).DisableAntiforgery().WithTags("Batches")
            .WithName("CreatePipelineBatch").WithSummary("Score every row of a CSV with a tabular pipeline's live version: 201 with the result for small files, 202 and a job for large ones")
            .AcceptsMultipart(BatchForm(model: false))
            .RequireRateLimiting(LimitPolicy);
        var group = app.MapGroup("/api/batches").WithTags("Batches").RequireAuthorization(Policies.AnyUser);
        group.MapGet("/", List).WithName("ListBatches").WithSummary("Your batches (admins: everyone's), newest first; ?model= or ?pipeline= filters");
        group.MapGet("/{id:long}", Get).WithName("GetBatch").WithSummary("A batch's state and progress");
        group.MapGet("/{id:long}/rows", Rows).WithName("GetBatchRows").WithSummary("A page of the result rows (offset, limit ≤ 500)");
        group.MapGet("/{id:long}/result.csv", Download).WithName("DownloadBatch").WithSummary("The result as CSV: the file's columns, then the predictions");
        group.MapDelete("/{id:long}", Delete).WithName("DeleteBatch").WithSummary("Delete a batch and its files (a running one stops)");
        return app;
    }

    private static MultipartField[] BatchForm(bool model) =>
    [
        new("file", model ? "The CSV (a header row naming the features, one row per prediction); for an image model, a zip of image files" : "The CSV: a header row naming the pipeline's features, one row per prediction", File: true, Required: true),
        new("version", model ? "The version to score with (default: the live one)" : "Must be the live version if given (a pipeline's rows are scored by its live version)"),
        new("labelColumn", "The column that holds the true label: kept in the result, not a feature; the summary gets accuracy"),
    ];

    private static async Task<Results<Created<BatchDto>, Accepted<BatchDto>, ProblemHttpResult>> CreateForModel(
        string name, HttpContext http, ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct)
    {
        var model = await s.Db.Models.AsNoTracking().Include(m => m.Versions).ThenInclude(v => v.ReplicaList).SingleOrDefaultAsync(m => m.Name == name, ct);
        if (model is null)
        {
            return Problem(StatusCodes.Status404NotFound, $"Model '{name}' does not exist.");
        }

        if (await OverQuotaAsync(caller, s, http.RequestAborted) is { } full)
        {
            return full;
        }

        return await MultipartUpload.ReceiveAsync<Results<Created<BatchDto>, Accepted<BatchDto>, ProblemHttpResult>>(http, s.Store, s.Options.MaxUploadBytes, async (fields, staged) =>
        {
            var (version, missing) = ChooseVersion(model, fields.GetValueOrDefault("version") ?? http.Request.Query["version"].FirstOrDefault());
            if (version is null)
            {
                return missing!;
            }

            NewBatch target;
            if (ImageInput.Of(RegistryMapping.Schema(version.InputsJson)) is not null)
            {
                if (RegistryMapping.ImagePreprocessingOf(version) is null)
                {
                    return ApiResults.Bad($"Model '{name}' version {version.Version} has no image preprocessing yet; set it with PUT /api/models/{name}/versions/{version.Version}/preprocessing.");
                }

                target = new NewBatch("model", $"Model '{name}' version {version.Version}", version.Id, null, null, name, version.Version,
                    RegistryMapping.Schema(version.InputsJson), null, Images: true);
            }
            else if (TabularCsv.IsTabular(version))
            {
                target = new NewBatch("model", $"Model '{name}' version {version.Version}", version.Id, null, null, name, version.Version,
                    RegistryMapping.Schema(version.InputsJson), version.FeatureNames);
            }
            else
            {
                return ApiResults.Bad($"Batch predictions are for tabular models ({TabularCsv.Rule}) and image models (a zip of images); '{name}' version {version.Version} is neither.");
            }

            return await AcceptAsync(target, fields, staged, http, caller, s, async () =>
            {
                // A version nothing can answer is said now, not after the file has waited in a queue.
                var route = await s.Routing.ResolveAsync(name, version.Version, http.RequestAborted);
                return route.Status == RouteStatus.Found ? null : route.Error;
            });
        }, problem => problem);
    }

    private static async Task<Results<Created<BatchDto>, Accepted<BatchDto>, ProblemHttpResult>> CreateForPipeline(
        string name, HttpContext http, ClaimsPrincipal caller, [FromServices] BatchServices s)
    {
        if (await s.Pipelines.FindAsync(name, http.RequestAborted) is null)
        {
            return Problem(StatusCodes.Status404NotFound, $"Pipeline '{name}' does not exist.");
        }

        if (await OverQuotaAsync(caller, s, http.RequestAborted) is { } full)
        {
            return full;
        }

        return await MultipartUpload.ReceiveAsync<Results<Created<BatchDto>, Accepted<BatchDto>, ProblemHttpResult>>(http, s.Store, s.Options.MaxUploadBytes, async (fields, staged) =>
        {
            // Read again: the upload may have taken a while, and a pipeline runs whatever version is live when called.
            var route = await s.Pipelines.FindAsync(name, http.RequestAborted);
            if (route is null)
            {
                return Problem(StatusCodes.Status404NotFound, $"Pipeline '{name}' does not exist.");
            }

            if (route.Graph is null || route.LiveVersion is not int live)
            {
                return Problem(StatusCodes.Status503ServiceUnavailable, $"Pipeline '{name}' cannot score rows now: {route.Reason}.");
            }

            string? given = fields.GetValueOrDefault("version") ?? http.Request.Query["version"].FirstOrDefault();
            if (!string.IsNullOrWhiteSpace(given) && given.Trim() != live.ToString(CultureInfo.InvariantCulture))
            {
                return ApiResults.Bad($"A pipeline's rows are scored by its live version ({live}); version '{given}' cannot be chosen.");
            }

            if (TabularCsv.LayoutOf(route.Inputs, null) is null && TabularCsv.InputOf(route.Inputs) is null)
            {
                return ApiResults.Bad($"Batch predictions are for tabular pipelines: {TabularCsv.Rule}; pipeline '{name}' version {live} takes {Describe(route.Inputs)}.");
            }

            var target = new NewBatch("pipeline", $"Pipeline '{name}' version {live}", null, route.Id, name, name + PipelineRunner.ModelSuffix, live,
                route.Inputs, null);
            return await AcceptAsync(target, fields, staged, http, caller, s, () => Task.FromResult<string?>(null));
        }, problem => problem);
    }

    /// <summary>
    /// 409 when the caller already keeps <see cref="BatchOptions.MaxStoredPerUser"/> batches (each holds its input and
    /// result files until it is deleted or ages out), before the upload is read.
    /// </summary>
    private static async Task<ProblemHttpResult?> OverQuotaAsync(ClaimsPrincipal caller, BatchServices s, CancellationToken ct)
    {
        string me = CallerIdentity.Name(caller) ?? "unknown";
        int stored = await s.Db.Set<Batch>().CountAsync(b => b.CreatedBy == me, ct);
        return stored < s.Options.MaxStoredPerUser ? null : Problem(StatusCodes.Status409Conflict,
            $"You keep {stored} batches, the most one user may store ({s.Options.MaxStoredPerUser}); delete some (DELETE /api/batches/{{id}}) before uploading more.");
    }

    /// <summary>
    /// The part of creating a batch that does not depend on its target: checks the file against the target's features,
    /// stores the batch, then scores it at once (small files) or enqueues the job (large ones).
    /// </summary>
    /// <param name="unservable">Why the target cannot answer now (503), null when it can; asked after the file is checked.</param>
    private static async Task<Results<Created<BatchDto>, Accepted<BatchDto>, ProblemHttpResult>> AcceptAsync(
        NewBatch target, Dictionary<string, string> fields, StagedArtifact? staged, HttpContext http, ClaimsPrincipal caller, BatchServices s,
        Func<Task<string?>> unservable)
    {
        if (staged is null || staged.SizeBytes == 0)
        {
            return ApiResults.Bad(target.Images ? "'file' is required: a zip of image files." : "'file' is required: a CSV with a header row.");
        }

        (int Rows, string? LabelColumn) info;
        if (target.Images)
        {
            try
            {
                info = (ImageZip.Check(staged.Path, s.ImageOptions).Count, null);
            }
            catch (ImageRejectedException e)
            {
                return ApiResults.Bad($"The zip of images cannot be used: {e.Message}.");
            }
        }
        else
        {
            string? labelColumn = fields.GetValueOrDefault("labelColumn") is { Length: > 0 } l ? l.Trim() : null;
            var (csv, error) = TabularCsv.Check(staged.Path, target.Inputs, target.FeatureNames, labelColumn);
            if (csv is null)
            {
                return ApiResults.Bad($"The file does not fit the {target.Kind}: " + error + ".");
            }

            info = (csv.Rows, csv.LabelColumn);
        }

        if (await unservable() is { } reason)
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, $"{target.What} cannot score rows now: {reason}.");
        }

        var batch = new Batch
        {
            ModelVersionId = target.ModelVersionId, PipelineId = target.PipelineId, PipelineName = target.PipelineName,
            ModelName = target.ModelName, Version = target.Version, State = BatchStates.Queued,
            FileName = string.IsNullOrWhiteSpace(staged.FileName) ? (target.Images ? "images.zip" : "batch.csv") : staged.FileName[..Math.Min(staged.FileName.Length, 256)],
            SizeBytes = staged.SizeBytes, TotalRows = info.Rows, LabelColumn = info.LabelColumn,
            CreatedBy = CallerIdentity.Name(caller) ?? "unknown", CreatedAt = s.Clock.GetUtcNow(),
        };
        s.Db.Add(batch);
        await s.Db.SaveChangesAsync(http.RequestAborted);
        Directory.CreateDirectory(s.Files.Directory);
        File.Move(staged.Path, s.Files.InputOf(batch.Id), overwrite: true);

        string location = "/api/batches/" + batch.Id.ToString(CultureInfo.InvariantCulture);
        if (info.Rows > s.Options.SyncMaxRows)
        {
            string jobId = s.Jobs.Enqueue<BatchJob>(BatchJob.Queue, j => j.RunAsync(batch.Id, CancellationToken.None));
            await s.Db.Set<Batch>().Where(b => b.Id == batch.Id).ExecuteUpdateAsync(u => u.SetProperty(b => b.JobId, jobId), CancellationToken.None); // the job is enqueued: record it whatever the caller does
            batch.JobId = jobId;
            return TypedResults.Accepted(location, ToDto(batch));
        }

        bool succeeded = await s.Scorer.ScoreAsync(batch.Id, waitForReplicas: false, http.RequestAborted);
        var scored = await s.Db.Set<Batch>().AsNoTracking().SingleAsync(b => b.Id == batch.Id, CancellationToken.None);
        if (!succeeded)
        {
            // Nothing half-done is kept for a request that failed while the caller waited: the reason is the answer.
            await s.Db.Set<Batch>().Where(b => b.Id == batch.Id).ExecuteDeleteAsync(CancellationToken.None);
            s.Files.Delete(batch.Id);
            return Problem(BatchScorer.IsRefusal(scored.Error) ? StatusCodes.Status400BadRequest : StatusCodes.Status503ServiceUnavailable,
                $"The rows could not be scored: {scored.Error}.");
        }

        return TypedResults.Created(location, ToDto(scored));
    }

    /// <summary>A signature in words, e.g. "Features FP32 [-1,4], Mask BOOL [-1,4]".</summary>
    private static string Describe(IReadOnlyList<TensorMetadata> tensors) => tensors.Count == 0
        ? "no inputs known (its first steps' models are not deployed)"
        : string.Join(", ", tensors.Select(t => $"{t.Name} {t.Datatype} [{string.Join(',', t.Shape)}]"));

    /// <summary>The version named in the form (or query), else the one the bare name answers with, else the newest.</summary>
    private static (ModelVersion? Version, ProblemHttpResult? Error) ChooseVersion(Model model, string? given)
    {
        if (!string.IsNullOrWhiteSpace(given))
        {
            if (!int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            {
                return (null, ApiResults.Bad($"'version' must be a version number; '{given}' is not."));
            }

            var named = model.Versions.FirstOrDefault(v => v.Version == number);
            return named is null ? (null, Problem(StatusCodes.Status404NotFound, $"Model '{model.Name}' has no version {number}.")) : (named, null);
        }

        var live = model.LiveVersionId is long id ? model.Versions.FirstOrDefault(v => v.Id == id) : null;
        live ??= model.Versions.Where(v => v.ReplicaList.Any(r => r.State == ReplicaStates.Ready)).MaxBy(v => v.Version);
        live ??= model.Versions.MaxBy(v => v.Version);
        return live is null ? (null, Problem(StatusCodes.Status404NotFound, $"Model '{model.Name}' has no versions.")) : (live, null);
    }

    private static async Task<Ok<List<BatchDto>>> List(ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct, string? model = null, string? pipeline = null, int limit = 50)
    {
        var query = Visible(s.Db, caller);
        if (!string.IsNullOrWhiteSpace(model))
        {
            query = query.Where(b => b.ModelName == model);
        }

        if (!string.IsNullOrWhiteSpace(pipeline))
        {
            query = query.Where(b => b.PipelineName == pipeline);
        }

        var batches = await query.OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id).Take(Math.Clamp(limit, 1, 500)).ToListAsync(ct);
        return TypedResults.Ok(batches.Select(ToDto).ToList());
    }

    private static async Task<Results<Ok<BatchDto>, ProblemHttpResult>> Get(long id, ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct)
    {
        var batch = await Visible(s.Db, caller).SingleOrDefaultAsync(b => b.Id == id, ct);
        return batch is null ? NoBatch(id) : TypedResults.Ok(ToDto(batch));
    }

    private static async Task<Results<Ok<BatchRowsDto>, ProblemHttpResult>> Rows(long id, ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct, int offset = 0, int limit = 50)
    {
        var (batch, problem) = await FinishedAsync(id, caller, s, ct);
        if (batch is null)
        {
            return problem!;
        }

        if (offset < 0 || limit < 1)
        {
            return ApiResults.Bad("'offset' must be 0 or more and 'limit' 1 or more.");
        }

        using var reader = new StreamReader(s.Files.ResultOf(id));
        var records = Csv.Read(reader);
        var page = records.Skip(1 + offset).Take(Math.Min(limit, MaxPage)).Select(r => (IReadOnlyList<string>)r).ToList();
        return TypedResults.Ok(new BatchRowsDto(batch.Columns, page, offset, batch.TotalRows));
    }

    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> Download(long id, ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct)
    {
        var (batch, problem) = await FinishedAsync(id, caller, s, ct);
        if (batch is null)
        {
            return problem!;
        }

        string stem = Path.GetFileNameWithoutExtension(batch.FileName);
        string download = $"{(stem.Length > 0 ? stem : "batch")}-{batch.PipelineName ?? batch.ModelName}-v{batch.Version}-predictions.csv";
        return TypedResults.File(File.OpenRead(s.Files.ResultOf(id)), "text/csv; charset=utf-8", download);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(long id, ClaimsPrincipal caller, [FromServices] BatchServices s, CancellationToken ct)
    {
        var batch = await Visible(s.Db, caller).SingleOrDefaultAsync(b => b.Id == id, ct);
        if (batch is null)
        {
            return NoBatch(id);
        }

        await s.Db.Set<Batch>().Where(b => b.Id == id).ExecuteDeleteAsync(ct);
        if (batch.JobId is { } jobId && batch.State is BatchStates.Queued)
        {
            s.Jobs.Delete(jobId); // a running one sees its row gone at its next progress report and stops
        }

        if (batch.State is not BatchStates.Running)
        {
            s.Files.Delete(id);
        }

        return TypedResults.NoContent();
    }

    private static async Task<(Batch? Batch, ProblemHttpResult? Problem)> FinishedAsync(long id, ClaimsPrincipal caller, BatchServices s, CancellationToken ct)
    {
        var batch = await Visible(s.Db, caller).SingleOrDefaultAsync(b => b.Id == id, ct);
        if (batch is null)
        {
            return (null, NoBatch(id));
        }

        if (batch.State != BatchStates.Succeeded)
        {
            string detail = batch.State == BatchStates.Failed
                ? $"Batch {id} failed: {batch.Error}"
                : $"Batch {id} is {batch.State.ToLowerInvariant()} ({batch.DoneRows} of {batch.TotalRows} rows scored); its result is not ready yet.";
            return (null, Problem(StatusCodes.Status409Conflict, detail));
        }

        if (!File.Exists(s.Files.ResultOf(id)))
        {
            return (null, Problem(StatusCodes.Status410Gone, $"Batch {id}'s result file is no longer on the backend."));
        }

        return (batch, null);
    }

    /// <summary>The batches <paramref name="caller"/> may see: their own; every one for admins.</summary>
    private static IQueryable<Batch> Visible(MdsDbContext db, ClaimsPrincipal caller)
    {
        var all = db.Set<Batch>().AsNoTracking();
        if (caller.IsInRole(Roles.Admin))
        {
            return all;
        }

        string me = CallerIdentity.Name(caller) ?? "";
        return all.Where(b => b.CreatedBy == me);
    }

    private static BatchDto ToDto(Batch b) => new(
        b.Id, b.ModelName, b.Version, b.State, b.FileName, b.TotalRows, b.DoneRows, b.Error, b.Summary, b.Columns,
        b.CreatedBy, b.CreatedAt, b.StartedAt, b.FinishedAt, b.LabelColumn, b.PipelineName);

    private static ProblemHttpResult NoBatch(long id) => Problem(StatusCodes.Status404NotFound, $"Batch {id} does not exist (or is not yours).");

    private static ProblemHttpResult Problem(int status, string detail) => TypedResults.Problem(detail, statusCode: status);

    /// <summary>What a new batch is scored by, as its row will name it, and the features its file must have.</summary>
    /// <param name="Kind">"model" or "pipeline", for messages.</param>
    /// <param name="What">The target in words, e.g. "Model 'iris' version 2".</param>
    /// <param name="Images">The file is a zip of images (an image model), not a CSV.</param>
    private sealed record NewBatch(
        string Kind, string What, long? ModelVersionId, long? PipelineId, string? PipelineName, string ModelName, int Version,
        IReadOnlyList<TensorMetadata> Inputs, IReadOnlyList<string>? FeatureNames, bool Images = false);

    private sealed class CleanupRegistration(IRecurringJobManager jobs, ILogger<CleanupRegistration> log) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Scheduling.RecurringJobRegistration.StartAsync(BatchJob.CleanupJobId, () =>
            jobs.AddOrUpdate<BatchJob>(BatchJob.CleanupJobId, BatchJob.Queue, j => j.CleanupAsync(CancellationToken.None), Cron.Daily()), log);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
