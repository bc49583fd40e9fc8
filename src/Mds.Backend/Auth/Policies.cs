using Mds.Contracts.Api;
using Microsoft.AspNetCore.Authorization;

namespace Mds.Backend.Auth;

/// <summary>The authorization policies every endpoint declares one of.</summary>
public static class Policies
{
    /// <summary>Any signed-in person (Admin, Researcher, Analyst) or their API key.</summary>
    public const string AnyUser = nameof(AnyUser);
    /// <summary>Researchers and admins: change the registry.</summary>
    public const string Researcher = nameof(Researcher);
    /// <summary>Admins only.</summary>
    public const string Admin = nameof(Admin);
    /// <summary>Worker processes, each with its own credential (handlers check it acts on its own id).</summary>
    public const string Worker = nameof(Worker);
    /// <summary>Worker registration: the cluster's bootstrap key (new names only) or a worker's own credential.</summary>
    public const string WorkerRegistration = nameof(WorkerRegistration);
    /// <summary>Workers, researchers and admins: download artifacts.</summary>
    public const string ArtifactReader = nameof(ArtifactReader);
    /// <summary>The V2 inference endpoints: any authenticated caller, or anyone when allowed.</summary>
    public const string Inference = nameof(Inference);

    internal static void Add(AuthorizationOptions o, bool allowAnonymousInference)
    {
        o.AddPolicy(AnyUser, p => p.RequireRole(Roles.Admin, Roles.Researcher, Roles.Analyst));
        o.AddPolicy(Researcher, p => p.RequireRole(Roles.Admin, Roles.Researcher));
        o.AddPolicy(Admin, p => p.RequireRole(Roles.Admin));
        o.AddPolicy(Worker, p => p.RequireRole(Roles.Worker));
        o.AddPolicy(WorkerRegistration, p => p.RequireAssertion(c => c.User.IsInRole(Roles.Worker) || c.User.HasClaim(WorkerCredentialHandler.BootstrapClaim, "true")));
        o.AddPolicy(ArtifactReader, p => p.RequireRole(Roles.Worker, Roles.Admin, Roles.Researcher));
        o.AddPolicy(Inference, p =>
        {
            if (allowAnonymousInference)
            {
                p.RequireAssertion(_ => true);
            }
            else
            {
                p.RequireAuthenticatedUser();
            }
        });
    }
}
