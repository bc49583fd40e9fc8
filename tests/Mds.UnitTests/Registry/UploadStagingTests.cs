using Mds.Backend.Registry;
using Mds.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mds.UnitTests.Registry;

/// <summary>
/// <see cref="UploadStaging"/>: an inspected upload is kept on disk for its owner until it expires, within the count
/// and byte bounds, and registered at most once.
/// </summary>
public sealed class UploadStagingTests : IDisposable
{
    private static readonly OnnxSchema Schema = new([], []);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "mds-staging-" + Guid.NewGuid().ToString("N"));
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public void A_staged_upload_expires_after_its_lifetime_and_its_file_is_swept_from_the_disk()
    {
        var staging = Staging(lifetime: TimeSpan.FromMinutes(5));
        var artifact = Artifact("a");
        var until = staging.Keep("alice", artifact, Schema);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromMinutes(5), until);

        _clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, staging.Sweep());

        Assert.Equal(0, staging.Count);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_dataDirectory, "staged")));
        var (upload, error) = staging.Take("alice", artifact.Sha256);
        Assert.Null(upload);
        Assert.Contains("No inspected upload", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_upload_not_yet_swept_is_refused_as_expired()
    {
        var staging = Staging(lifetime: TimeSpan.FromMinutes(5));
        var artifact = Artifact("b");
        staging.Keep("alice", artifact, Schema);

        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        var (upload, error) = staging.Take("alice", artifact.Sha256);

        Assert.Null(upload);
        Assert.Contains("expired", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Before_it_expires_only_its_owner_takes_it_and_only_once()
    {
        var staging = Staging(lifetime: TimeSpan.FromMinutes(5));
        var artifact = Artifact("c");
        staging.Keep("alice", artifact, Schema);
        _clock.Advance(TimeSpan.FromMinutes(4));

        Assert.Null(staging.Take("mallory", artifact.Sha256).Upload);
        var (upload, _) = staging.Take("alice", artifact.Sha256);
        Assert.NotNull(upload);
        Assert.True(File.Exists(upload.Artifact.Path));
        Assert.Same(Schema, upload.Schema);
        Assert.Null(staging.Take("alice", artifact.Sha256).Upload);

        staging.Return(upload); // not registered: it may be taken again until it expires
        Assert.NotNull(staging.Take("alice", artifact.Sha256).Upload);
    }

    [Theory]
    [InlineData(2, long.MaxValue, 3, 2)]
    [InlineData(100, 25, 3, 2)] // each file is 10 bytes
    [InlineData(0, long.MaxValue, 1, 0)]
    public void The_oldest_uploads_go_first_when_the_count_or_byte_bound_is_reached(int maxUploads, long maxBytes, int kept, int expected)
    {
        var staging = Staging(TimeSpan.FromMinutes(5), maxUploads, maxBytes);
        var artifacts = Enumerable.Range(0, kept).Select(i => Artifact("d" + i)).ToList();
        foreach (var artifact in artifacts)
        {
            staging.Keep("alice", artifact, Schema);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(expected, staging.Count);
        Assert.Equal(expected, Directory.EnumerateFiles(Path.Combine(_dataDirectory, "staged")).Count());
        if (expected > 0)
        {
            Assert.Null(staging.Take("alice", artifacts[0].Sha256).Upload);
            Assert.NotNull(staging.Take("alice", artifacts[^1].Sha256).Upload);
        }
    }

    [Fact]
    public void A_malformed_hash_is_refused_with_the_reason()
    {
        var (upload, error) = Staging(TimeSpan.FromMinutes(5)).Take("alice", "../../etc/passwd");

        Assert.Null(upload);
        Assert.Contains("64 lower-case hex digits", error, StringComparison.Ordinal);
    }

    private UploadStaging Staging(TimeSpan lifetime, int maxUploads = 32, long maxBytes = long.MaxValue) =>
        new(Options.Create(new RegistryOptions { DataDirectory = _dataDirectory, StagedUploadLifetime = lifetime, MaxStagedUploads = maxUploads, MaxStagedBytes = maxBytes }),
            _clock, NullLogger<UploadStaging>.Instance);

    /// <summary>A 10-byte file as the upload handler would have it: under <c>incoming/</c>, named by a made-up hash.</summary>
    private StagedArtifact Artifact(string seed)
    {
        string incoming = Path.Combine(_dataDirectory, "incoming");
        Directory.CreateDirectory(incoming);
        string path = Path.Combine(incoming, Guid.NewGuid().ToString("N") + ".part");
        File.WriteAllBytes(path, new byte[10]);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed)));
        return new StagedArtifact(path, sha, 10);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
