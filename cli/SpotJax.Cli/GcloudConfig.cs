namespace SpotJax.Cli;

/// <summary>
/// What gcloud has configured, read from its files rather than by running it: reading is instant
/// and never touches the network (the project, the Application Default Credentials file).
/// </summary>
public static class GcloudConfig
{
    public const string CredentialsVariable = "GOOGLE_APPLICATION_CREDENTIALS";

    /// <summary>gcloud's configuration folder: <c>$CLOUDSDK_CONFIG</c>, else <c>~/.config/gcloud</c>.</summary>
    public static string Folder =>
        Environment.GetEnvironmentVariable("CLOUDSDK_CONFIG") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "gcloud");

    /// <summary>The gcloud executable on PATH, or null.</summary>
    public static string? Executable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "gcloud"))
            .FirstOrDefault(File.Exists);

    /// <summary>
    /// The Application Default Credentials file the Google libraries will use
    /// (<c>$GOOGLE_APPLICATION_CREDENTIALS</c>, else gcloud's <c>application_default_credentials.json</c>), or null.
    /// </summary>
    public static string? CredentialsFile()
    {
        var path = Environment.GetEnvironmentVariable(CredentialsVariable) is { Length: > 0 } explicitPath
            ? explicitPath
            : Path.Combine(Folder, "application_default_credentials.json");
        return File.Exists(path) ? path : null;
    }

    /// <summary>The project of gcloud's active configuration (<c>gcloud config set project</c>), or null.</summary>
    public static string? Project()
    {
        if (Environment.GetEnvironmentVariable("CLOUDSDK_CORE_PROJECT") is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        var name = Environment.GetEnvironmentVariable("CLOUDSDK_ACTIVE_CONFIG_NAME") is { Length: > 0 } active
            ? active
            : ReadTrimmed(Path.Combine(Folder, "active_config")) ?? "default";
        var file = Path.Combine(Folder, "configurations", $"config_{name}");
        if (!File.Exists(file))
        {
            return null;
        }

        var section = "";
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Trim();
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                section = line[1..^1].Trim();
            }
            else if (section == "core" && line.Split('=', 2) is [var key, var value] && key.Trim() == "project" && value.Trim().Length > 0)
            {
                return value.Trim();
            }
        }

        return null;
    }

    private static string? ReadTrimmed(string path) => File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } text ? text : null;
}
