using System.Diagnostics;
using SpotJax.Contracts;

namespace SpotJax.Tests.Setup;

/// <summary>
/// <c>tests/prerequisites.sh</c>, the first half of the README's test command: idempotent where everything is
/// installed, and a list of what to install (not an install attempt, not a test run) where it cannot install.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // a bash script for Debian machines
public sealed class PrerequisitesScriptTests : IDisposable
{
    private static readonly string Script = Path.Combine(Repository.Root, "tests", "prerequisites.sh");
    private readonly string bin = Directory.CreateTempSubdirectory("spotjax-prereq-").FullName;

    public void Dispose() => Directory.Delete(bin, recursive: true);

    [Fact]
    public async Task Run_AsUnprivilegedUserWithToolsMissing_ListsEachWithItsInstallCommandAndExitsOne()
    {
        // Only what the script needs to run at all is on the PATH: python3, node, java, gcloud, terraform,
        // sudo and apt-get are all missing for it, and `nobody` is not root.
        foreach (var tool in new[] { "dirname", "id" })
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool), Which(tool));
        }
        // A copy, since `nobody` may not be able to read the clone (a CI clone under a 0700 mktemp folder).
        var script = Path.Combine(bin, "prerequisites.sh");
        File.Copy(Script, script);
        File.SetUnixFileMode(bin, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);

        var (exit, output, error) = await RunAsync("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", script],
            new() { ["PATH"] = bin, ["HOME"] = bin });

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.DoesNotContain("installing", output + error, StringComparison.Ordinal);
        Assert.Contains("cannot install them here", error, StringComparison.Ordinal);
        Assert.Contains("- python3: apt-get install -y --no-install-recommends python3-venv", error, StringComparison.Ordinal);
        Assert.Contains("- node and npm (Node.js 20 or later): apt-get install -y --no-install-recommends nodejs npm", error, StringComparison.Ordinal);
        Assert.Contains("- java (17 or later, for the emulators): apt-get install -y --no-install-recommends openjdk-17-jre-headless", error, StringComparison.Ordinal);
        Assert.Contains("- gcloud (the Google Cloud CLI): install the Google Cloud CLI", error, StringComparison.Ordinal);
        Assert.Contains("- terraform: install Terraform", error, StringComparison.Ordinal);
        Assert.Contains("Debian packages need root", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_EverythingAlreadyInstalled_InstallsNothingAndSucceeds()
    {
        // The suite runs after this script in the README's test command, so here everything is installed.
        var (exit, output, error) = await RunAsync("/bin/bash", [Script], []);

        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        Assert.Equal("prerequisites: all present", output.Trim());
    }

    private static string Which(string tool) =>
        new[] { "/usr/bin", "/bin" }.Select(d => Path.Combine(d, tool)).First(File.Exists);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string file, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        if (environment.Count > 0)
        {
            start.Environment.Clear();
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }
}
