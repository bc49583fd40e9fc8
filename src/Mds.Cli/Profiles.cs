using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mds.Cli;

/// <summary>One saved connection: the backend's URL and a credential (an API key, or a signed-in user's access token).</summary>
internal sealed class Profile
{
    public string Url { get; set; } = "";
    public string? ApiKey { get; set; }
    public string? AccessToken { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public string? Email { get; set; }
    public IReadOnlyList<string>? Roles { get; set; }
}

/// <summary>The profiles file: <c>profiles.json</c> under the user's config directory, readable by its owner only (mode 600).</summary>
internal sealed class ProfileFile
{
    public string? Current { get; set; }
    public Dictionary<string, Profile> Profiles { get; set; } = new(StringComparer.Ordinal);
}

internal sealed class ProfileStore(string directory)
{
    public const string DefaultName = "default";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Directory { get; } = directory;
    public string FilePath => Path.Combine(Directory, "profiles.json");

    /// <summary><c>$XDG_CONFIG_HOME/mds</c>, or <c>~/.config/mds</c>.</summary>
    public static string DefaultDirectory(Func<string, string?> env)
    {
        string? xdg = env("XDG_CONFIG_HOME");
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : Path.Combine(env("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "mds");
    }

    public ProfileFile Load()
    {
        if (!File.Exists(FilePath))
        {
            return new ProfileFile();
        }

        try
        {
            var file = JsonSerializer.Deserialize<ProfileFile>(File.ReadAllText(FilePath), Json) ?? new ProfileFile();
            file.Profiles = new Dictionary<string, Profile>(file.Profiles, StringComparer.Ordinal);
            return file;
        }
        catch (JsonException e)
        {
            throw new CliException($"{FilePath} is not a valid profiles file ({e.Message}); fix or delete it");
        }
    }

    /// <summary>Writes the file with mode 600 (its directory 700) through a temporary file, so a reader never sees half of it.</summary>
    public void Save(ProfileFile file)
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        string temp = FilePath + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, file, Json);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, FilePath, overwrite: true);
    }
}
