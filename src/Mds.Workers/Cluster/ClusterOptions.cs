using Microsoft.Extensions.Options;

namespace Mds.Workers.Cluster;

/// <summary>Cluster-wide settings the worker shares with the backend, bound from <c>Mds:Cluster</c>.</summary>
internal sealed class ClusterOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mds:Cluster";

    /// <summary>
    /// The cluster's bootstrap secret: sent as <c>Authorization: Bearer {key}</c> only to register a name not yet taken;
    /// the backend then issues the worker its own credential (<see cref="WorkerCredential"/>).
    /// </summary>
    public string? WorkerKey { get; set; }

    /// <summary>The PostgreSQL database that holds Hangfire's storage, shared with the backend (<c>ConnectionStrings:Mds</c>).</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>The worker key and the database are required: without them the worker can never take an order.</summary>
internal sealed class ClusterOptionsValidator : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.WorkerKey))
        {
            failures.Add($"{ClusterOptions.Section}:WorkerKey is required (the cluster key the backend expects from workers).");
        }

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("ConnectionStrings:Mds is required (the PostgreSQL database that holds the Hangfire queues).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
