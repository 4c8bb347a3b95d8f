using System.Text.Json;

namespace SpotJax.Cli;

/// <summary>
/// The deployment the commands use when the command line and the environment name none
/// (<c>~/.spotjax/config.json</c>, written by <c>spotjax setup --fix</c>).
/// </summary>
/// <param name="Target"><c>local</c> or <c>google</c>.</param>
/// <param name="Project">The Google Cloud project.</param>
/// <param name="Bucket">The control bucket.</param>
/// <param name="StateDir">The local state folder, when not the default.</param>
public sealed record CliConfig(string? Target = null, string? Project = null, string? Bucket = null, string? StateDir = null)
{
    public const string Local = "local";
    public const string Google = "google";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The saved settings, or empty ones when there is no file.</summary>
    /// <exception cref="CliException">The file is not valid JSON.</exception>
    public static CliConfig Load()
    {
        var path = CliPaths.ConfigFile;
        if (!File.Exists(path))
        {
            return new CliConfig();
        }

        try
        {
            return JsonSerializer.Deserialize<CliConfig>(File.ReadAllText(path), Json) ?? new CliConfig();
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Usage, $"{path} is not valid: {e.Message}; fix it or run `spotjax setup --fix`");
        }
    }

    public void Save()
    {
        Directory.CreateDirectory(CliPaths.Home);
        File.WriteAllText(CliPaths.ConfigFile, JsonSerializer.Serialize(this, Json) + "\n");
    }
}
