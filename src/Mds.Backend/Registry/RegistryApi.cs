using System.Security.Claims;
using Mds.Backend.ApiDocs;
using Mds.Backend.Auth;
using Mds.Backend.Cluster;
using Mds.Backend.Data;
using Mds.Backend.Scheduling;
using Mds.Contracts.Api;
using Mds.Contracts.Cluster;
using Mds.Contracts.Inference;
using Mds.Contracts.Rules;
using Mds.Onnx;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Npgsql;
using static Mds.Backend.Http.ApiResults;

namespace Mds.Backend.Registry;

/// <summary>Handler dependencies of the registry endpoints.</summary>
public sealed class RegistryServices(MdsDbContext db, ArtifactStore store, IOptions<RegistryOptions> options, ClusterChanged changed, WorkerOrdersQueue orders, TimeProvider clock, ILogger<RegistryServices> log, OnnxInspector inspector, UploadStaging staging)
{
    public UploadStaging Staging { get; } = staging;
    public OnnxInspector Inspector { get; } = inspector;
    public MdsDbContext Db { get; } = db;
    public ArtifactStore Store { get; } = store;
    public RegistryOptions Options { get; } = options.Value;
    public ClusterChanged Changed { get; } = changed;
    public WorkerOrdersQueue Orders { get; } = orders;
    public TimeProvider Clock { get; } = clock;
    public ILogger Log { get; } = log;
}

