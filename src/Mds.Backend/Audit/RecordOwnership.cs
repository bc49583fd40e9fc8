using System.Globalization;
using System.Security.Claims;
using Mds.Backend.Auth;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;

namespace Mds.Backend.Audit;

/// <summary>
/// Who may read which inference records and pipeline runs (the rule lives here only; docs/security.md says it in
/// words). Every signed-in user may read every model, so every user sees the records of every model — except the rows
/// of another user's batch: a batch's file is its creator's (as <c>/api/batches</c> already says), and so are the
/// records and runs its rows make. Admins see everything. A record belongs to a batch when its caller is
/// <see cref="BatchCaller"/>'s "batch {id} by {creator}", which the backend itself writes when it scores the rows.
/// </summary>
public static class RecordOwnership
{
    private const string BatchPrefix = "batch ";

    /// <summary>The caller the backend writes on the records of batch <paramref name="batchId"/>'s rows.</summary>
    public static string BatchCaller(long batchId, string createdBy) =>
        BatchPrefix + batchId.ToString(CultureInfo.InvariantCulture) + " by " + createdBy;

    /// <summary>The records <paramref name="user"/> may read: all for admins; others, all but other users' batch rows.</summary>
    public static IQueryable<InferenceRecord> VisibleTo(this IQueryable<InferenceRecord> records, ClaimsPrincipal user)
    {
        if (user.IsInRole(Roles.Admin))
        {
            return records;
        }

        string mine = OwnSuffix(user);
        return records.Where(r => r.Caller == null || !r.Caller.StartsWith(BatchPrefix) || r.Caller.EndsWith(mine));
    }

    /// <summary>The pipeline runs <paramref name="user"/> may read, by the same rule as records.</summary>
    public static IQueryable<PipelineRunRecord> VisibleTo(this IQueryable<PipelineRunRecord> runs, ClaimsPrincipal user)
    {
        if (user.IsInRole(Roles.Admin))
        {
            return runs;
        }

        string mine = OwnSuffix(user);
        return runs.Where(r => r.Caller == null || !r.Caller.StartsWith(BatchPrefix) || r.Caller.EndsWith(mine));
    }

    // Names are e-mail addresses (no spaces), so " by alice@x" ends only alice's batch callers.
    private static string OwnSuffix(ClaimsPrincipal user) => " by " + (CallerIdentity.Name(user) ?? "\u0000");
}
