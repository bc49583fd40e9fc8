using System.CommandLine;
using System.Net.Http.Json;
using Mds.Contracts.Api;
using Spectre.Console;

namespace Mds.Cli;

/// <summary>The command tree; each area lives in its own part of this class.</summary>
internal sealed partial class Commands(CliEnvironment env, GlobalOptions globals)
{
    public IEnumerable<Command> All() =>
    [
        Login(), Logout(), Profiles(), Keys(), Models(), Workers(), Infer(), Pipelines(), Experiments(), Records(), Drift(), Datasets(), Batches(), Completion(),
    ];

    private Command Cmd(string name, string description, params string[] examples)
    {
        var command = new Command(name, description);
        return examples.Length > 0 ? command.Examples(examples) : command;
    }

    private void Act(Command command, Func<CliContext, CancellationToken, Task> body) => command.Action(env, globals, body);

    private static Argument<string> Arg(string name, string description) => new(name) { Description = description };

    private static Argument<int> IntArg(string name, string description) => new(name) { Description = description };

    private static string Seg(string value) => Uri.EscapeDataString(value);

    // ------------------------------------------------------------------------------------------------------------
    // login, logout, profiles
    // ------------------------------------------------------------------------------------------------------------

    private Command Login()
    {
        var command = Cmd("login", "Sign in and save the credential in a profile (the config directory's profiles.json, mode 600)",
            "mdsctl login --url http://127.0.0.1:5080 --email admin@mds.local          # asks for the password",
            "echo \"$PASSWORD\" | mdsctl login --url https://mds.example.com --email me@example.com --password-stdin",
            "mdsctl login --url https://mds.example.com --api-key mds_0a1b2c3d_… --profile prod");
        var email = new Option<string?>("--email", "-e") { Description = "Sign in as this user (asks for the password, or reads it with --password-stdin)" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input" };
        var apiKey = new Option<string?>("--api-key") { Description = "Use an API key instead of a password (mdsctl keys create makes one)" };
        command.Options.Add(email);
        command.Options.Add(passwordStdin);
        command.Options.Add(apiKey);
        command.Validators.Add(r =>
        {
            bool hasEmail = r.GetValue(email) is not null, hasKey = r.GetValue(apiKey) is not null;
            if (hasEmail == hasKey)
            {
                r.AddError("give either --email or --api-key.");
            }
        });
        Act(command, async (c, ct) =>
        {
            var file = c.Store.Load();
            string name = c.ProfileName(file);
            file.Profiles.TryGetValue(name, out var old);
            string url = c.UrlOption ?? c.Env.Variables("MDS_URL") ?? old?.Url
                ?? throw new UsageException("give the backend's URL with --url (e.g. --url http://127.0.0.1:5080)");
            var baseUrl = CliContext.ParseUrl(url);
            var profile = new Profile { Url = baseUrl.ToString().TrimEnd('/') };
            if (c.Value(apiKey) is { } key)
            {
                using var api = new ApiClient(baseUrl, key, c.Env.Handler);
                await api.GetAsync<List<ApiKeyDto>>("api/keys", ct); // proves the key works
                profile.ApiKey = key;
            }
            else
            {
                string address = c.Value(email)!;
                string password = c.Value(passwordStdin) || !c.Env.Interactive
                    ? (await c.Env.In.ReadLineAsync(ct))?.TrimEnd('\r', '\n') ?? ""
                    : c.Console.Prompt(new TextPrompt<string>("Password:").Secret());
                if (password.Length == 0)
                {
                    throw new UsageException("no password given");
                }

                using var api = new ApiClient(baseUrl, null, c.Env.Handler);
                var token = await api.SendJsonAsync<TokenResponse>(HttpMethod.Post, "api/auth/token", new TokenRequest(address, password), ct);
                profile.AccessToken = token.AccessToken;
                profile.ExpiresAt = token.ExpiresAt;
                profile.Email = token.Email;
                profile.Roles = token.Roles;
            }

            file.Profiles[name] = profile;
            file.Current ??= name;
            if (c.ProfileOption is null)
            {
                file.Current = name;
            }

            c.Store.Save(file);
            string who = profile.Email is null ? "an API key" : $"{profile.Email} ({Output.Join(profile.Roles)}), until {Output.Time(profile.ExpiresAt)}";
            c.Line($"Logged in to {profile.Url} with {who}; saved as profile '{name}' in {c.Store.FilePath}.");
        });
        return command;
    }

    private Command Logout()
    {
        var command = Cmd("logout", "Forget a profile's credential (the current profile, or --profile)", "mdsctl logout", "mdsctl logout --profile prod");
        Act(command, async (c, ct) =>
        {
            var file = c.Store.Load();
            string name = c.ProfileName(file);
            if (!file.Profiles.TryGetValue(name, out var profile))
            {
                throw new CliException($"there is no profile '{name}'");
            }

            if (profile.AccessToken is not null && (profile.ExpiresAt is null || profile.ExpiresAt > DateTimeOffset.UtcNow))
            {
                try
                {
                    using var api = new ApiClient(CliContext.ParseUrl(profile.Url), profile.AccessToken, c.Env.Handler);
                    (await api.SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/auth/signout"), ct)).Dispose();
                }
                catch (CliException)
                {
                    // The profile is forgotten anyway; the token runs out on its own.
                }
            }

            file.Profiles.Remove(name);
            if (file.Current == name)
            {
                file.Current = file.Profiles.Keys.Order(StringComparer.Ordinal).FirstOrDefault();
            }

            c.Store.Save(file);
            c.Line($"Profile '{name}' removed.");
        });
        return command;
    }

    private Command Profiles()
    {
        var command = Cmd("profiles", "List the saved profiles (never their secrets)", "mdsctl profiles", "mdsctl profiles use prod");
        Act(command, (c, _) =>
        {
            var file = c.Store.Load();
            var rows = file.Profiles.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new
            {
                name = p.Key,
                current = p.Key == file.Current,
                url = p.Value.Url,
                auth = p.Value.ApiKey is not null ? "api-key " + KeyPrefix(p.Value.ApiKey) : p.Value.Email is null ? "none" : "password",
                user = p.Value.Email,
                expiresAt = p.Value.ApiKey is null ? p.Value.ExpiresAt : null,
            }).ToList();
            c.Print(rows, () =>
            {
                var table = Output.Table("", "PROFILE", "URL", "AUTH", "USER", "EXPIRES");
                foreach (var r in rows)
                {
                    table.Row(r.current ? "*" : "", r.name, r.url, r.auth, r.user, r.expiresAt);
                }

                c.Console.Write(table);
                c.Line($"({c.Store.FilePath})");
            });
            return Task.CompletedTask;
        });

        var use = Cmd("use", "Make a profile the current one", "mdsctl profiles use prod");
        var name = Arg("name", "The profile");
        use.Arguments.Add(name);
        Act(use, (c, _) =>
        {
            var file = c.Store.Load();
            string n = c.Value(name);
            if (!file.Profiles.ContainsKey(n))
            {
                throw new CliException($"there is no profile '{n}' (mdsctl profiles lists them)");
            }

            file.Current = n;
            c.Store.Save(file);
            c.Line($"Current profile: {n}.");
            return Task.CompletedTask;
        });
        command.Subcommands.Add(use);
        return command;
    }

    private static string KeyPrefix(string key)
    {
        int second = key.IndexOf('_', 4);
        return second > 0 ? key[..second] : "…";
    }

    // ------------------------------------------------------------------------------------------------------------
    // keys
    // ------------------------------------------------------------------------------------------------------------

    private Command Keys()
    {
        var keys = Cmd("keys", "Your API keys: create, list, revoke");
        var create = Cmd("create", "Create an API key; it is printed once", "mdsctl keys create ci", "mdsctl keys create ci --expires 2027-01-01");
        var name = Arg("name", "A name for the key");
        var expires = new Option<DateTimeOffset?>("--expires") { Description = "When the key stops working (ISO 8601)" };
        create.Arguments.Add(name);
        create.Options.Add(expires);
        Act(create, async (c, ct) =>
        {
            using var api = c.Api();
            var key = await api.SendJsonAsync<CreatedApiKey>(HttpMethod.Post, "api/keys", new CreateApiKeyRequest(c.Value(name), c.Value(expires)), ct);
            c.Print(key, () =>
            {
                c.Line($"Created API key {key.Id} '{key.Name}' ({key.Prefix}); it is shown only now:");
                c.Line(key.Key);
            });
        });

        var list = Cmd("list", "Your API keys (never the keys themselves)", "mdsctl keys list");
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var items = await api.GetAsync<List<ApiKeyDto>>("api/keys", ct);
            c.Print(items, () =>
            {
                var table = Output.Table("ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES");
                foreach (var k in items)
                {
                    table.Row(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt, k.ExpiresAt);
                }

                c.Console.Write(table);
            });
        });

        var revoke = Cmd("revoke", "Revoke one of your API keys", "mdsctl keys revoke 12");
        var id = new Argument<long>("id") { Description = "The key's id (mdsctl keys list)" };
        revoke.Arguments.Add(id);
        Act(revoke, async (c, ct) =>
        {
            using var api = c.Api();
            (await api.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/keys/{c.Value(id)}"), ct)).Dispose();
            c.Line($"API key {c.Value(id)} revoked.");
        });

        keys.Subcommands.Add(create);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        return keys;
    }

    private static HttpContent JsonBody(object value) => JsonContent.Create(value, value.GetType(), options: ApiClient.Json);
}
