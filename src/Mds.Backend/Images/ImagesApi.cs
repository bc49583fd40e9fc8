using System.Diagnostics;
using System.Security.Claims;
using Mds.Backend.ApiDocs;
using Mds.Backend.Auth;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Backend.Http;
using Mds.Backend.Limits;
using Mds.Backend.Registry;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Images;

/// <summary>Handler dependencies of the image endpoints.</summary>
public sealed class ImageServices(MdsDbContext db, ArtifactStore store, RoutingTable routing, ReplicaCaller replicas, IOptions<ImageOptions> options)
{
    public MdsDbContext Db { get; } = db;
    public ArtifactStore Store { get; } = store;
    public RoutingTable Routing { get; } = routing;
    public ReplicaCaller Replicas { get; } = replicas;
    public ImageOptions Options { get; } = options.Value;
}

/// <summary>
/// <c>POST /api/models/{name}[/versions/{v}]/infer/image</c>: an image file in, the top classes out. The image is bounded
/// (bytes, then pixels from its header) before it is decoded, preprocessed as the version's settings say, and sent to a
/// Ready replica through the gateway's replica-call policy, which the worker records like any other call.
/// </summary>
public static class ImagesApi
{
    /// <summary>The concurrency limit of image predictions, which decode and resize (<see cref="ImageOptions.MaxConcurrentDecodes"/>).</summary>
    public const string LimitPolicy = "image decode";

    public static IHostApplicationBuilder AddImages(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ImageOptions>().Bind(builder.Configuration.GetSection("Mds:Images")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ImageServices>();
        builder.Services.AddConcurrencyLimit<ImageOptions>(LimitPolicy, o => (o.MaxConcurrentDecodes, o.MaxQueuedDecodes));
        return builder;
    }

    public static IEndpointRouteBuilder MapImagesApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models").WithTags("Images").RequireAuthorization(Policies.AnyUser);
        models.MapPost("/{name}/versions/{version:int}/infer/image", (string name, int version, HttpContext http, ClaimsPrincipal caller, [FromServices] ImageServices s, int? top) =>
                InferAsync(name, version, http, caller, s, top))
            .DisableAntiforgery().RequireRateLimiting(LimitPolicy)
            .WithName("InferImage").WithSummary("Classify an image file (multipart 'file') with an image model's version: its top classes and raw outputs")
            .AcceptsMultipart(new MultipartField("file", "The image file (JPEG, PNG, …)", File: true, Required: true));
        models.MapPost("/{name}/infer/image", (string name, HttpContext http, ClaimsPrincipal caller, [FromServices] ImageServices s, int? top) =>
                InferAsync(name, null, http, caller, s, top))
            .DisableAntiforgery().RequireRateLimiting(LimitPolicy)
            .WithName("InferImageLive").WithSummary("Classify an image file (multipart 'file') with the image model's live version")
            .AcceptsMultipart(new MultipartField("file", "The image file (JPEG, PNG, …)", File: true, Required: true));
        return app;
    }

    private static async Task<Results<Ok<ImagePredictionDto>, ProblemHttpResult>> InferAsync(
        string name, int? version, HttpContext http, ClaimsPrincipal caller, ImageServices s, int? top)
    {
        int wanted = top ?? 5;
        if (wanted is < 1 or > 1000)
        {
            return ApiResults.Bad("'top' must be from 1 to 1000.");
        }

        var ct = http.RequestAborted;
        var route = await s.Routing.ResolveAsync(name, version, ct);
        if (route.Status == RouteStatus.UnknownModel)
        {
            return Problem(StatusCodes.Status404NotFound, route.Error ?? $"Model '{name}' does not exist.");
        }

        if ((version ?? route.Version?.Version) is not int number)
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, route.Error ?? $"Model '{name}' has no version that can answer.");
        }

        var v = await s.Db.ModelVersions.AsNoTracking().SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == number, ct);
        if (v is null)
        {
            return Problem(StatusCodes.Status404NotFound, $"Model '{name}' has no version {number}.");
        }

        var input = ImageInput.Of(RegistryMapping.Schema(v.InputsJson));
        if (input is null)
        {
            return ApiResults.Bad($"Model '{name}' version {number} is not an image model: its input is not one numeric tensor of shape [N, 3, H, W] or [N, H, W, 3].");
        }

        if (RegistryMapping.ImagePreprocessingOf(v) is not { } settings)
        {
            return ApiResults.Bad($"Model '{name}' version {number} has no image preprocessing (its input does not fix the size); set it with PUT /api/models/{name}/versions/{number}/preprocessing.");
        }

        return await MultipartUpload.ReceiveAsync<Results<Ok<ImagePredictionDto>, ProblemHttpResult>>(http, s.Store, s.Options.MaxImageBytes, async (_, staged) =>
        {
            if (staged is null || staged.SizeBytes == 0)
            {
                return ApiResults.Bad("'file' is required: an image (PNG, JPEG, WebP, GIF, BMP).");
            }

            InferenceTensor tensor;
            try
            {
                using var bitmap = ImageDecoder.Decode(await File.ReadAllBytesAsync(staged.Path, ct), s.Options.MaxPixels);
                tensor = ImageTensor.Create(input, settings, [bitmap]);
            }
            catch (ImageRejectedException e)
            {
                return ApiResults.Bad($"The image cannot be used: {e.Message}.");
            }
            catch (InferenceProtocolException e)
            {
                return ApiResults.Bad($"The image cannot be made into input '{input.Name}': {e.Message}.");
            }

            string requestId = RequestIds.New();
            var request = new InferenceRequest { Id = requestId, Inputs = [tensor] };
            long started = Stopwatch.GetTimestamp();
            try
            {
                var answer = await s.Replicas.InferAsync(name, number, request, new ReplicaCallOptions(CallerIdentity.Name(caller) ?? "unknown", requestId), ct);
                var reading = ImageClasses.Read(answer.Response, 0, 1, v.Classes);
                return TypedResults.Ok(new ImagePredictionDto(name, answer.Version, requestId, reading.Predicted, [.. reading.Ranked.Take(wanted)],
                    reading.Source, reading.ScoresOutput, [.. answer.Response.Outputs.Select(ImageClasses.ToDto)], Stopwatch.GetElapsedTime(started).TotalMilliseconds));
            }
            catch (ModelNotFoundException e)
            {
                return Problem(StatusCodes.Status404NotFound, e.Message);
            }
            catch (ReplicaUnavailableException e)
            {
                return Problem(StatusCodes.Status503ServiceUnavailable, e.Message);
            }
            catch (InferenceRejectedException e)
            {
                return ApiResults.Bad($"The model refused the image: {e.Message}");
            }
            catch (InferenceProtocolException e)
            {
                return Problem(StatusCodes.Status502BadGateway, $"The model's answer cannot be read: {e.Message}");
            }
        }, problem => problem);
    }

    private static ProblemHttpResult Problem(int status, string detail) => TypedResults.Problem(detail, statusCode: status);
}