/// <summary><c>/api/models</c>: upload, list, inspect, delete versions, choose the live one.</summary>
public static partial class RegistryApi
{
    /// <summary>The concurrency limit of uploads and inspections, which parse ONNX (<see cref="RegistryOptions.MaxConcurrentUploads"/>).</summary>
    public const string LimitPolicy = "model upload";

    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models").WithTags("Models");
        models.MapPost("/", Upload).RequireAuthorization(Policies.Researcher).DisableAntiforgery()
            .WithName("UploadModel").WithSummary("Upload an ONNX file (or give the sha256 of one just inspected) as a new model or the next version of one")
            .AcceptsMultipart(
                new MultipartField("file", "The .onnx file, or a zip of the model and its external-data files (or give sha256 instead)", File: true),
                new MultipartField("sha256", "The sha256 that POST /api/models/inspect answered, instead of sending the file again"),
                new MultipartField("data", "External-data files of the model, each named by its location", File: true, Multiple: true),
                new MultipartField("name", "The model's name (a new model, or the next version of an existing one)", Required: true),
                new MultipartField("description", "What the version is"),
                new MultipartField("requirements", "Capabilities a worker needs, comma-separated (default onnx)"),
                new MultipartField("replicas", "Replicas to run"),
                new MultipartField("memoryMb", "Memory one replica needs (MB)"),
                new MultipartField("tags", "Tags to add to the model, comma-separated"))
            .RequireRateLimiting(LimitPolicy);
        models.MapPost("/inspect", Inspect).RequireAuthorization(Policies.Researcher).DisableAntiforgery()
            .WithName("InspectModel").WithSummary("Validate an ONNX file and read its schema without registering it; it stays staged for the caller, by its sha256, for a few minutes")
            .AcceptsMultipart(
                new MultipartField("file", "The .onnx file, or a zip of the model and its external-data files", File: true, Required: true),
                new MultipartField("data", "External-data files of the model, each named by its location", File: true, Multiple: true))
            .RequireRateLimiting(LimitPolicy);
        models.MapGet("/", List).RequireAuthorization(Policies.AnyUser)
            .WithName("ListModels").WithSummary("Every model with its versions and replicas");
        models.MapGet("/{name}", Get).RequireAuthorization(Policies.AnyUser)
            .WithName("GetModel").WithSummary("One model with its versions and replicas");
        models.MapGet("/{name}/versions/{version:int}", GetVersion).RequireAuthorization(Policies.AnyUser)
            .WithName("GetModelVersion").WithSummary("One version with its schema and replicas");
        models.MapDelete("/{name}/versions/{version:int}", DeleteVersion).RequireAuthorization(Policies.Researcher)
            .WithName("DeleteModelVersion").WithSummary("Delete a version and unload its replicas");
        models.MapPut("/{name}/versions/{version:int}/replicas", Scale).RequireAuthorization(Policies.Researcher)
            .WithName("ScaleModelVersion").WithSummary("Set a version's desired replicas and optional autoscaling bounds");
        models.MapGet("/{name}/versions/{version:int}/scaling-events", ScalingEvents).RequireAuthorization(Policies.AnyUser)
            .WithName("ListModelVersionScalingEvents").WithSummary("A version's changes of desired replicas, newest first: the autoscaler's with their reasons, and users'");
        models.MapPut("/{name}/versions/{version:int}/batching", SetBatching).RequireAuthorization(Policies.Researcher)
            .WithName("SetModelVersionBatching").WithSummary("Turn a version's adaptive batching on (max batch size, max latency) or off");
        models.MapPut("/{name}/versions/{version:int}/preprocessing", SetPreprocessing).RequireAuthorization(Policies.Researcher)
            .WithName("SetModelVersionPreprocessing").WithSummary("Set an image model version's preprocessing (size, mean, std, scale, channel order)");
        models.MapPut("/{name}/tags", SetTags).RequireAuthorization(Policies.Researcher)
            .WithName("SetModelTags").WithSummary("Replace a model's tags");
        models.MapPost("/{name}/versions/{version:int}/retry", Retry).RequireAuthorization(Policies.Researcher)
            .WithName("RetryModelVersion").WithSummary("Forget where a version failed to load and place it again");
        models.MapPost("/{name}/versions/{version:int}/live", SetLive).RequireAuthorization(Policies.Researcher)
            .WithName("SetLiveVersion").WithSummary("Make this version answer the bare model name");
        return app;
    }

    /// <summary>
    /// A model is one .onnx file as <c>file</c>, or — weights in external-data files — a zip of the model and its data
    /// files as <c>file</c>, or the .onnx as <c>file</c> plus one <c>data</c> part per data file (see <see cref="ModelPackage"/>);
    /// or, instead of any file, a <c>sha256</c> field naming an upload the caller inspected moments ago (see <see cref="UploadStaging"/>):
    /// its staged bytes and schema are used, so the file is sent and loaded by ONNX Runtime once.
    /// </summary>
    private static Task<Results<Created<ModelVersionDto>, ProblemHttpResult>> Upload(HttpContext http, ClaimsPrincipal caller, [FromServices] RegistryServices s) =>
        MultipartUpload.ReceiveAsync<Results<Created<ModelVersionDto>, ProblemHttpResult>>(http, s.Store, s.Options.MaxUploadBytes, ModelPackage.MaxDataParts,
            async (fields, staged, data) =>
            {
                if (fields.GetValueOrDefault("sha256")?.Trim() is { Length: > 0 } sha256)
                {
                    return staged is not null || data.Count > 0
                        ? Bad("Send either the file or the 'sha256' of an upload you inspected, not both.")
                        : await CreateFromStagedAsync(fields, sha256, caller, s, http.RequestAborted);
                }

                var (package, refused) = await ModelPackage.PrepareAsync(staged, data, s.Store, s.Options.MaxUploadBytes, http.RequestAborted);
                if (package is null)
                {
                    return refused!;
                }

                using (package)
                {
                    return await CreateVersionAsync(fields, package.Artifact, ct => ReadSchemaAsync(package.ModelPath, s.Inspector, ct), caller, s, http.RequestAborted);
                }
            }, problem => problem);

    /// <summary>Registers the caller's staged upload of <paramref name="sha256"/>; gives it back to staging when that fails.</summary>
    private static async Task<Results<Created<ModelVersionDto>, ProblemHttpResult>> CreateFromStagedAsync(
        Dictionary<string, string> fields, string sha256, ClaimsPrincipal caller, RegistryServices s, CancellationToken ct)
    {
        var (upload, unknown) = s.Staging.Take(StagingOwner(caller), sha256);
        if (upload is null)
        {
            return Bad(unknown!);
        }

        try
        {
            return await CreateVersionAsync(fields, upload.Artifact, _ => Task.FromResult<(OnnxSchema?, ProblemHttpResult?)>((upload.Schema, null)), caller, s, ct);
        }
        finally
        {
            s.Staging.Return(upload); // a no-op once the artifact store has the file
        }
    }

    /// <summary>Whose staged uploads these are: the user's id (a user and their API keys share it), else their name.</summary>
    private static string StagingOwner(ClaimsPrincipal caller) => CallerIdentity.UserId(caller) ?? CallerIdentity.Name(caller) ?? "";

    private static Task<Results<Ok<ModelInspection>, ProblemHttpResult>> Inspect(HttpContext http, ClaimsPrincipal caller, [FromServices] RegistryServices s) =>
        MultipartUpload.ReceiveAsync<Results<Ok<ModelInspection>, ProblemHttpResult>>(http, s.Store, s.Options.MaxUploadBytes, ModelPackage.MaxDataParts, async (_, staged, data) =>
        {
            var (package, refused) = await ModelPackage.PrepareAsync(staged, data, s.Store, s.Options.MaxUploadBytes, http.RequestAborted);
            if (package is null)
            {
                return refused!;
            }

            using (package)
            {
                var (schema, error) = await ReadSchemaAsync(package.ModelPath, s.Inspector, http.RequestAborted);
                if (error is not null)
                {
                    return error;
                }

                var artifact = package.Artifact;
                var stagedUntil = s.Staging.Keep(StagingOwner(caller), artifact, schema!);
                return TypedResults.Ok(new ModelInspection(artifact.Sha256, artifact.SizeBytes, schema!.Inputs, schema.Outputs, schema.FeatureNames, schema.Classes, stagedUntil));
            }
        }, problem => problem);

    /// <summary>
    /// Loads the model (its data files beside it) with ONNX Runtime in the inspector process: the schema, or the reason
    /// it cannot be served.
    /// </summary>
    private static async Task<(OnnxSchema? Schema, ProblemHttpResult? Error)> ReadSchemaAsync(string modelPath, OnnxInspector inspector, CancellationToken ct)
    {
        var inspected = await inspector.InspectAsync(modelPath, ct);
        if (inspected.Failure is not null)
        {
            return (null, TypedResults.Problem(inspected.Failure, statusCode: StatusCodes.Status503ServiceUnavailable));
        }

        if (inspected.Refusal is not null)
        {
            return (null, Bad(inspected.Refusal));
        }

        var schema = inspected.Schema!;
        if (schema.Problems is { Count: > 0 } problems)
        {
            return (null, Bad("The model cannot be served over the Open Inference Protocol: " + string.Join("; ", problems) + "."));
        }

        return schema.Inputs.Count == 0 || schema.Outputs.Count == 0
            ? (null, Bad("The model has no tensor inputs or no tensor outputs, so it cannot be served over the Open Inference Protocol."))
            : (schema, null);
    }

    /// <summary>
    /// Registers <paramref name="file"/> as the next version of the named model: the fields are checked first, then
    /// <paramref name="schemaOf"/> gives the schema (an ONNX Runtime load in the inspector, or the staged inspection's).
    /// </summary>
    private static async Task<Results<Created<ModelVersionDto>, ProblemHttpResult>> CreateVersionAsync(
        Dictionary<string, string> fields, StagedArtifact file, Func<CancellationToken, Task<(OnnxSchema? Schema, ProblemHttpResult? Error)>> schemaOf,
        ClaimsPrincipal caller, RegistryServices s, CancellationToken ct)
    {
        string name = fields.GetValueOrDefault("name")?.Trim() ?? "";
        if (!ModelNameRule.IsValid(name))
        {
            return Bad($"'name' is required: {ModelNameRule.Description}.");
        }

        var given = (fields.GetValueOrDefault("requirements") ?? "onnx").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var badCapability = given.FirstOrDefault(r => !CapabilityRule.IsValid(r));
        if (badCapability is not null)
        {
            return Bad($"Requirement '{badCapability}' is not a capability name ({CapabilityRule.Description}).");
        }

        var requirements = given.Select(CapabilityRule.Normalize).Distinct().Order(StringComparer.Ordinal).ToList();

        int? memoryMb = null;
        if (fields.TryGetValue("memoryMb", out string? mem) && !string.IsNullOrWhiteSpace(mem))
        {
            if (!int.TryParse(mem, out int m) || m <= 0 || m > 1_000_000)
            {
                return Bad("'memoryMb' must be a whole number of MiB between 1 and 1000000.");
            }

            memoryMb = m;
        }

        int replicas = 1;
        if (fields.TryGetValue("replicas", out string? rep) && !string.IsNullOrWhiteSpace(rep)
            && (!int.TryParse(rep, out replicas) || replicas < 1 || replicas > s.Options.MaxReplicas))
        {
            return Bad($"'replicas' must be a whole number from 1 to {s.Options.MaxReplicas}.");
        }

        var (tags, badTag) = ModelTags.Parse((fields.GetValueOrDefault("tags") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries));
        if (badTag is not null)
        {
            return Bad(badTag);
        }

        var (schema, invalid) = await schemaOf(ct);
        if (invalid is not null)
        {
            return invalid;
        }

        var (imageSettings, imageError) = ImagePreprocessingOf(schema!.Inputs, fields);
        if (imageError is not null)
        {
            return imageError;
        }

        string? description = fields.GetValueOrDefault("description")?.Trim();
        var now = s.Clock.GetUtcNow();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                var model = await s.Db.Models.SingleOrDefaultAsync(m => m.Name == name, ct);
                if (model is null)
                {
                    model = new Model { Name = name, Description = description, CreatedAt = now };
                    s.Db.Models.Add(model);
                }

                var merged = ModelTags.Merge(model.Tags, tags!);
                if (merged.Count > ModelTags.MaxTags)
                {
                    return Bad($"A model has at most {ModelTags.MaxTags} tags; '{name}' would have {merged.Count}.");
                }

                model.Tags = merged;

                // Numbers are never reused: the model's counter remembers deleted versions (a client holding "v3" must
                // never get a different model under that name). The unique index settles two uploads that race.
                int highest = await s.Db.ModelVersions.Where(v => v.ModelId == model.Id).MaxAsync(v => (int?)v.Version, ct) ?? 0;
                int next = Math.Max(model.LastVersion, highest) + 1;
                model.LastVersion = next;
                var artifact = await s.Db.Artifacts.FindAsync([file.Sha256], ct);
                if (artifact is null)
                {
                    artifact = new Artifact { Sha256 = file.Sha256, SizeBytes = file.SizeBytes, CreatedAt = now };
                    s.Db.Artifacts.Add(artifact);
                }

                var version = new ModelVersion
                {
                    Model = model, Version = next, ArtifactSha256 = file.Sha256, Artifact = artifact, Description = description,
                    Requirements = requirements, MemoryMb = memoryMb, Replicas = replicas,
                    InputsJson = RegistryMapping.ToJson(schema!.Inputs), OutputsJson = RegistryMapping.ToJson(schema.Outputs),
                    FeatureNames = schema.FeatureNames?.ToList(), Classes = schema.Classes?.ToList(), FileInfoJson = RegistryMapping.ToJson(schema.File),
                    ImagePreprocessingJson = imageSettings is null ? null : RegistryMapping.ToJson(imageSettings),
                    CreatedAt = now, CreatedBy = CallerIdentity.Name(caller),
                };
                s.Db.ModelVersions.Add(version);
                await s.Db.SaveChangesAsync(ct);
                // Renamed into place only once the row is committed (a failed commit leaves no stray file); the file
                // was fsynced when staged. Workers hear of the version below, after the rename.
                try
                {
                    s.Store.Commit(file);
                }
                catch (IOException e)
                {
                    s.Log.LogError(e, "Could not move the artifact of model {Model} version {Version} into place; the version is withdrawn", name, next);
                    s.Db.ModelVersions.Remove(version);
                    await s.Db.SaveChangesAsync(CancellationToken.None);
                    return TypedResults.Problem("The model file could not be stored; try again.", statusCode: StatusCodes.Status500InternalServerError);
                }

                await s.Changed.RaiseAsync(ct);
                s.Log.LogInformation("Model {Model} version {Version} uploaded ({Bytes} bytes, sha256 {Sha})", name, next, file.SizeBytes, file.Sha256);
                return TypedResults.Created($"/api/models/{name}/versions/{next}", RegistryMapping.ToDto(version, model, null));
            }
            catch (DbUpdateException e) when (attempt < 3 && e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // Two uploads raced for the same name or version number: start again with fresh state.
                s.Db.ChangeTracker.Clear();
            }
        }
    }

    private static async Task<Ok<List<ModelDto>>> List(MdsDbContext db, CancellationToken ct, string? search = null, string? tag = null)
    {
        var query = ModelsWithEverything(db);
        if (!string.IsNullOrWhiteSpace(search))
        {
            string term = search.Trim();
            string pattern = "%" + term.Replace("%", "", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            string lowered = term.ToLowerInvariant();
            query = query.Where(m => EF.Functions.ILike(m.Name, pattern) || m.Tags.Contains(lowered));
        }

        if (!string.IsNullOrWhiteSpace(tag))
        {
            string wanted = tag.Trim().ToLowerInvariant();
            query = query.Where(m => m.Tags.Contains(wanted));
        }

        var models = await query.OrderBy(m => m.Name).ToListAsync(ct);
        return TypedResults.Ok(await DtosAsync(db, models));
    }

    private static async Task<Results<Ok<ModelDto>, ProblemHttpResult>> Get(string name, MdsDbContext db, CancellationToken ct)
    {
        var model = await ModelsWithEverything(db).SingleOrDefaultAsync(m => m.Name == name, ct);
        return model is null ? NotFoundModel(name) : TypedResults.Ok(await DtoAsync(db, model));
    }

    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> GetVersion(string name, int version, MdsDbContext db, CancellationToken ct)
    {
        var model = await ModelsWithEverything(db).SingleOrDefaultAsync(m => m.Name == name, ct);
        var v = model?.Versions.FirstOrDefault(x => x.Version == version);
        if (model is null || v is null)
        {
            return NotFoundModel(name, version);
        }

        return TypedResults.Ok((await DtoAsync(db, model)).Versions.Single(x => x.Version == version));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteVersion(string name, int version, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var v = await s.Db.ModelVersions.Include(x => x.ReplicaList).Include(x => x.Model)
            .SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        var unload = v.ReplicaList.Select(r => (r.WorkerId, r.Id)).ToList();
        if (v.Model.LiveVersionId == v.Id)
        {
            v.Model.LiveVersionId = null;
        }

        s.Db.ModelVersions.Remove(v);
        await s.Db.SaveChangesAsync(ct);

        // The routing table forgets the version before its replicas are told to unload, so no request chases them.
        await s.Changed.RaiseAsync(CancellationToken.None);
        foreach (var (workerId, replicaId) in unload)
        {
            s.Orders.Unload(workerId, replicaId);
        }

        // Its reference dataset's row went with the version; the file (if one was ever stored) goes now.
        var dataset = new FileInfo(Datasets.DatasetServices.PathOf(s.Options.DataDirectory, v.Id));
        if (dataset.Exists)
        {
            dataset.Delete();
        }

        s.Log.LogInformation("Model {Model} version {Version} deleted; {Replicas} replicas unloading", name, version, unload.Count);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ModelDto>, ProblemHttpResult>> SetTags(string name, TagsRequest request, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var (tags, error) = ModelTags.Parse(request?.Tags ?? []);
        if (error is not null)
        {
            return Bad(error);
        }

        var model = await s.Db.Models.SingleOrDefaultAsync(m => m.Name == name, ct);
        if (model is null)
        {
            return NotFoundModel(name);
        }

        model.Tags = tags!;
        await s.Db.SaveChangesAsync(ct);
        var updated = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == model.Id, ct);
        return TypedResults.Ok(await DtoAsync(s.Db, updated));
    }

    private static async Task<Results<Ok<ModelDto>, ProblemHttpResult>> SetLive(string name, int version, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var model = await s.Db.Models.Include(m => m.Versions).SingleOrDefaultAsync(m => m.Name == name, ct);
        var v = model?.Versions.FirstOrDefault(x => x.Version == version);
        if (model is null || v is null)
        {
            return NotFoundModel(name, version);
        }

        model.LiveVersionId = v.Id;
        await s.Db.SaveChangesAsync(ct);
        await s.Changed.RaiseAsync(CancellationToken.None);
        var fresh = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == model.Id, ct);
        return TypedResults.Ok(await DtoAsync(s.Db, fresh));
    }

    /// <summary>
    /// The failed replicas are the scheduler's memory of where a version failed to load (it does not place the version
    /// on those workers again); deleting them makes the next reconcile pass try every eligible worker again.
    /// </summary>
    private static async Task<Results<Accepted<ModelVersionDto>, ProblemHttpResult>> Retry(string name, int version, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var v = await s.Db.ModelVersions.Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        int forgotten = await s.Db.Replicas.Where(r => r.ModelVersionId == v.Id && r.State == ReplicaStates.Failed).ExecuteDeleteAsync(ct);
        v.PendingReason = null;
        await s.Db.SaveChangesAsync(ct);
        await s.Changed.RaiseAsync(CancellationToken.None);
        s.Log.LogInformation("Model {Model} version {Version}: retry asked; {Failed} failed replicas forgotten", name, version, forgotten);
        var fresh = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == v.ModelId, ct);
        return TypedResults.Accepted($"/api/models/{name}/versions/{version}", (await DtoAsync(s.Db, fresh)).Versions.Single(x => x.Version == version));
    }

    private static async Task<Results<Ok<ScalingEventDto[]>, ProblemHttpResult>> ScalingEvents(string name, int version, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var v = await s.Db.ModelVersions.AsNoTracking().Where(x => x.Model.Name == name && x.Version == version).Select(x => new { x.Id }).SingleOrDefaultAsync(ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        var events = await s.Db.Set<ScalingEvent>().AsNoTracking().Where(e => e.ModelVersionId == v.Id)
            .OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Take(200)
            .Select(e => new ScalingEventDto(e.At, e.FromReplicas, e.ToReplicas, e.Reason, e.By)).ToArrayAsync(ct);
        return TypedResults.Ok(events);
    }

    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> Scale(string name, int version, ScaleRequest? request, ClaimsPrincipal caller, [FromServices] RegistryServices s, CancellationToken ct)
    {
        int max = s.Options.MaxReplicas;
        if (request is null || request.Replicas < 1 || request.Replicas > max)
        {
            return Bad($"'replicas' must be a whole number from 1 to {max}.");
        }

        if ((request.MinReplicas is null) != (request.MaxReplicas is null))
        {
            return Bad("Give both 'minReplicas' and 'maxReplicas' to autoscale, or neither to turn autoscaling off.");
        }

        if (request.MinReplicas is int lo && request.MaxReplicas is int hi && (lo < 1 || lo > hi || hi > max || request.Replicas < lo || request.Replicas > hi))
        {
            return Bad($"Autoscaling needs 1 ≤ minReplicas ≤ replicas ≤ maxReplicas ≤ {max}.");
        }

        if (request.TargetLatencyMs is int target && (target < 1 || target > 600_000 || request.MinReplicas is null))
        {
            return Bad("'targetLatencyMs' needs autoscaling bounds and must be from 1 to 600000 milliseconds.");
        }

        var v = await s.Db.ModelVersions.Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        var now = s.Clock.GetUtcNow();
        string bounds = request.MinReplicas is int from && request.MaxReplicas is int to
            ? $", autoscale {from}..{to}" + (request.TargetLatencyMs is int t ? $", p95 target {t} ms" : "")
            : ", autoscaling off";
        s.Db.Add(new ScalingEvent
        {
            ModelVersionId = v.Id, At = now, FromReplicas = v.Replicas, ToReplicas = request.Replicas,
            Reason = $"set to {request.Replicas} replica{(request.Replicas == 1 ? "" : "s")}{bounds}", By = CallerIdentity.Name(caller) ?? "unknown",
        });
        (v.Replicas, v.MinReplicas, v.MaxReplicas, v.TargetLatencyMs) = (request.Replicas, request.MinReplicas, request.MaxReplicas, request.TargetLatencyMs);
        (v.LoadHighSince, v.LoadLowSince, v.LastScaledAt) = (null, null, now);
        await s.Db.SaveChangesAsync(ct);
        await s.Changed.RaiseAsync(CancellationToken.None);
        s.Log.LogInformation("Model {Model} version {Version} scaled to {Replicas} replicas (autoscale {Min}..{Max})", name, version, v.Replicas, v.MinReplicas, v.MaxReplicas);
        var fresh = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == v.ModelId, ct);
        return TypedResults.Ok((await DtoAsync(s.Db, fresh)).Versions.Single(x => x.Version == version));
    }

    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> SetBatching(string name, int version, BatchingDto? request, [FromServices] RegistryServices s, CancellationToken ct)
    {
        if (request is null)
        {
            return Bad("The body must be {\"enabled\": true, \"maxBatchSize\": N, \"maxLatencyMicroseconds\": N} or {\"enabled\": false}.");
        }

        var settings = request.Enabled ? new BatchingSettings(request.MaxBatchSize, request.MaxLatencyMicroseconds) : null;
        if (settings?.Validate() is { } invalid)
        {
            return Bad(invalid + ".");
        }

        var v = await s.Db.ModelVersions.Include(x => x.Model).Include(x => x.ReplicaList)
            .SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        if (settings is not null && WhyNotBatchable(v) is { } why)
        {
            return Bad($"Model '{name}' version {version} cannot batch requests: {why}.");
        }

        (v.MaxBatchSize, v.MaxBatchLatencyMicroseconds) = (settings?.MaxBatchSize, settings?.MaxLatencyMicroseconds);
        await s.Db.SaveChangesAsync(ct);

        // A load order for a loaded replica makes its worker fetch the assignment again, settings included.
        foreach (var replica in v.ReplicaList.Where(r => r.State is ReplicaStates.Ready or ReplicaStates.Loading))
        {
            s.Orders.Load(replica.WorkerId, replica.Id);
        }

        s.Log.LogInformation("Model {Model} version {Version} batching: {Batching}", name, version,
            settings is null ? "off" : $"up to {settings.MaxBatchSize} rows, {settings.MaxLatencyMicroseconds} µs");
        var fresh = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == v.ModelId, ct);
        return TypedResults.Ok((await DtoAsync(s.Db, fresh)).Versions.Single(x => x.Version == version));
    }

    /// <summary>
    /// The preprocessing an upload sets: for an image model, the fields given with defaults for the rest (none when its
    /// input does not fix the size and none is given: it is set later); for another model, an error when fields are given.
    /// </summary>
    private static (ImagePreprocessingDto? Settings, ProblemHttpResult? Error) ImagePreprocessingOf(IReadOnlyList<TensorMetadata> inputs, Dictionary<string, string> fields)
    {
        var (given, unreadable) = ImagePreprocessingForm.Parse(fields);
        if (unreadable is not null)
        {
            return (null, Bad(unreadable + "."));
        }

        if (ImageInput.Of(inputs) is not { } image)
        {
            return given is null ? (null, null) : (null, Bad("Image preprocessing was given, but the model is not an image model: its input is not one numeric tensor of shape [N, 3, H, W] or [N, H, W, 3]."));
        }

        var (settings, error) = image.Resolve(given);
        return settings is null && given is not null ? (null, Bad($"The image preprocessing does not fit the model: {error}.")) : (settings, null);
    }

    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> SetPreprocessing(string name, int version, ImagePreprocessingRequest? request, [FromServices] RegistryServices s, CancellationToken ct)
    {
        var v = await s.Db.ModelVersions.Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFoundModel(name, version);
        }

        if (ImageInput.Of(RegistryMapping.Schema(v.InputsJson)) is not { } image)
        {
            return Bad($"Model '{name}' version {version} is not an image model: its input is not one numeric tensor of shape [N, 3, H, W] or [N, H, W, 3].");
        }

        var (settings, error) = image.Resolve(request);
        if (settings is null)
        {
            return Bad($"The image preprocessing does not fit the model: {error}.");
        }

        v.ImagePreprocessingJson = RegistryMapping.ToJson(settings);
        await s.Db.SaveChangesAsync(ct);
        s.Log.LogInformation("Model {Model} version {Version} image preprocessing: {Preprocessing}", name, version, settings);
        var fresh = await ModelsWithEverything(s.Db).SingleAsync(m => m.Id == v.ModelId, ct);
        return TypedResults.Ok((await DtoAsync(s.Db, fresh)).Versions.Single(x => x.Version == version));
    }

    /// <summary>Why the version's schema rules out batching along the first dimension, or null.</summary>
    internal static string? WhyNotBatchable(ModelVersion v)
    {
        foreach (var (kind, json) in new[] { ("input", v.InputsJson), ("output", v.OutputsJson) })
        {
            foreach (var tensor in RegistryMapping.Schema(json))
            {
                if (tensor.Shape.Length == 0 || tensor.Shape[0] >= 0)
                {
                    return $"{kind} '{tensor.Name}' has no free first (batch) dimension";
                }
            }
        }

        return null;
    }

    // Versions label their features from their reference datasets when the model does not name them (TabularCsv.FeatureLabels).
    private static async Task<ModelDto> DtoAsync(MdsDbContext db, Model model) => (await DtosAsync(db, [model]))[0];

    private static async Task<List<ModelDto>> DtosAsync(MdsDbContext db, IReadOnlyList<Model> models)
    {
        var ids = models.SelectMany(m => m.Versions).Select(v => v.Id).ToList();
        var datasets = await db.Set<Datasets.ReferenceDataset>().AsNoTracking().Where(d => ids.Contains(d.ModelVersionId)).ToDictionaryAsync(d => d.ModelVersionId);
        return [.. models.Select(m => RegistryMapping.ToDto(m, datasets))];
    }

    private static IQueryable<Model> ModelsWithEverything(MdsDbContext db) =>
        db.Models.AsNoTracking().AsSplitQuery()
            .Include(m => m.Versions).ThenInclude(v => v.Artifact)
            .Include(m => m.Versions).ThenInclude(v => v.ReplicaList).ThenInclude(r => r.Worker);

    private static ProblemHttpResult NotFoundModel(string name, int? version = null) =>
        TypedResults.Problem(version is null ? $"Model '{name}' does not exist." : $"Model '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound);
}
