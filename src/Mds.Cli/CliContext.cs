using System.CommandLine;
using Spectre.Console;

namespace Mds.Cli;

/// <summary>Where the CLI reads and writes: streams, environment, config directory (tests substitute each).</summary>
internal sealed class CliEnvironment
{
    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Error { get; init; } = Console.Error;
    public TextReader In { get; init; } = Console.In;
    public Func<string, string?> Variables { get; init; } = Environment.GetEnvironmentVariable;
    public string? ConfigDirectory { get; init; }
    public bool Interactive { get; init; } = !Console.IsOutputRedirected;
    public HttpMessageHandler? Handler { get; init; }
}

/// <summary>What a command's action works with: the parsed global options, the console, the profile and the API.</summary>
internal sealed class CliContext(ParseResult parse, CliEnvironment env, GlobalOptions globals)
{
    public ParseResult Parse { get; } = parse;
    public CliEnvironment Env { get; } = env;
    public OutputFormat Format { get; } = parse.GetValue(globals.Output);
    public string? ProfileOption { get; } = parse.GetValue(globals.Profile);
    public string? UrlOption { get; } = parse.GetValue(globals.Url);
    public ProfileStore Store { get; } = new(env.ConfigDirectory ?? ProfileStore.DefaultDirectory(env.Variables));

    public IAnsiConsole Console { get; } = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(env.Out),
        Ansi = env.Interactive ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = env.Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = env.Interactive ? InteractionSupport.Detect : InteractionSupport.No,
    });

    public T Value<T>(Option<T> option) => Parse.GetValue(option)!;

    public T Value<T>(Argument<T> argument) => Parse.GetValue(argument)!;

    /// <summary>The profile named by <c>--profile</c>, <c>MDS_PROFILE</c>, or the file's current one.</summary>
    public string ProfileName(ProfileFile file) =>
        ProfileOption ?? Env.Variables("MDS_PROFILE") ?? file.Current ?? ProfileStore.DefaultName;

    /// <summary>
    /// A client for the backend: the URL from <c>--url</c>, <c>MDS_URL</c> or the profile; the credential from
    /// <c>MDS_TOKEN</c> / <c>MDS_API_KEY</c> or the profile.
    /// </summary>
    public ApiClient Api()
    {
        var file = Store.Load();
        string name = ProfileName(file);
        file.Profiles.TryGetValue(name, out var profile);
        string? url = UrlOption ?? Env.Variables("MDS_URL") ?? profile?.Url;
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new CliException($"no backend URL: profile '{name}' is not logged in; run 'mdsctl login --url URL …' or pass --url");
        }

        string? credential = NonEmpty(Env.Variables("MDS_TOKEN")) ?? NonEmpty(Env.Variables("MDS_API_KEY"));
        if (credential is null && profile is not null)
        {
            if (profile.ApiKey is not null)
            {
                credential = profile.ApiKey;
            }
            else if (profile.AccessToken is not null)
            {
                if (profile.ExpiresAt is { } expires && expires <= DateTimeOffset.UtcNow)
                {
                    throw new CliException($"the session of profile '{name}' ({profile.Email}) expired at {Output.Time(expires)}; run 'mdsctl login' again");
                }

                credential = profile.AccessToken;
            }
        }

        return new ApiClient(ParseUrl(url), credential, Env.Handler);
    }

    public static Uri ParseUrl(string url)
    {
        if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"'{url}' is not an http(s) URL");
        }

        return uri;
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>Prints <paramref name="value"/> as JSON or YAML, or calls <paramref name="table"/> for the table format.</summary>
    public void Print(object? value, Action table)
    {
        switch (Format)
        {
            case OutputFormat.Json:
                Env.Out.WriteLine(Output.Json(value));
                break;
            case OutputFormat.Yaml:
                Env.Out.WriteLine(Output.Yaml(value));
                break;
            default:
                table();
                break;
        }
    }

    public void Line(string text) => Env.Out.WriteLine(text);
}
