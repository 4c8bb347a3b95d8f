using System.Diagnostics;
using System.Reflection;
using SpotJax.Contracts;

namespace SpotJax.Tests.Cli;

/// <summary>The README's "Install the command line": the CLI project packed as a .NET tool and installed.</summary>
public sealed class ToolInstallTests : IDisposable
{
    private static readonly TimeSpan PackPatience = TimeSpan.FromMinutes(10);
    private readonly string root = Directory.CreateTempSubdirectory("spotjax-tool-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task PackAndInstall_IntoToolPath_SpotjaxVersionPrintsThePackageVersion()
    {
        var expected = typeof(SpotJax.Cli.SpotJaxCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var feed = Path.Combine(root, "nupkg");
        var tools = Path.Combine(root, "tools");

        // Every build output goes under the temporary folder (--artifacts-path), never into the
        // repository's obj/ and bin/ that the running test suite was built into; one MSBuild node, no
        // node left running afterwards.
        var pack = await RunAsync(
            Repository.Root,
            new Dictionary<string, string>(),
            "pack", "cli/SpotJax.Cli", "--output", feed, "--artifacts-path", Path.Combine(root, "artifacts"), "-maxcpucount:1", "-nodeReuse:false");
        Assert.True(pack.ExitCode == 0, pack.Output);
        Assert.Equal([$"SpotJax.Cli.{expected}.nupkg"], Directory.GetFiles(feed).Select(Path.GetFileName));

        // A package cache of its own: an earlier install of the same version must not stand in for this package.
        var install = await RunAsync(
            root,
            new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(root, "packages") },
            "tool", "install", "--tool-path", tools, "SpotJax.Cli", "--add-source", feed, "--ignore-failed-sources");
        Assert.True(install.ExitCode == 0, install.Output);

        var version = await RunAsync(root, new Dictionary<string, string>(), Path.Combine(tools, "spotjax"), "--version");
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Equal(expected, version.Output.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+$", expected);
    }

    /// <param name="command">A program, or (when it is not a path) a <c>dotnet</c> subcommand.</param>
    private static async Task<(int ExitCode, string Output)> RunAsync(string directory, Dictionary<string, string> environment, string command, params string[] args)
    {
        var start = new ProcessStartInfo(Path.IsPathRooted(command) ? command : "dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (!Path.IsPathRooted(command))
        {
            start.ArgumentList.Add(command);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(PackPatience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"{command} {string.Join(' ', args)} did not exit within {PackPatience}:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
