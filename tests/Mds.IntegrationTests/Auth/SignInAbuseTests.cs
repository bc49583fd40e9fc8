using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;

namespace Mds.IntegrationTests.Auth;

/// <summary>
/// Sign-in abuse: one address guessing passwords is throttled (429 with Retry-After) before the account is, so it
/// cannot lock the person out; an account is throttled across addresses; unknown e-mails cost what known ones do.
/// The limits are tried on a second backend (same database) started with small ones; the cluster's own are generous.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SignInAbuseTests(MdsCluster cluster)
{
    private const int PerAddress = 3;
    private const int PerAccount = 6;

    [Fact]
    public async Task One_address_cycling_passwords_is_throttled_before_the_account_locks()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        await CreateAsync(admin, "guessed@test.local");
        await using var backend = await StartLimitedBackendAsync();

        using var attacker = From("127.0.0.2", backend.Url);
        for (int i = 0; i < PerAddress; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(attacker, "guessed@test.local", $"guess-number-{i}")).StatusCode);
        }

        using var throttled = await SignInAsync(attacker, "guessed@test.local", "guess-number-x");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.True(int.Parse(throttled.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        // Even the right password waits: the address is throttled, whatever it sends.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInAsync(attacker, "guessed@test.local", MdsCluster.Password)).StatusCode);

        // The owner, from their own address, signs in: the account is neither locked nor throttled.
        using var owner = From("127.0.0.1", backend.Url);
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(owner, "guessed@test.local", MdsCluster.Password)).StatusCode);
    }

    [Fact]
    public async Task Many_addresses_guessing_one_account_are_throttled_by_the_account_limit()
    {
        using var admin = await cluster.ClientAsync(Roles.Admin);
        await CreateAsync(admin, "targeted@test.local");
        await using var backend = await StartLimitedBackendAsync();

        for (int i = 0; i < PerAccount; i++)
        {
            using var bot = From($"127.0.1.{i + 1}", backend.Url);
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync(bot, "targeted@test.local", $"guess-number-{i}")).StatusCode);
        }

        using var another = From("127.0.1.100", backend.Url);
        using var throttled = await SignInAsync(another, "targeted@test.local", "guess-number-x");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.True(throttled.Headers.Contains("Retry-After"));
        // Other accounts are not affected.
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(another, MdsCluster.EmailOf(Roles.Analyst), MdsCluster.Password)).StatusCode);
    }

    [Fact]
    public async Task Unknown_and_known_emails_take_the_same_time()
    {
        // The cluster's backend (generous limits). Without a dummy hash an unknown e-mail answers in ~1 ms and a known
        // one after a PBKDF2 hash (tens of ms): a factor of 10 or more. Medians over alternating tries absorb noise.
        using var client = new HttpClient { BaseAddress = cluster.BackendUrl };
        string known = MdsCluster.EmailOf(Roles.Researcher);
        for (int i = 0; i < 3; i++)
        {
            (await SignInAsync(client, known, "wrong-password-warmup")).Dispose();
            (await SignInAsync(client, "nobody-warmup@test.local", "wrong-password-warmup")).Dispose();
        }

        var knownTimes = new List<double>();
        var unknownTimes = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            knownTimes.Add(await TimeAsync(client, known));
            unknownTimes.Add(await TimeAsync(client, $"nobody-{i}@test.local"));
        }

        double k = Median(knownTimes), u = Median(unknownTimes);
        Assert.True(u > k / 3 && u < k * 3, $"median for a known e-mail {k:0.0} ms, for an unknown one {u:0.0} ms");
    }

    private static async Task<double> TimeAsync(HttpClient client, string email)
    {
        var watch = Stopwatch.StartNew();
        using var response = await SignInAsync(client, email, "wrong-password");
        watch.Stop();
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        return watch.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return (sorted[(sorted.Count - 1) / 2] + sorted[sorted.Count / 2]) / 2;
    }

    private Task<ServiceProcess> StartLimitedBackendAsync() => cluster.StartBackendAsync("backend-limited", new Dictionary<string, string>
    {
        ["Mds__Auth__SignInPermitsPerAddress"] = PerAddress.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Mds__Auth__SignInPermitsPerAccount"] = PerAccount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Mds__Auth__SignInWindow"] = "00:10:00",
    });

    private static Task<HttpResponseMessage> SignInAsync(HttpClient client, string email, string password) =>
        client.PostAsJsonAsync("/api/auth/token", new TokenRequest(email, password));

    /// <summary>A client whose connections come from <paramref name="address"/> (any 127.x.y.z is loopback on Linux).</summary>
    private static HttpClient From(string address, Uri backend) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = backend };

    private static async Task CreateAsync(HttpClient admin, string email)
    {
        var response = await admin.PostAsJsonAsync("/api/users", new CreateUserRequest(email, MdsCluster.Password, [Roles.Analyst]));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }
}
