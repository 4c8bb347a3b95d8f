using System.Diagnostics;
using SpotJax.Core;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// Runs a real command line tool (terraform, gcloud) the way a user's shell would, but sealed off:
/// every proxy variable points at a loopback port where nothing listens, so a tool that tries to
/// reach the network fails at once instead of reaching it.
/// </summary>
internal static class Tool
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    /// <summary>A loopback port where nothing listens: the proxy of every tool run here.</summary>
    public static int ClosedPort { get; } = LoopbackPorts.Choose();

    public static string ClosedProxy { get; } = $"http://127.0.0.1:{ClosedPort}";

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    /// <summary>The tool's path; fails the test with what to do when it is not installed.</summary>
    public static string Require(string name)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
        Assert.True(found is not null, $"{name} is not on PATH, and these tests run the real {name}: `bash tests/prerequisites.sh` says how to install it.");
        return found!;
    }

    public static async Task<Result> RunAsync(string name, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo(Require(name))
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var variable in new[] { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy" })
        {
            start.Environment[variable] = ClosedProxy;
        }

        start.Environment["NO_PROXY"] = "";
        start.Environment["no_proxy"] = "";
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start");
        process.StandardInput.Close();
        using var patience = new CancellationTokenSource(Patience);
        var stdout = process.StandardOutput.ReadToEndAsync(patience.Token);
        var stderr = process.StandardError.ReadToEndAsync(patience.Token);
        try
        {
            await process.WaitForExitAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} {string.Join(' ', start.ArgumentList)} ran for more than {Patience}");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
