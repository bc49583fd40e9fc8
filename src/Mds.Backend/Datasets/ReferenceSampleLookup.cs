using Mds.Backend.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using static Mds.Backend.Http.ApiResults;

namespace Mds.Backend.Datasets;

/// <summary>A version's reference sample looked up by name, as the outlier and explanation endpoints answer it.</summary>
public static class ReferenceSampleLookup
{
    /// <summary>The version's reference sample, or the problem to answer: 404 for an unknown version, 400 when it has no usable dataset.</summary>
    internal static async Task<(ReferenceSample? Sample, ProblemHttpResult? Problem)> ForVersionAsync(
        this ReferenceSamples samples, MdsDbContext db, string name, int version, CancellationToken ct)
    {
        var v = await db.ModelVersions.AsNoTracking().Include(x => x.Model).SingleOrDefaultAsync(x => x.Model.Name == name && x.Version == version, ct);
        if (v is null)
        {
            return (null, TypedResults.Problem($"Model '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound));
        }

        var (sample, error) = await samples.GetAsync(db, v, ct);
        return sample is null ? (null, Bad(char.ToUpperInvariant(error![0]) + error[1..] + ".")) : (sample, null);
    }
}
