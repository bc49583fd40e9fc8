using System.Security.Claims;
using Mds.Backend.ApiDocs;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Http;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Datasets;

/// <summary>Handler dependencies of the dataset endpoints.</summary>
public sealed class DatasetServices(MdsDbContext db, ArtifactStore store, ReferenceSamples samples, IOptions<RegistryOptions> options, TimeProvider clock)
{
    public ReferenceSamples Samples { get; } = samples;
    public MdsDbContext Db { get; } = db;
    public ArtifactStore Store { get; } = store;
    public TimeProvider Clock { get; } = clock;
    public string Directory { get; } = System.IO.Directory.CreateDirectory(Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "datasets")).FullName;
    public long MaxBytes { get; } = options.Value.MaxDatasetBytes;

    public string PathOf(long versionId) => Path.Combine(Directory, FileNameOf(versionId));

    /// <summary>Where a version's dataset lives under <paramref name="dataDirectory"/> (the registry removes it with the version).</summary>
    public static string PathOf(string dataDirectory, long versionId) => Path.Combine(Path.GetFullPath(dataDirectory), "datasets", FileNameOf(versionId));

    private static string FileNameOf(long versionId) => versionId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".csv";
}

/// <summary><c>/api/models/{name}/versions/{v}/dataset</c>: a version's reference dataset (CSV) for drift, outliers, explanations and "try".</summary>
public static class DatasetsApi
{
    public static IHostApplicationBuilder AddDatasets(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<DatasetServices>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/models/{name}/versions/{version:int}/dataset").WithTags("Datasets");
        group.MapPost("/", Upload).RequireAuthorization(Policies.Researcher).DisableAntiforgery()
            .WithName("UploadDataset").WithSummary("Upload a CSV as the version's reference dataset, checked against its inputs")
            .AcceptsMultipart(
                new MultipartField("file", "The CSV: a header row naming the model's features, then one row per sample", File: true, Required: true),
                new MultipartField("labelColumn", "The column that holds the label (not a feature)"));
        group.MapGet("/", Get).RequireAuthorization(Policies.AnyUser).WithName("GetDataset").WithSummary("The version's reference dataset");
        group.MapGet("/preview", Preview).RequireAuthorization(Policies.AnyUser).WithName("PreviewDataset").WithSummary("The first rows of the dataset");
        group.MapDelete("/", Delete).RequireAuthorization(Policies.Researcher).WithName("DeleteDataset").WithSummary("Remove the reference dataset");
        return app;
    }

    private static async Task<Results<Created<DatasetDto>, ProblemHttpResult>> Upload(string name, int version, HttpContext http, ClaimsPrincipal caller, [FromServices] DatasetServices s, CancellationToken ct)
    {
        var v = await s.Db.ModelVersions.Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return NotFound(name, version);
        }

        if (!TabularCsv.IsTabular(v))
        {
            return ApiResults.Bad("Reference datasets are for tabular models: " + TabularCsv.Rule + ".");
        }

