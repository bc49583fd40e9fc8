using Mds.Contracts.Inference;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Mds.Backend.Http;

/// <summary>The answers every feature's endpoints share: a 400 problem for the control plane, a V2 error body for the inference surface.</summary>
public static class ApiResults
{
    /// <summary>A 400 problem (RFC 7807) with <paramref name="detail"/>.</summary>
    public static ProblemHttpResult Bad(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>A V2 inference error: <c>{"error": …}</c> with <paramref name="status"/>.</summary>
    public static IResult V2Error(int status, string message) => TypedResults.Json(new V2Error(message), statusCode: status);
}
