using System.Net.Http.Headers;
using Mds.Contracts.Cluster;
using Microsoft.Extensions.Options;

namespace Mds.Workers.Cluster;

/// <summary>
/// The credential this worker shows the backend: its own (<c>mdsw_…</c>, bound to its id, issued at the first
/// registration and kept in <see cref="WorkerOptions.CredentialFile"/>) once it has one, else the cluster's bootstrap
/// key, which can only register a name not yet taken.
/// </summary>
internal sealed class WorkerCredential(WorkerIdentity identity, IOptions<WorkerOptions> options, IOptions<ClusterOptions> cluster)
{
    private readonly Lock _lock = new();
    private string? _own;
    private bool _read;

    /// <summary>The worker's own credential, or null before the first registration.</summary>
    public string? Own
    {
        get
        {
            lock (_lock)
            {
                if (!_read)
                {
                    _read = true;
                    string path = FilePath;
                    _own = File.Exists(path) ? File.ReadAllText(path).Trim() is { Length: > 0 } text ? text : null : null;
                }

                return _own;
            }
        }
    }

    /// <summary>What goes into <c>Authorization: Bearer</c> now.</summary>
    public string Bearer => Own ?? cluster.Value.WorkerKey ?? "";

    /// <summary>Keeps a credential the backend issued, in memory and in the file (readable by this user only).</summary>
    public void Save(string credential)
    {
        string path = FilePath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, "");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite); // before the secret is in it
        }

        File.WriteAllText(temporary, credential);
        File.Move(temporary, path, overwrite: true);
        lock (_lock)
        {
            _own = credential;
            _read = true;
        }
    }

    /// <summary>Stops using the stored credential (the backend no longer knows it): the next registration uses the cluster key.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            _own = null;
            _read = true;
        }
    }

    private string FilePath => options.Value.CredentialFile ?? Path.Combine(identity.CacheDirectory, "worker.credential");

    /// <summary>Puts the current credential on every call to the backend.</summary>
    internal sealed class Handler(WorkerCredential credential) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(ClusterNames.WorkerKeyScheme, credential.Bearer);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
