namespace SpotJax.Contracts;

/// <summary>
/// The stand-in <c>uv</c> of <c>tests/tools/uv</c>: PyPI cannot be reached here, so tests put this script
/// on the agent's PATH. It records each call to <c>SPOTJAX_UV_RECORD</c>, makes venvs with
/// <c>python3 -m venv</c> and installs offline from <c>SPOTJAX_UV_WHEELHOUSE</c>.
/// </summary>
public static class StandInUv
{
    /// <summary>The folder holding the stand-in <c>uv</c>.</summary>
    public static string Folder { get; } = Path.Combine(Repository.Root, "tests", "tools", "uv");

    /// <summary>
    /// The agent environment that finds the stand-in first on the PATH, installs from
    /// <paramref name="wheelhouse"/> and records its calls in <paramref name="record"/> (each when given).
    /// </summary>
    public static Dictionary<string, string> Environment(string? wheelhouse = null, string? record = null)
    {
        var env = new Dictionary<string, string>
        {
            ["PATH"] = $"{Folder}{Path.PathSeparator}{System.Environment.GetEnvironmentVariable("PATH")}",
        };
        if (wheelhouse is not null)
        {
            env["SPOTJAX_UV_WHEELHOUSE"] = wheelhouse;
        }

        if (record is not null)
        {
            env["SPOTJAX_UV_RECORD"] = record;
        }

        return env;
    }
}