        var inputs = RegistryMapping.Schema(v.InputsJson);
        return await MultipartUpload.ReceiveAsync<Results<Created<DatasetDto>, ProblemHttpResult>>(http, s.Store, s.MaxBytes, async (fields, staged) =>
        {
            if (staged is null || staged.SizeBytes == 0)
            {
                return ApiResults.Bad("'file' is required: a CSV with a header row.");
            }

            var (result, error) = TabularCsv.Check(staged.Path, inputs, v.FeatureNames, fields.GetValueOrDefault("labelColumn"));
            if (error is not null)
            {
                return ApiResults.Bad("The dataset does not fit the model: " + error + ".");
            }

            File.Move(staged.Path, s.PathOf(v.Id), overwrite: true);
            // The file is in place: its row follows whatever the caller does.
            var dataset = await s.Db.Set<ReferenceDataset>().SingleOrDefaultAsync(d => d.ModelVersionId == v.Id, CancellationToken.None);
            if (dataset is null)
            {
                dataset = new ReferenceDataset { ModelVersionId = v.Id, FileName = "" };
                s.Db.Add(dataset);
            }

            dataset.FileName = string.IsNullOrWhiteSpace(staged.FileName) ? "dataset.csv" : staged.FileName[..Math.Min(staged.FileName.Length, 256)];
            dataset.SizeBytes = staged.SizeBytes;
            dataset.Rows = result!.Rows;
            dataset.Columns = [.. result.Header];
            dataset.LabelColumn = result.LabelColumn;
            dataset.UploadedAt = s.Clock.GetUtcNow();
            dataset.UploadedBy = CallerIdentity.Name(caller);
            await s.Db.SaveChangesAsync(CancellationToken.None);
            return TypedResults.Created($"/api/models/{name}/versions/{version}/dataset", ToDto(dataset, name, version, await TextValuesAsync(s, v)));
        }, problem => problem);
    }

    private static async Task<Results<Ok<DatasetDto>, ProblemHttpResult>> Get(string name, int version, [FromServices] DatasetServices s, CancellationToken ct)
    {
        var d = await Find(s.Db, name, version, ct);
        if (d is null)
        {
            return NoDataset(name, version);
        }

        var v = await s.Db.ModelVersions.AsNoTracking().Include(x => x.Model).SingleAsync(x => x.Id == d.ModelVersionId, ct);
        return TypedResults.Ok(ToDto(d, name, version, await TextValuesAsync(s, v)));
    }

    // The text columns' seen values, from the sample the analytics read (so the file is read once); null without text columns.
    private static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>?> TextValuesAsync(DatasetServices s, ModelVersion v)
    {
        if (TabularCsv.LayoutOf(v) is not { HasText: true })
        {
            return null;
        }

        var (sample, _) = await s.Samples.GetAsync(s.Db, v, CancellationToken.None);
        return sample?.TextValues;
    }

    private static async Task<Results<Ok<DatasetPreviewDto>, ProblemHttpResult>> Preview(string name, int version, [FromServices] DatasetServices s, CancellationToken ct, int rows = 20)
    {
        var d = await Find(s.Db, name, version, ct);
        if (d is null || !File.Exists(s.PathOf(d.ModelVersionId)))
        {
            return NoDataset(name, version);
        }

        using var reader = new StreamReader(s.PathOf(d.ModelVersionId));
        var records = Csv.Read(reader).Take(Math.Clamp(rows, 1, 1000) + 1).ToList();
        return TypedResults.Ok(new DatasetPreviewDto(records[0], [.. records.Skip(1)], d.Rows));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string name, int version, [FromServices] DatasetServices s, CancellationToken ct)
    {
        var d = await Find(s.Db, name, version, ct, tracking: true);
        if (d is null)
        {
            return NoDataset(name, version);
        }

        s.Db.Remove(d);
        await s.Db.SaveChangesAsync(ct);
        File.Delete(s.PathOf(d.ModelVersionId));
        return TypedResults.NoContent();
    }

    private static Task<ReferenceDataset?> Find(MdsDbContext db, string name, int version, CancellationToken ct, bool tracking = false)
    {
        var set = tracking ? db.Set<ReferenceDataset>() : db.Set<ReferenceDataset>().AsNoTracking();
        return set.SingleOrDefaultAsync(d => d.ModelVersion.Model.Name == name && d.ModelVersion.Version == version, ct);
    }

    private static DatasetDto ToDto(ReferenceDataset d, string name, int version, IReadOnlyDictionary<string, IReadOnlyList<string>>? textValues) =>
        new(name, version, d.FileName, d.SizeBytes, d.Rows, d.Columns, d.LabelColumn, d.UploadedAt, d.UploadedBy, textValues);

    private static ProblemHttpResult NotFound(string name, int version) =>
        TypedResults.Problem($"Model '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult NoDataset(string name, int version) =>
        TypedResults.Problem($"Model '{name}' version {version} has no reference dataset.", statusCode: StatusCodes.Status404NotFound);
}
