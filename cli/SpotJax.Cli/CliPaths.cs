namespace SpotJax.Cli;

/// <summary>Where the command line keeps its own files: <c>$SPOTJAX_HOME</c>, by default <c>~/.spotjax</c>.</summary>
public static class CliPaths
{
    public const string HomeVariable = "SPOTJAX_HOME";

    /// <summary>The state folder of <c>spotjax local up</c> when <c>--state-dir</c> is not given.</summary>
    public const string LocalDirVariable = "SPOTJAX_LOCAL_DIR";

    public static string Home =>
        Environment.GetEnvironmentVariable(HomeVariable) is { Length: > 0 } home
            ? Path.GetFullPath(home)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".spotjax");

    /// <summary><c>$SPOTJAX_LOCAL_DIR</c>, else <c>~/.spotjax/local</c>: one local deployment per user, found from any folder.</summary>
    public static string DefaultLocalStateDir =>
        Environment.GetEnvironmentVariable(LocalDirVariable) is { Length: > 0 } dir ? Path.GetFullPath(dir) : Path.Combine(Home, "local");

    /// <summary>The settings <c>spotjax setup --fix</c> writes.</summary>
    public static string ConfigFile => Path.Combine(Home, "config.json");
}
