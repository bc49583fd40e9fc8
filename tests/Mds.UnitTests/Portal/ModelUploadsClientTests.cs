using System.Net;
using System.Security.Claims;
using Mds.Contracts.Api;
using Mds.Portal.Api;
using Mds.Portal.Auth;
using Microsoft.AspNetCore.Components.Authorization;

namespace Mds.UnitTests.Portal;

/// <summary>The Upload page's client sends a model's bytes once: the inspection stages them, the upload names them by hash.</summary>
public class ModelUploadsClientTests
{
    private const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static readonly ModelUpload Upload = new("iris", null, ["onnx"], null, 1);

    [Fact]
    public async Task While_the_inspection_is_staged_the_upload_carries_its_sha256_and_no_file()
    {
        var backend = new FakeBackend().OnJson(HttpMethod.Post, "/api/models", () => Version());
        int opened = 0;
        var file = new UploadFile("iris.onnx", 3, () => { opened++; return new MemoryStream([1, 2, 3]); });

        await Client(backend).UploadAsync(Upload, file, Inspection(DateTimeOffset.UtcNow.AddMinutes(5)), progress: null);

        Assert.Equal(0, opened);
        string body = Assert.Single(backend.Bodies);
        Assert.Matches("name=\"?sha256\"?", body);
        Assert.Contains(Sha, body, StringComparison.Ordinal);
        Assert.DoesNotContain("filename", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_backend_no_longer_has_it_staged_the_file_is_sent()
    {
        int calls = 0;
        var backend = new FakeBackend().On(HttpMethod.Post, "/api/models", _ => ++calls == 1
            ? FakeBackend.Problem(HttpStatusCode.BadRequest, $"No inspected upload {Sha} is staged for you. Send the file instead.")
            : FakeBackend.Json(Version(), HttpStatusCode.Created));
        var file = new UploadFile("iris.onnx", 3, () => new MemoryStream([1, 2, 3]));

        await Client(backend).UploadAsync(Upload, file, Inspection(DateTimeOffset.UtcNow.AddMinutes(5)), progress: null);

        Assert.Equal(2, backend.Count(HttpMethod.Post, "/api/models"));
        Assert.Contains("filename", backend.Bodies.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_field_is_not_answered_by_sending_the_file_again()
    {
        var backend = new FakeBackend().On(HttpMethod.Post, "/api/models", _ => FakeBackend.Problem(HttpStatusCode.BadRequest, "'name' is required."));
        var file = new UploadFile("iris.onnx", 3, () => new MemoryStream([1, 2, 3]));

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            Client(backend).UploadAsync(Upload, file, Inspection(DateTimeOffset.UtcNow.AddMinutes(5)), progress: null));
        Assert.Equal(1, backend.Count(HttpMethod.Post, "/api/models"));
    }

    [Fact]
    public async Task An_expired_or_unstaged_inspection_sends_the_file()
    {
        var backend = new FakeBackend().OnJson(HttpMethod.Post, "/api/models", () => Version());
        var file = new UploadFile("iris.onnx", 3, () => new MemoryStream([1, 2, 3]));

        await Client(backend).UploadAsync(Upload, file, Inspection(DateTimeOffset.UtcNow.AddSeconds(-1)), progress: null);
        await Client(backend).UploadAsync(Upload, file, Inspection(null), progress: null);

        Assert.All(backend.Bodies, body => Assert.Contains("filename", body, StringComparison.Ordinal));
        Assert.All(backend.Bodies, body => Assert.DoesNotMatch("name=\"?sha256\"?", body));
    }

    private static ModelUploadsClient Client(FakeBackend backend) => new(backend.Client(), new BackendToken(new NobodySignedIn(), new NowhereNavigation()));

    private static ModelInspection Inspection(DateTimeOffset? stagedUntil) => new(Sha, 3, [], [], null, null, stagedUntil);

    private static ModelVersionDto Version() => System.Text.Json.JsonSerializer.Deserialize<ModelVersionDto>(
        """{"modelName":"iris","version":1}""", new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;

    private sealed class NowhereNavigation : Microsoft.AspNetCore.Components.NavigationManager
    {
        public NowhereNavigation() => Initialize("http://portal.test/", "http://portal.test/");
    }

    private sealed class NobodySignedIn : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(new ClaimsPrincipal()));
    }
}
