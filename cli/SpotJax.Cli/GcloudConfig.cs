using SpotJax.Google.Http;

namespace SpotJax.Cli;

/// <summary>
/// What gcloud has configured, read from its files rather than by running it: reading is instant
/// and never touches the network (the project, the Application Default Credentials file).
/// </summary>
public static class GcloudConfig
{
    public const string CredentialsVariable = "GOOGLE_APPLICATION_CREDENTIALS";

    /// <summary>gcloud's configuration folder: <c>$CLOUDSDK_CONFIG</c>, else <c>~/.config/gcloud</c>.</summary>
    public static string Folder => FolderIn(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Application Default Credentials whose calls with a person's credentials carry gcloud's quota project when
    /// neither <c>GOOGLE_CLOUD_QUOTA_PROJECT</c> nor the credentials file names one.
    /// </summary>
    public static ApplicationDefaultTokenSource TokenSource() => new(userQuotaProject: QuotaProject);

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
    public static string? Project() => Project(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The quota project of gcloud's active configuration (<c>gcloud config set billing/quota_project</c>, or
    /// <c>$CLOUDSDK_BILLING_QUOTA_PROJECT</c>), or null: <c>CURRENT_PROJECT</c> stands for the configured project and
    /// <c>LEGACY</c> for none (gcloud's special values, as its properties reference describes them; not checked
    /// against a real gcloud here).
    /// </summary>
    public static string? QuotaProject() => QuotaProject(Environment.GetEnvironmentVariable);

    /// <summary><see cref="QuotaProject()"/> with the variables read through <paramref name="environment"/>.</summary>
    public static string? QuotaProject(Func<string, string?> environment) =>
        Property(environment, "CLOUDSDK_BILLING_QUOTA_PROJECT", "billing", "quota_project") switch
        {
            "CURRENT_PROJECT" => Project(environment),
            "LEGACY" => null,
            var project => project,
        };

    private static string? Project(Func<string, string?> environment) => Property(environment, "CLOUDSDK_CORE_PROJECT", "core", "project");

    private static string FolderIn(Func<string, string?> environment) =>
        environment("CLOUDSDK_CONFIG") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "gcloud");

    private static string? Property(Func<string, string?> environment, string variable, string wantedSection, string wantedKey)
    {
        if (environment(variable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        var folder = FolderIn(environment);
        var name = environment("CLOUDSDK_ACTIVE_CONFIG_NAME") is { Length: > 0 } active
            ? active
            : ReadTrimmed(Path.Combine(folder, "active_config")) ?? "default";
        var file = Path.Combine(folder, "configurations", $"config_{name}");
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
            else if (section == wantedSection && line.Split('=', 2) is [var key, var value] && key.Trim() == wantedKey && value.Trim().Length > 0)
            {
                return value.Trim();
            }
        }

        return null;
    }

    private static string? ReadTrimmed(string path) => File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } text ? text : null;
}
